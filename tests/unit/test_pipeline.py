"""Which (stage, date) runs a backfill needs, and the order it may run them in."""

from datetime import date, datetime, timedelta, timezone

from jobs.pipeline.planning import StageRun, dependencies, is_done, plan
from jobs.pipeline.registry import DAILY

D1, D2, D3 = date(2024, 10, 26), date(2024, 10, 27), date(2024, 10, 28)
T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)


def finished(stage: str, day: date, minute: int, status: str = "ok") -> StageRun:
    """A stage record that started at T0 + ``minute`` and took 30 s."""
    started = T0 + timedelta(minutes=minute)
    return StageRun(stage, day, started, started + timedelta(seconds=30), status)


def complete(day: date, first_minute: int = 0) -> dict:
    """Every daily stage done for ``day``, one a minute, in pipeline order."""
    return {(stage, day): finished(stage, day, first_minute + n) for n, stage in enumerate(DAILY)}


def test_a_fresh_range_runs_every_stage_of_every_date_in_order() -> None:
    jobs = plan(DAILY, [D2, D1], runs={})
    assert jobs == [(stage, day) for day in (D1, D2) for stage in DAILY]


def test_complete_dates_are_skipped_unless_forced() -> None:
    runs = complete(D1)
    assert plan(DAILY, [D1, D2], runs) == [(stage, D2) for stage in DAILY]
    assert len(plan(DAILY, [D1, D2], runs, force=True)) == 2 * len(DAILY)


def test_an_interrupted_date_resumes_at_its_first_unfinished_stage() -> None:
    runs = {key: run for key, run in complete(D1).items() if key[0] in ("extract", "validate")}
    runs[("aggregate", D1)] = finished("aggregate", D1, 5, status="interrupted")
    assert plan(DAILY, [D1], runs) == [(stage, D1) for stage in ("aggregate", "index", "publish", "report")]


def test_an_upstream_rerun_makes_the_stages_after_it_stale() -> None:
    runs = complete(D1)
    runs[("validate", D1)] = finished("validate", D1, 60)  # re-validated after everything else ran
    assert not is_done("aggregate", D1, runs)
    assert is_done("extract", D1, runs)
    assert [stage for stage, _ in plan(DAILY, [D1], runs)] == ["aggregate", "index", "publish", "report"]


def test_late_rows_in_cassandra_make_the_extract_stale() -> None:
    runs = complete(D1)
    late = T0 + timedelta(hours=2)
    assert plan(DAILY, [D1], runs, cassandra_written_at=lambda day: late) == [(s, D1) for s in DAILY]
    early = T0 - timedelta(hours=2)
    assert plan(DAILY, [D1], runs, cassandra_written_at=lambda day: early) == []


def test_revalidating_a_date_revalidates_the_dates_after_it() -> None:
    """Like-day estimates of D2 and D3 read D1's silver rows."""
    runs = {**complete(D1), **complete(D2, 10), **complete(D3, 20)}
    runs[("extract", D1)] = finished("extract", D1, 90)
    jobs = plan(DAILY, [D1, D2, D3], runs)
    assert ("validate", D2) in jobs and ("aggregate", D3) in jobs
    assert ("extract", D2) not in jobs and ("index", D3) in jobs  # index reads the re-aggregated D3


def test_vee_and_aggregates_wait_for_every_earlier_date_other_stages_for_the_first() -> None:
    graph = dependencies(plan(DAILY, [D1, D2, D3], runs={}))
    assert graph[("extract", D1)] == set()
    assert graph[("extract", D3)] == {("extract", D1)}  # the first write creates the tables
    assert graph[("validate", D3)] == {("extract", D3), ("validate", D2)}
    assert graph[("aggregate", D2)] == {("validate", D2), ("aggregate", D1)}
    assert graph[("index", D3)] == {("aggregate", D3), ("index", D1)}
    assert graph[("report", D1)] == {("index", D1), ("publish", D1)}


def test_a_skipped_earlier_date_is_no_prerequisite() -> None:
    graph = dependencies(plan(DAILY, [D1, D2], runs=complete(D1)))
    assert graph[("validate", D2)] == {("extract", D2)}

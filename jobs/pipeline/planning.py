"""Which (stage, date) runs a range still needs, from the stages' latest records in `_runs`.

A run is done when its stage record is ok, started after its upstream stages finished, and
(extract) after the day's last write into Cassandra; everything downstream of a run that is
not done runs again. ``dependencies`` orders the runs of a plan for the runner.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from jobs.pipeline.registry import DAILY, READS_EARLIER_DATES, UPSTREAM


@dataclass(frozen=True)
class StageRun:
    """The latest stage record of one (stage, date) in `_runs`."""

    stage: str
    date: date
    started_at: datetime
    finished_at: datetime
    status: str


Runs = dict[tuple[str, date], StageRun]


Job = tuple[str, date]


def is_done(stage: str, day: date, runs: Runs, cassandra_written_at: datetime | None = None) -> bool:
    """True when ``stage`` last ran ok for ``day`` after its inputs last changed."""
    run = runs.get((stage, day))
    if run is None or run.status != "ok":
        return False
    for upstream in UPSTREAM[stage]:
        before = runs.get((upstream, day))
        if before is not None and before.finished_at > run.started_at:
            return False
    return not (stage == "extract" and cassandra_written_at is not None and cassandra_written_at > run.started_at)


def plan(stages: Sequence[str], days: Sequence[date], runs: Runs,
         cassandra_written_at: Callable[[date], datetime | None] = lambda day: None,
         force: bool = False) -> list[Job]:
    """The (stage, date) runs a range needs, in pipeline order per date and dates in order.

    A run is needed when it is not done, when a stage upstream of it runs for the same date,
    or, for stages that read earlier dates, when the same stage runs for an earlier date of
    the range. ``force`` runs everything.
    """
    ordered = [stage for stage in DAILY if stage in stages]
    needed: list[Job] = []
    earlier_runs: set[str] = set()
    for day in sorted(days):
        running: set[str] = set()
        written_at = cassandra_written_at(day) if "extract" in ordered and not force else None
        for stage in ordered:
            if (force or not is_done(stage, day, runs, written_at) or running.intersection(UPSTREAM[stage])
                    or (stage in READS_EARLIER_DATES and stage in earlier_runs)):
                running.add(stage)
                needed.append((stage, day))
        earlier_runs |= running
    return needed


def dependencies(jobs: Sequence[Job]) -> dict[Job, set[Job]]:
    """Each run's prerequisites among ``jobs``: its upstream stages on the same date; for
    stages that read earlier dates, the same stage on the latest earlier date of the plan;
    for the others, the same stage on the plan's first date. A Delta table is created by its
    first write, and two first writes into an empty directory conflict
    (ProtocolChangedException), so each stage's first date runs before its others."""
    planned = set(jobs)
    graph: dict[Job, set[Job]] = {}
    for stage, day in jobs:
        needs = {(upstream, day) for upstream in UPSTREAM[stage] if (upstream, day) in planned}
        earlier = [d for s, d in jobs if s == stage and d < day]
        if earlier:
            needs.add((stage, max(earlier) if stage in READS_EARLIER_DATES else min(earlier)))
        graph[(stage, day)] = needs
    return graph

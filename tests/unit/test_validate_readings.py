"""VEE rules and estimation on hand-written rows: one case per rule, then the estimates."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pyspark.sql import DataFrame, SparkSession

from jobs.runtime.config import Settings, VeeConf
from jobs.transforms.vee import VeeCounts, check_readings, estimate_gaps, expected_intervals, quarantine_rows, silver_rows
from schemas import vee
from builders.vee import (DAY, METERS, bronze_frame, catalogue_frame, clean_day, interval_start, kwh, meter,
                                reading, silver_frame)

PASSED = (vee.VALID, vee.PASSED)


@dataclass
class Outcome:
    """Silver and quarantine rows by (meter_id, ts, ingest_id): (status, rule_id, kwh_import)."""

    silver: dict[tuple, tuple]
    quarantine: dict[tuple, tuple]


def run_vee(spark: SparkSession, rows: list[dict], conf: VeeConf, catalogue: DataFrame | None = None,
            history: DataFrame | None = None) -> Outcome:
    catalogue = catalogue if catalogue is not None else catalogue_frame(spark)
    checked = check_readings(bronze_frame(spark, rows), catalogue, conf).cache()
    estimated = estimate_gaps(checked, catalogue, history, DAY, conf)
    silver = {(r.meter_id, r.ts, r.ingest_id): (r.status, r.rule_id, r.kwh_import)
              for r in silver_rows(checked, estimated).collect()}
    quarantine = {(r.meter_id, r.ts, r.ingest_id): (vee.REJECTED, r.rule_id, r.kwh_import)
                  for r in quarantine_rows(checked).collect()}
    checked.unpersist()
    return Outcome(silver, quarantine)


@pytest.fixture(scope="module")
def conf(settings: Settings) -> VeeConf:
    return settings.vee.model_copy(deep=True)


def ts(k: int, day: date = DAY):  # noqa: ANN201 - a datetime
    return interval_start(day, k)


def ingest(meter_id: str, k: int, day: date = DAY) -> str:
    return f"test:{meter_id}:{day}:{k}"


def estimate_id(conf: VeeConf, meter_id: str, k: int) -> str:
    return f"vee:{conf.ruleset_version}:{meter_id}:{ts(k).isoformat()}Z"


def replace_rows(rows: list[dict], meter_id: str, ks: range | list[int], **values: object) -> list[dict]:
    wanted = set(ks)
    out = []
    for row in rows:
        k = int(row["ingest_id"].rsplit(":", 1)[1])
        out.append({**row, **values} if row["meter_id"] == meter_id and k in wanted else row)
    return out


def drop_rows(rows: list[dict], meter_id: str, ks: range | list[int]) -> list[dict]:
    wanted = {ingest(meter_id, k) for k in ks}
    return [row for row in rows if row["ingest_id"] not in wanted]


@dataclass(frozen=True)
class RuleCase:
    """A clean day of METERS, changed by ``change``; ``silver`` and ``quarantine`` give the
    rows the rule must mark, keyed (meter_id, k, ingest_id or None for an estimate), as
    (status, rule_id); every other silver row must stay VALID with no rule."""

    change: Callable[[list[dict]], list[dict]]
    silver: dict[tuple, tuple] = field(default_factory=dict)
    quarantine: dict[tuple, tuple] = field(default_factory=dict)
    catalogue: list[dict] | None = None


def _copy(rows: list[dict], meter_id: str, k: int, tag: str, **values: object) -> list[dict]:
    original = next(r for r in rows if r["ingest_id"] == ingest(meter_id, k))
    return [*rows, {**original, "ingest_id": f"{original['ingest_id']}:{tag}",
                    "received_at": original["received_at"] + timedelta(hours=1), **values}]


K_SPIKE, K_LATE = 50, 90
RULE_CASES = {
    "V01 missing intervals are estimated": RuleCase(
        lambda rows: drop_rows(rows, "m-1", [10, 11]),
        silver={("m-1", 10, None): (vee.ESTIMATED_LINEAR, vee.MISSING_INTERVAL),
                ("m-1", 11, None): (vee.ESTIMATED_LINEAR, vee.MISSING_INTERVAL)}),
    "V02 a missing day without history is left empty": RuleCase(
        lambda rows: [r for r in rows if r["meter_id"] != "m-2"]),
    "V03 exact duplicate: copy quarantined, original VALID": RuleCase(
        lambda rows: _copy(rows, "m-1", 5, "again"),
        quarantine={("m-1", 5, ingest("m-1", 5) + ":again"): (vee.REJECTED, vee.DUPLICATE_EXACT)}),
    "V04 conflicting duplicate: copy quarantined, earliest kept SUSPECT": RuleCase(
        lambda rows: _copy(rows, "m-1", 5, "other", kwh_import=Decimal("0.555")),
        silver={("m-1", 5, ingest("m-1", 5)): (vee.SUSPECT, vee.DUPLICATE_CONFLICT)},
        quarantine={("m-1", 5, ingest("m-1", 5) + ":other"): (vee.REJECTED, vee.DUPLICATE_CONFLICT)}),
    "V05 negative import is rejected and estimated": RuleCase(
        lambda rows: replace_rows(rows, "m-1", [20], kwh_import=Decimal("-0.010")),
        silver={("m-1", 20, None): (vee.ESTIMATED_LINEAR, vee.NEGATIVE_IMPORT)},
        quarantine={("m-1", 20, ingest("m-1", 20)): (vee.REJECTED, vee.NEGATIVE_IMPORT)}),
    "V05 export is never negative-checked, zero import while exporting is no streak": RuleCase(
        lambda rows: replace_rows(rows, "m-3", range(40, 56), kwh_import=Decimal("0.000"),
                                  kwh_export=Decimal("0.400"))),
    "V06 zero streak longer than 3": RuleCase(
        lambda rows: replace_rows(replace_rows(rows, "m-1", range(30, 34), kwh_import=Decimal("0.000")),
                                  "m-2", range(30, 33), kwh_import=Decimal("0.000")),
        silver={("m-1", k, ingest("m-1", k)): (vee.SUSPECT, vee.ZERO_STREAK) for k in range(30, 34)}),
    "V07 frozen value repeated 5 times, not 4": RuleCase(
        lambda rows: replace_rows(replace_rows(rows, "m-1", range(40, 45), kwh_import=Decimal("0.333")),
                                  "m-2", range(60, 64), kwh_import=Decimal("0.444")),
        silver={("m-1", k, ingest("m-1", k)): (vee.SUSPECT, vee.FROZEN_VALUE) for k in range(40, 45)}),
    "V08 spike above 2x the day's third-highest": RuleCase(
        lambda rows: replace_rows(rows, "m-1", [K_SPIKE], kwh_import=Decimal("2.000")),
        silver={("m-1", K_SPIKE, ingest("m-1", K_SPIKE)): (vee.SUSPECT, vee.SPIKE)}),
    "V08 spike near capacity on a busy meter, high only against its neighbours": RuleCase(
        lambda rows: replace_rows(replace_rows(rows, "m-1", range(60, 72), kwh_import=Decimal("1.500")),
                                  "m-1", [K_SPIKE], kwh_import=Decimal("2.400")),
        silver={("m-1", K_SPIKE, ingest("m-1", K_SPIKE)): (vee.SUSPECT, vee.SPIKE),
                **{("m-1", k, ingest("m-1", k)): (vee.SUSPECT, vee.FROZEN_VALUE) for k in range(60, 72)}}),
    "V09 interval off the grid or of another length": RuleCase(
        lambda rows: [*rows, reading("m-1", DAY, 70, ingest_id="odd:1", ts=ts(70) + timedelta(minutes=7)),
                      reading("m-2", DAY, 70, ingest_id="odd:2", interval_s=300)],
        quarantine={("m-1", 70, "odd:1"): (vee.REJECTED, vee.MISALIGNED),
                    ("m-2", 70, "odd:2"): (vee.REJECTED, vee.MISALIGNED)}),
    "V10 timestamp in the future of its receipt (and so outside the day)": RuleCase(
        lambda rows: [*rows, reading("m-1", DAY, 3, ingest_id="clock:1", ts=ts(3) + timedelta(days=40))],
        quarantine={("m-1", 3 + 40 * 96, "clock:1"): (vee.REJECTED, f"{vee.FUTURE_TIMESTAMP},{vee.OUTSIDE_DAY}")}),
    "V11 timestamp outside the partition's day": RuleCase(
        lambda rows: [*rows, reading("m-1", DAY, -1, ingest_id="yesterday:1")],
        quarantine={("m-1", -1, "yesterday:1"): (vee.REJECTED, vee.OUTSIDE_DAY)}),
    "V12 unknown meter": RuleCase(
        lambda rows: [*rows, reading("m-9", DAY, 0), reading("m-9", DAY, 1)],
        quarantine={("m-9", k, ingest("m-9", k)): (vee.REJECTED, vee.UNKNOWN_METER) for k in (0, 1)}),
    "V13 outside active dates, and never estimated": RuleCase(
        lambda rows: drop_rows(rows, "m-4", [7]),
        quarantine={("m-4", k, ingest("m-4", k)): (vee.REJECTED, vee.OUTSIDE_ACTIVE_DATES)
                    for k in range(96) if k != 7},
        catalogue=[meter("m-1"), meter("m-2"), meter("m-3"), meter("m-4", active_to=DAY - timedelta(days=1))]),
    "V14 impossible energy and power factor": RuleCase(
        lambda rows: replace_rows(replace_rows(rows, "m-1", [12], kwh_import=Decimal("9.999")),
                                  "m-2", [12], power_factor=Decimal("1.500")),
        silver={("m-1", 12, None): (vee.ESTIMATED_LINEAR, vee.IMPOSSIBLE_VALUE),
                ("m-2", 12, None): (vee.ESTIMATED_LINEAR, vee.IMPOSSIBLE_VALUE)},
        quarantine={("m-1", 12, ingest("m-1", 12)): (vee.REJECTED, vee.IMPOSSIBLE_VALUE),
                    ("m-2", 12, ingest("m-2", 12)): (vee.REJECTED, vee.IMPOSSIBLE_VALUE)}),
    "V14 a connection rated above its class's is not impossible": RuleCase(
        lambda rows: replace_rows(replace_rows(rows, "m-1", [12], kwh_import=Decimal("9.999")),
                                  "m-2", [12], kwh_import=Decimal("9.999")),
        silver={("m-1", 12, None): (vee.ESTIMATED_LINEAR, vee.IMPOSSIBLE_VALUE),
                ("m-2", 12, ingest("m-2", 12)): (vee.SUSPECT, vee.SPIKE)},  # 40 kW of a 50 kW connection
        quarantine={("m-1", 12, ingest("m-1", 12)): (vee.REJECTED, vee.IMPOSSIBLE_VALUE)},  # of 11 kW
        catalogue=[meter("m-1"), meter("m-2", capacity_kw=50.0), meter("m-3"), meter("m-4")]),
    "V15 one meter's voltage outside +-10%": RuleCase(
        lambda rows: replace_rows(rows, "m-1", [80], voltage_v=Decimal("190.0")),
        silver={("m-1", 80, ingest("m-1", 80)): (vee.SUSPECT, vee.VOLTAGE_OUT_OF_RANGE)}),
    "V16 feeder-wide sag": RuleCase(
        lambda rows: replace_rows(replace_rows(replace_rows(rows, "m-1", [81], voltage_v=Decimal("195.0")),
                                               "m-2", [81], voltage_v=Decimal("196.0")),
                                  "m-3", [81], voltage_v=Decimal("194.0")),
        silver={(m, 81, ingest(m, 81)): (vee.SUSPECT, vee.VOLTAGE_SAG) for m in ("m-1", "m-2", "m-3")}),
    "V17 feeder-wide swell": RuleCase(
        lambda rows: [{**r, "voltage_v": Decimal("260.0")} if r["ts"] == ts(83) else r for r in rows],
        silver={(m, 83, ingest(m, 83)): (vee.SUSPECT, vee.VOLTAGE_SWELL) for m in METERS}),
    "V18 late arrival stays VALID, marked": RuleCase(
        lambda rows: replace_rows(rows, "m-1", [K_LATE], received_at=ts(K_LATE) + timedelta(days=3)),
        silver={("m-1", K_LATE, ingest("m-1", K_LATE)): (vee.VALID, vee.LATE_ARRIVAL)}),
}


def _k(stamp) -> int:  # noqa: ANN001 - a datetime
    return round((stamp - ts(0)).total_seconds() / 900)


def _namespaced(case_no: int, rows: list[dict], catalogue: list[dict]) -> tuple[list[dict], list[dict]]:
    """The case's meters, ingest ids and feeder renamed ``c<no>/...``: every case runs in one
    Spark job without touching another (rules look at one meter-day or one feeder)."""
    tag = f"c{case_no:02d}/"
    rows = [{**r, "meter_id": tag + r["meter_id"], "ingest_id": tag + r["ingest_id"]} for r in rows]
    return rows, [{**m, "meter_id": tag + m["meter_id"], "feeder_id": tag + m["feeder_id"]} for m in catalogue]


def _of_case(outcome: Outcome, case_no: int) -> Outcome:
    """The rows of case ``case_no`` in a run of namespaced cases, under their own names."""
    tag = f"c{case_no:02d}/"

    def of_case(found: dict[tuple, tuple]) -> dict[tuple, tuple]:
        return {(m.removeprefix(tag), stamp, ingest_id.replace(tag, "", 1)): value
                for (m, stamp, ingest_id), value in found.items() if m.startswith(tag)}

    return Outcome(of_case(outcome.silver), of_case(outcome.quarantine))


@pytest.fixture(scope="module")
def rule_outcomes(spark: SparkSession, conf: VeeConf) -> dict[str, tuple[int, Outcome]]:
    """Every RULE_CASES case validated in one run; per case its bronze row count and outcome."""
    rows, catalogue, sizes = [], [], {}
    for case_no, (name, case) in enumerate(RULE_CASES.items()):
        case_rows, case_catalogue = _namespaced(case_no, case.change(clean_day()),
                                                case.catalogue or [meter(m) for m in METERS])
        rows += case_rows
        catalogue += case_catalogue
        sizes[name] = len(case_rows)
    outcome = run_vee(spark, rows, conf, catalogue_frame(spark, catalogue))
    return {name: (sizes[name], _of_case(outcome, no)) for no, name in enumerate(RULE_CASES)}


@pytest.mark.parametrize("name", RULE_CASES.keys())
def test_rule(name: str, rule_outcomes: dict[str, tuple[int, Outcome]]) -> None:
    case = RULE_CASES[name]
    bronze_rows, outcome = rule_outcomes[name]

    def keyed(found: dict[tuple, tuple]) -> dict[tuple, tuple]:
        return {(m, _k(stamp), None if ingest_id.startswith("vee:") else ingest_id): (status, rule)
                for (m, stamp, ingest_id), (status, rule, _) in found.items()}

    silver, quarantine = keyed(outcome.silver), keyed(outcome.quarantine)
    assert quarantine == case.quarantine
    flagged = {key: value for key, value in silver.items() if value != PASSED}
    assert flagged == case.silver
    estimated = sum(1 for key in silver if key[2] is None)
    assert bronze_rows == len(outcome.silver) - estimated + len(outcome.quarantine)


def _history() -> list[dict]:
    """m-1's earlier days (silver rows), each flat: the three nearest weekdays (0.2,
    0.4, 0.6 kWh), an older weekday and a weekend day that like-day must ignore, and a SUSPECT
    spike it must not learn from."""
    days = {DAY - timedelta(days=1): "0.200", DAY - timedelta(days=2): "0.400",
            DAY - timedelta(days=5): "0.600",  # Friday: Saturday and Sunday lie between
            DAY - timedelta(days=6): "5.000",  # Thursday: the fourth nearest
            DAY - timedelta(days=4): "9.000"}  # Saturday
    rows = [reading("m-1", day, k, kwh_import=Decimal(value)) for day, value in days.items() for k in range(96)]
    rows += [{**reading("m-1", DAY - timedelta(days=1), 3, kwh_import=Decimal("7.000"), ingest_id="spike"),
              "status": vee.SUSPECT, "rule_id": vee.SPIKE}]
    return rows


@dataclass(frozen=True)
class EstimationCase:
    """A clean day of METERS with ``change`` applied, m-1's history (``_history``) or none;
    ``estimates`` are m-1's estimated rows, k -> (status, rule_id, kWh); no other meter gets
    one."""

    change: Callable[[list[dict]], list[dict]]
    history: bool
    estimates: dict[int, tuple]


_LINEAR = {k: (vee.ESTIMATED_LINEAR, vee.MISSING_INTERVAL, (kwh(9) + (kwh(13) - kwh(9)) * (k - 9) / 4)
               .quantize(Decimal("0.001"))) for k in (10, 11, 12)}
ESTIMATION_CASES = {
    "linear: every interval of a gap up to 1 h, on the line between its neighbours": EstimationCase(
        lambda rows: drop_rows(rows, "m-1", [10, 11, 12]), False, _LINEAR),
    "flat fill when only one side is known": EstimationCase(
        lambda rows: drop_rows(rows, "m-1", range(0, 4)), False,
        {k: (vee.ESTIMATED_FLAT, vee.MISSING_INTERVAL, kwh(4)) for k in range(4)}),
    "like-day: average of the three nearest same-kind days": EstimationCase(
        lambda rows: drop_rows(rows, "m-1", range(20, 40)), True,
        {k: (vee.ESTIMATED_LIKE_DAY, vee.MISSING_INTERVAL, Decimal("0.400")) for k in range(20, 40)}),
    "missing day from like days": EstimationCase(
        lambda rows: [r for r in rows if r["meter_id"] != "m-1"], True,
        {k: (vee.ESTIMATED_LIKE_DAY, vee.MISSING_DAY, Decimal("0.400")) for k in range(96)}),
    "a gap over 1 h with both sides known and no history is left empty": EstimationCase(
        lambda rows: drop_rows(rows, "m-1", range(20, 40)), False, {}),
}
#: Run with ``max_estimation_gap_s`` at 4 h: a 5-h gap is left empty though history exists; a 3-h one is not.
SHORT_MAXIMUM_CASES = {
    "a gap beyond the maximum is left empty": EstimationCase(
        lambda rows: drop_rows(rows, "m-1", range(20, 40)), True, {}),
    "a gap within the maximum is estimated": EstimationCase(
        lambda rows: drop_rows(rows, "m-1", range(20, 32)), True,
        {k: (vee.ESTIMATED_LIKE_DAY, vee.MISSING_INTERVAL, Decimal("0.400")) for k in range(20, 32)}),
}


def run_cases(spark: SparkSession, cases: dict[str, EstimationCase], conf: VeeConf) -> dict[str, Outcome]:
    """Every case in one VEE run, each on meters (and history) of its own namespace."""
    rows, catalogue, history = [], [], []
    for case_no, case in enumerate(cases.values()):
        case_rows, case_catalogue = _namespaced(case_no, case.change(clean_day()), [meter(m) for m in METERS])
        rows += case_rows
        catalogue += case_catalogue
        if case.history:
            history += _namespaced(case_no, _history(), [])[0]
    outcome = run_vee(spark, rows, conf, catalogue_frame(spark, catalogue), silver_frame(spark, history))
    return {name: _of_case(outcome, no) for no, name in enumerate(cases)}


@pytest.fixture(scope="module")
def estimation_outcomes(spark: SparkSession, conf: VeeConf) -> dict[str, Outcome]:
    short = conf.model_copy(update={"max_estimation_gap_s": 4 * 3600})
    return {**run_cases(spark, ESTIMATION_CASES, conf), **run_cases(spark, SHORT_MAXIMUM_CASES, short)}


@pytest.mark.parametrize("name", [*ESTIMATION_CASES, *SHORT_MAXIMUM_CASES])
def test_estimation(name: str, estimation_outcomes: dict[str, Outcome], conf: VeeConf) -> None:
    case = {**ESTIMATION_CASES, **SHORT_MAXIMUM_CASES}[name]
    silver = estimation_outcomes[name].silver
    estimated = {key: value for key, value in silver.items() if value[0] in vee.ESTIMATED}
    assert {(m, _k(stamp)) for m, stamp, _ in estimated} == {("m-1", k) for k in case.estimates}
    for k, (status, rule, value) in case.estimates.items():
        assert silver[("m-1", ts(k), estimate_id(conf, "m-1", k))] == (status, rule, value)


@pytest.mark.parametrize(("day", "intervals"), [(DAY, 96), (date(2024, 3, 31), 92), (date(2024, 10, 27), 100)],
                         ids=["ordinary day", "clocks go forward", "clocks go back"])
def test_expected_intervals_follow_the_local_day(spark: SparkSession, day: date, intervals: int) -> None:
    slots = expected_intervals(catalogue_frame(spark, [meter("m-1")]), day).collect()
    assert len(slots) == intervals
    assert min(s.ts for s in slots) == interval_start(day, 0)


FAULT_ACTIONS = ("drop", "copy", "conflict", "negative", "zero", "late", "future", "unknown", "impossible")


def with_faults(rows: list[dict], faults: list[tuple[str, float]]) -> list[dict]:
    """``rows`` with each (action, where in 0..1) applied in turn, as a broken meter would."""
    rows = list(rows)
    for n, (action, where) in enumerate(faults):
        if not rows:
            break
        i = min(int(where * len(rows)), len(rows) - 1)
        row = rows[i]
        if action == "drop":
            rows.pop(i)
        elif action in ("copy", "conflict"):
            value = row["kwh_import"] if action == "copy" else Decimal("0.999")
            rows.append({**row, "ingest_id": f"{row['ingest_id']}:c{n}", "kwh_import": value})
        elif action == "negative":
            rows[i] = {**row, "kwh_import": Decimal("-0.005")}
        elif action == "zero":
            rows[i] = {**row, "kwh_import": Decimal("0.000")}
        elif action == "late":
            rows[i] = {**row, "received_at": row["received_at"] + timedelta(days=5)}
        elif action == "future":
            rows.append({**row, "ingest_id": f"{row['ingest_id']}:f{n}", "ts": row["ts"] + timedelta(days=90)})
        elif action == "unknown":
            rows.append({**row, "meter_id": "m-x", "ingest_id": f"{row['ingest_id']}:u{n}"})
        else:
            rows[i] = {**row, "kwh_import": Decimal("99.000")}
    return rows


FAULT_MIXES = st.lists(st.tuples(st.sampled_from(FAULT_ACTIONS), st.floats(0, 1)), max_size=40)


# Each example validates up to 6 days with fault mixes of their own in one Spark run (a run
# costs seconds whatever its size): 3 examples try up to 18 mixes, where 6 runs tried 6.
@hypothesis_settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mixes=st.lists(FAULT_MIXES, min_size=1, max_size=6))
def test_conservation_holds_for_any_mix_of_faults(spark: SparkSession, conf: VeeConf,
                                                 mixes: list[list[tuple[str, float]]]) -> None:
    """bronze = (silver - estimated) + quarantined, whatever mix of faults a day carries."""
    days = [_namespaced(no, with_faults(clean_day(), faults), [meter(m) for m in METERS])
            for no, faults in enumerate(mixes)]
    outcome = run_vee(spark, [row for rows, _ in days for row in rows], conf,
                      catalogue_frame(spark, [entry for _, catalogue in days for entry in catalogue]))
    for no, (rows, _) in enumerate(days):
        day = _of_case(outcome, no)
        estimated = sum(1 for value in day.silver.values() if value[0] in vee.ESTIMATED)
        counts = VeeCounts(bronze=len(rows), silver=len(day.silver), estimated=estimated,
                           quarantined=len(day.quarantine))
        assert counts.balanced, (mixes[no], counts)
        assert {value[0] for value in day.quarantine.values()} <= {vee.REJECTED}
    assert sum(len(rows) for rows, _ in days) == len(outcome.silver) + len(outcome.quarantine) - sum(
        1 for value in outcome.silver.values() if value[0] in vee.ESTIMATED)


def test_the_invariant_check_can_fail() -> None:
    assert VeeCounts(bronze=10, silver=9, estimated=1, quarantined=1).balanced is False

"""The run report of a date the pipeline really built, checked against the lake tables read here.

Expected figures are computed in this file from the raw tables (`_runs`, silver, quarantine,
gold), in plain Python over collected rows, not with the report's transforms.

The lake is built once per test session by really running the pipeline (``small_lake``); the
notebook tests import that fixture from here and share the same lake.
"""

from __future__ import annotations

import base64
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from jobs.stages import aggregate as aggregate_readings
from jobs.stages import extract as extract_readings
from jobs.stages import report as run_report
from jobs.ingest import seed_grid
from jobs.stages import validate as validate_readings
from jobs.stores.cassandra_schema import apply_schema
from jobs.stores.clients import cassandra_session
from jobs.runtime.config import Settings
from jobs.runtime.dates import date_range
from jobs.stores.runs import RUNS_PATH, RunRecord, append_runs
from schemas import gold
from schemas.lake import SILVER_METER_READINGS, SILVER_QUARANTINE, LakeTable
from jobs.stores import lake
from jobs.transforms import report_figures

SMALL_LAKE_KEYSPACE = "grid_small_lake_test"
SMALL_LAKE_SEED = 41
SMALL_LAKE_METERS = 36
#: Monday to Wednesday: working days, so each later day has like-day history for anomalies.
SMALL_LAKE_START = date(2024, 5, 6)
SMALL_LAKE_DAYS = 3
SMALL_LAKE_FAULT_RATE = 0.2



@dataclass(frozen=True)
class SmallLake:
    """Settings pointing at the built lake and keyspace, and the dates it holds."""

    settings: Settings
    first: date
    last: date

    @property
    def dates(self) -> list[date]:
        return date_range(self.first, self.last)


def build_small_lake(settings: Settings, spark: SparkSession) -> SmallLake:
    """Seed ``settings.cassandra.keyspace`` (dropped first) and run extract, validate and
    aggregate for every seeded date into ``settings.lake_root``, as a backfill runs them. The
    index and publish stages are left out, so readers meet stages that did "not run"."""
    first = SMALL_LAKE_START
    last = first + timedelta(days=SMALL_LAKE_DAYS - 1)
    with cassandra_session(settings) as session:
        session.execute(f"DROP KEYSPACE IF EXISTS {settings.cassandra.keyspace}")
        apply_schema(session, settings)
    seed_grid.main(settings, SMALL_LAKE_METERS, SMALL_LAKE_DAYS, first, seed=SMALL_LAKE_SEED,
                   fault_rate=SMALL_LAKE_FAULT_RATE, late_rows="include")
    for day in date_range(first, last):
        extract_readings.main(settings, day, spark)
        validate_readings.main(settings, day, spark)
        aggregate_readings.main(settings, day, spark)
    return SmallLake(settings, first, last)


@pytest.fixture(scope="session")
def small_lake(services: Settings, spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        SmallLake]:
    """A few dozen meters over three days, through extract, validate and aggregate; built once
    per session (a marker in the session's temp dir), whichever module asks first."""
    settings = services.model_copy(deep=True)
    settings.cassandra.keyspace = SMALL_LAKE_KEYSPACE
    root = tmp_path_factory.getbasetemp() / "small-lake"
    settings.lake.root = str(root)
    # Two days of history are enough to score anomalies on the last day of so short a lake.
    settings.aggregates.anomalies.min_baseline_days = 1
    built = root / ".built"
    if built.exists():
        yield SmallLake(settings, SMALL_LAKE_START, SMALL_LAKE_START + timedelta(days=SMALL_LAKE_DAYS - 1))
        return
    lake = build_small_lake(settings, spark)
    built.touch()
    yield lake
    with cassandra_session(settings) as session:
        session.execute(f"DROP KEYSPACE IF EXISTS {SMALL_LAKE_KEYSPACE}")


VOID = {"meta", "img", "br", "hr", "link", "input", "col", "area", "base", "source", "wbr"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass
class Page:
    """What a report holds: sections and their states, tables by id (cell texts), images."""

    states: dict[str, str] = field(default_factory=dict)
    tables: dict[str, list[list[str]]] = field(default_factory=dict)
    images: list[str] = field(default_factory=list)
    doctype: str = ""


class StrictPage(HTMLParser):
    """Parses a report, failing on any unclosed, stray or misnested element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page, self.open = Page(), []
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_decl(self, decl: str) -> None:
        self.page.doctype = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag not in VOID:
            self.open.append(tag)
        if tag == "section":
            self.page.states[attributes["id"]] = attributes["data-state"]
        elif tag == "table":
            self._table = attributes["id"]
            self.page.tables[self._table] = []
        elif tag == "tr":
            self.page.tables[self._table].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.page.images.append(attributes["src"])

    def handle_endtag(self, tag: str) -> None:
        assert tag not in VOID, f"</{tag}> closes a void element"
        assert self.open and self.open[-1] == tag, f"</{tag}> closes <{self.open[-1] if self.open else None}>"
        self.open.pop()
        if tag in ("td", "th"):
            self.page.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def parse(html: str) -> Page:
    parser = StrictPage()
    parser.feed(html)
    parser.close()
    assert parser.open == [], f"unclosed elements {parser.open}"
    return parser.page


def body(page: Page, table_id: str) -> list[list[str]]:
    """A table's rows without its header row."""
    return page.tables[table_id][1:]


def lake_rows(spark: SparkSession, settings: Settings, path: str, where: str) -> list[dict[str, Any]]:
    """Rows of a lake table, read straight from its location in the lake's format."""
    frame = spark.read.format(settings.lake.format).load(f"{settings.lake_root}/{path}").where(where)
    return [row.asDict() for row in frame.collect()]


def partition(spark: SparkSession, settings: Settings, table: LakeTable, day: date) -> list[dict[str, Any]]:
    return lake_rows(spark, settings, table.path, f"date = '{day}'")


@dataclass
class Reported:
    settings: Settings
    day: date
    lines: list[str]
    html: str
    page: Page
    runs_before: list[dict[str, Any]]


@pytest.fixture(scope="module")
def reported(small_lake: SmallLake, spark: SparkSession) -> Reported:
    """The report of the lake's last date, and `_runs` as it was when the report read it."""
    settings, day = small_lake.settings, small_lake.last
    runs_before = [row.asDict() for row in spark.read.format("delta").load(f"{settings.lake_root}/{RUNS_PATH}")
                   .where(f"date = '{day}'").collect()]
    lines = list(run_report.main(settings, day, spark))
    html = Path(run_report.report_location(settings.lake_root, day)).read_text(encoding="utf-8")
    return Reported(settings, day, lines, html, parse(html), runs_before)


def test_main_returns_log_lines_ending_with_the_reports_path(reported: Reported) -> None:
    path = Path(reported.settings.lake_root) / "_reports" / f"{reported.day.isoformat()}.html"
    assert reported.lines[-1] == f"report={path}"
    assert path.is_file()
    assert not [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")], "a temporary file was left"


def test_the_report_is_well_formed_html_with_two_png_charts(reported: Reported) -> None:
    page = reported.page
    assert page.doctype.lower() == "doctype html"
    assert set(page.states.values()) == {"ok"}, page.states
    assert len(page.images) == 2
    for source in page.images:
        prefix = "data:image/png;base64,"
        assert source.startswith(prefix)
        assert base64.b64decode(source[len(prefix):], validate=True).startswith(PNG_SIGNATURE)


def test_rows_per_stage_are_the_latest_runs_of_the_date(reported: Reported) -> None:
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    runs = Counter((row["stage"], row["table"]) for row in reported.runs_before)
    for row in sorted(reported.runs_before, key=lambda r: r["started_at"]):
        latest[(row["stage"], row["table"])] = row
    expected = {(stage, table): [row["status"], str(row["rows_read"]), str(row["rows_written"]),
                                 str(runs[(stage, table)])] for (stage, table), row in latest.items()}
    expected[("index", "")] = ["not run", "", "", "0"]
    expected[("publish", "")] = ["not run", "", "", "0"]
    header = reported.page.tables["runs-table"][0]
    shown = {(row[0], row[1]): [row[header.index(c)] for c in ("status", "rows_read", "rows_written", "runs")]
             for row in body(reported.page, "runs-table")}
    assert shown == expected
    assert [row[0] for row in body(reported.page, "runs-table")][:3] == ["extract", "extract", "validate"]


def test_vee_and_quarantine_counts_match_silver_and_quarantine(reported: Reported, spark: SparkSession) -> None:
    silver = partition(spark, reported.settings, SILVER_METER_READINGS, reported.day)
    quarantined = partition(spark, reported.settings, SILVER_QUARANTINE, reported.day)
    assert quarantined, "the seeded faults should have quarantined rows on this date"
    by_status = Counter(row["status"] for row in silver) + Counter({"REJECTED": len(quarantined)})
    by_rule = Counter((rule, row["status"]) for row in silver for rule in (row["rule_id"] or "").split(",") if rule)
    by_rule += Counter((rule, "REJECTED") for row in quarantined for rule in row["rule_id"].split(","))
    by_reason = Counter((row["rule_id"], row["reason"]) for row in quarantined)

    assert {s: int(n) for s, n in body(reported.page, "vee-status-table")} == dict(by_status)
    assert {(r, s): int(n) for r, s, n in body(reported.page, "vee-rule-table")} == dict(by_rule)
    assert {(r, why): int(n) for r, why, n in body(reported.page, "quarantine-table")} == dict(by_reason)
    assert f"{len(quarantined)} rows quarantined" in reported.html


def test_top_anomalies_are_the_largest_scores(reported: Reported, spark: SparkSession) -> None:
    anomalies = partition(spark, reported.settings, gold.ANOMALIES, reported.day)
    assert anomalies, "the lake should have anomalies on its last date"
    ranked = sorted(anomalies, key=lambda row: (-abs(row["score"]), row["meter_id"]))[:report_figures.TOP_ANOMALIES]
    shown = body(reported.page, "anomalies-table")
    assert [row[0] for row in shown] == [row["meter_id"] for row in ranked]
    assert [float(row[5]) for row in shown] == [float(row["score"]) for row in ranked]


def test_load_profile_is_mean_kw_per_class_and_local_hour(reported: Reported, spark: SparkSession) -> None:
    daily = {row["meter_id"]: row for row in partition(spark, reported.settings, gold.METER_DAILY, reported.day)}
    kw: dict[tuple[str, int], list[float]] = defaultdict(list)
    for row in partition(spark, reported.settings, gold.METER_HOURLY, reported.day):
        if row["intervals"] and row["kwh_import"] is not None:
            meter = daily[row["meter_id"]]
            hours = row["intervals"] * meter["interval_s"] / 3600
            kw[(meter["meter_class"], row["local_hour"])].append(float(row["kwh_import"]) / hours)
    shown = {(row[0], int(row[1])): float(row[2]) for row in body(reported.page, "load-profile-table")}
    assert shown.keys() == kw.keys()
    for key, values in kw.items():
        assert shown[key] == pytest.approx(sum(values) / len(values), abs=0.0006), key


def test_voltage_quality_counts_the_weeks_verdicts(reported: Reported, spark: SparkSession) -> None:
    monday = reported.day - timedelta(days=reported.day.weekday())
    week = partition(spark, reported.settings, gold.VOLTAGE_QUALITY_WEEKLY, monday)
    verdicts = Counter((row["level"], row["basis"], row["verdict"]) for row in week)
    assert {(lv, b, v): int(n) for lv, b, v, n in body(reported.page, "voltage-verdict-table")} == dict(verdicts)
    charted = {(row["level"], row["object_id"]) for row in week if row["level"] != gold.LEVEL_METER}
    assert {(row[0], row[1]) for row in body(reported.page, "voltage-objects-table")} == charted


def test_a_date_nothing_ran_for_says_not_run(small_lake: SmallLake, spark: SparkSession) -> None:
    day = small_lake.last + timedelta(days=1)
    lines = list(run_report.main(small_lake.settings, day, spark))
    page = parse(Path(lines[-1].removeprefix("report=")).read_text(encoding="utf-8"))
    assert page.states and set(page.states.values()) == {"not run"}
    assert page.images == [] and page.tables == {}


def test_a_failed_aggregate_shows_its_error_where_its_table_would_be(
        settings: Settings, spark: SparkSession, tmp_path: Path) -> None:
    local = settings.model_copy(deep=True)
    local.lake.root = str(tmp_path)
    day = date(2024, 5, 8)
    append_runs(local.lake_root, [
        RunRecord("aggregate", gold.METER_HOURLY.path, day, status="ok"),
        RunRecord("aggregate", gold.METER_DAILY.path, day, status="failed", error="RuntimeError: disk full")])

    sections = {section.id: section for section in run_report.build_sections(spark, local, day)}

    assert (sections["load-profile"].state, sections["load-profile"].note) == (
        "failed", f"aggregate of {gold.METER_DAILY.path} ended failed: RuntimeError: disk full")
    assert sections["load-profile"].tables == [] and sections["load-profile"].image is None
    assert {sections[name].state for name in ("vee", "anomalies", "voltage-quality")} == {"not run"}


def test_values_from_the_lake_are_escaped() -> None:
    section = run_report.Section("anomalies", "Top anomalies <b>", tables=[
        run_report.Table("anomalies-table", ["meter_id"], [["<script>alert(1)</script>"]])])
    html = run_report.render_report(date(2024, 5, 8), "/lake/<x>", "delta", [section],
                                    datetime(2024, 5, 9))
    assert "<script>" not in html and "<b>" not in html
    assert body(parse(html), "anomalies-table") == [["<script>alert(1)</script>"]]


def test_a_filesystem_uri_is_written_through_hadoop_and_replaced_whole(spark: SparkSession, tmp_path: Path) -> None:
    target = tmp_path / "_reports" / "2024-05-08.html"
    for text in ("<p>first</p>", "<p>second, longer than the first</p>"):
        written = lake.write_atomically(spark, target.as_uri(), text)
        assert written == len(text.encode())
        assert target.read_text() == text
    assert not [p.name for p in target.parent.iterdir() if re.search(r"\.tmp$", p.name)]

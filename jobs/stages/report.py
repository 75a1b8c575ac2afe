"""The run report: one small, self-contained HTML page per date, written beside the lake.

``<lake root>/_reports/<date>.html`` shows, for one local date: rows per stage from `_runs`
(the latest run of each stage and table, and how many runs there were), VEE counts per rule
and status (silver and quarantine), quarantine counts per reason, the top anomalies, a
load-profile chart (mean kW by local hour per meter class) and an EN 50160 voltage-quality
chart of the date's week. A section whose stage has not run for the date says "not run";
a failed stage shows its error. Everything the page shows is bounded (top N, counts per
rule, 24 hours per class, the worst N voltage objects), so its size does not grow with the grid.

Charts are drawn with matplotlib and embedded as base64 PNG: axes, ticks and legends come
for free, the notebooks plot with the same library, and a PNG's size does not grow with the
number of points the way hand-written SVG would. The object-oriented API (``Figure``,
no pyplot) keeps no global state and needs no display, so it runs on any Spark driver. Each
chart has its numbers beside it in a collapsed table, for readers who cannot see images and
for checking. The HTML comes from a jinja2 template with autoescaping on, so every value
from the lake is escaped.

The page is written to a temporary file beside the target and renamed over it, so a reader
(a browser, the task log's link) sees the previous report or the new one, never half of one.

The figures come from jobs/transforms/report_figures.py, which notebooks import as well.
"""

from __future__ import annotations

import base64
import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

import jinja2
from pyspark.sql import DataFrame, SparkSession

from jobs.runtime.config import Settings
from jobs.stores.lake import read_lake_table, write_atomically
from jobs.stores.runs import recorded_run, runs_frame
from jobs.transforms.gold import week_of
from jobs.transforms.report_figures import (
    TOP_ANOMALIES,
    VOLTAGE_OBJECTS,
    latest_runs,
    load_profile,
    quarantine_counts,
    status_counts,
    top_anomalies,
    vee_counts,
    verdict_counts,
    voltage_objects,
)
from schemas import gold
from schemas.lake import SILVER_METER_READINGS, SILVER_QUARANTINE, LakeTable

log = logging.getLogger(__name__)

STAGE = "report"
REPORTS_DIR = "_reports"
#: The pipeline's stages in running order; the report lists every one, run or not.
PIPELINE_STAGES = ("extract", "compact", "validate", "aggregate", "index", "publish")
#: Stages a complete daily run has; the others (compact) are listed only when they ran.
EXPECTED_STAGES = ("extract", "validate", "aggregate", "index", "publish")
NOT_RUN = "not run"

VERDICT_COLOURS = {gold.COMPLIANT: "#2e7d32", gold.NON_COMPLIANT: "#c62828", gold.INSUFFICIENT_DATA: "#9e9e9e"}


def report_location(lake_root: str, day: date) -> str:
    """Where the report of ``day`` lives: ``<lake root>/_reports/<date>.html``."""
    return f"{lake_root.rstrip('/')}/{REPORTS_DIR}/{day.isoformat()}.html"


# --- reading the lake ---------------------------------------------------------------------------


# --- charts -------------------------------------------------------------------------------------

def _png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=96, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def load_profile_chart(rows: list[dict[str, Any]]) -> str:
    """One small panel per meter class over the local hours, each on its own kW scale (an
    industrial meter draws a hundred times a household's); base64 PNG."""
    from matplotlib.figure import Figure

    classes = sorted({row["meter_class"] for row in rows})
    columns = min(3, len(classes))
    lines = -(-len(classes) // columns)
    figure = Figure(figsize=(3.2 * columns, 2.4 * lines), layout="constrained")
    panels = figure.subplots(lines, columns, squeeze=False).ravel()
    for axes, meter_class in zip(panels, classes):
        points = sorted((row["local_hour"], row["mean_kw"]) for row in rows if row["meter_class"] == meter_class)
        meters = max(row["meters"] for row in rows if row["meter_class"] == meter_class)
        axes.plot([h for h, _ in points], [kw for _, kw in points], marker="o", markersize=2.5)
        axes.set_title(f"{meter_class} ({meters} meters)", fontsize="medium")
        axes.set_xticks(range(0, 24, 6))
        axes.set_xlim(-0.5, 23.5)
        axes.set_ylim(bottom=0)
        axes.grid(alpha=0.3)
    for axes in panels[len(classes):]:
        axes.set_visible(False)
    figure.supxlabel("local hour", fontsize="medium")
    figure.supylabel("mean kW per meter", fontsize="medium")
    return _png(figure)


def voltage_quality_chart(rows: list[dict[str, Any]], required_share: float) -> str:
    """Share of 10-minute values within +-10% per sensor and feeder, coloured by verdict,
    with the standard's required share as a line; base64 PNG."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    shown = list(reversed(rows))  # the worst at the top
    figure = Figure(figsize=(7.5, 1.2 + 0.28 * max(len(shown), 1)))
    axes = figure.subplots()
    labels = [f"{row['level']} {row['object_id']}" for row in shown]
    shares = [100 * float(row["within_share"] or 0) for row in shown]
    axes.barh(labels, shares, color=[VERDICT_COLOURS.get(row["verdict"], "#607d8b") for row in shown])
    axes.axvline(100 * required_share, color="black", linestyle="--", linewidth=1)
    axes.set_xlim(0, 100)
    axes.set_xlabel("% of 10-minute values within nominal +-10%")
    axes.tick_params(axis="y", labelsize="small")
    axes.legend(handles=[Patch(color=colour, label=verdict) for verdict, colour in VERDICT_COLOURS.items()],
                fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.3), ncols=3, frameon=False)
    return _png(figure)


# --- the page -----------------------------------------------------------------------------------

@dataclass
class Table:
    """Rows to show as an HTML table; ``id`` names it for readers and checks."""

    id: str
    columns: list[str]
    rows: list[list[Any]]


@dataclass
class Section:
    """One part of the report: its data, or why there is none ("not run", an error)."""

    id: str
    title: str
    state: str = "ok"  # ok | not run | failed
    note: str = ""
    tables: list[Table] = field(default_factory=list)
    image: str | None = None
    image_alt: str = ""


TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>gridlake run report {{ day }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 70em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.state { font-weight: bold; }
.state-not-run { color: #9e9e9e; }
.state-failed { color: #c62828; }
.note { color: #555; }
img { max-width: 100%; }
</style>
</head>
<body>
<h1>gridlake run report: {{ day }}</h1>
<p class="note">Lake <code>{{ lake_root }}</code> ({{ lake_format }}); generated {{ generated_at }}.</p>
{% for section in sections %}
<section id="{{ section.id }}" data-state="{{ section.state }}">
<h2>{{ section.title }}</h2>
{% if section.state != "ok" %}<p class="state state-{{ section.state | replace(' ', '-') }}">{{ section.state }}</p>{% endif %}
{% if section.note %}<p class="note">{{ section.note }}</p>{% endif %}
{% if section.image %}<img src="data:image/png;base64,{{ section.image }}" alt="{{ section.image_alt }}">{% endif %}
{% for table in section.tables %}
{% if section.image %}<details><summary>the chart's figures</summary>{% endif %}
<table id="{{ table.id }}">
<thead><tr>{% for column in table.columns %}<th>{{ column }}</th>{% endfor %}</tr></thead>
<tbody>
{% for row in table.rows %}<tr>{% for value in row %}<td{% if value is number %} class="num"{% endif %}>{{ value if value is not none else "" }}</td>{% endfor %}</tr>
{% endfor %}</tbody>
</table>
{% if section.image %}</details>{% endif %}
{% endfor %}
</section>
{% endfor %}
</body>
</html>
"""

_ENVIRONMENT = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                                  trim_blocks=True, lstrip_blocks=True)


def render_report(day: date, lake_root: str, lake_format: str, sections: list[Section],
                  generated_at: datetime) -> str:
    """The report's HTML; every value is escaped by the template."""
    return _ENVIRONMENT.from_string(TEMPLATE).render(
        day=day.isoformat(), lake_root=lake_root, lake_format=lake_format, sections=sections,
        generated_at=generated_at.strftime("%Y-%m-%d %H:%M:%S UTC"))


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _html_table(table_id: str, frame: DataFrame, columns: list[str] | None = None) -> Table:
    columns = columns or frame.columns
    return Table(table_id, columns, [[_cell(row[c]) for c in columns] for row in frame.select(columns).collect()])


# --- sections -----------------------------------------------------------------------------------

class _Runs:
    """The latest run of each stage and table for the report's date."""

    def __init__(self, latest: list[dict[str, Any]]) -> None:
        self.rows = latest
        self.by_key = {(row["stage"], row["table"]): row for row in latest}

    def state(self, stage: str, table: str) -> tuple[str, str]:
        """ok / failed (with its error) / not run, for one stage's table."""
        row = self.by_key.get((stage, table))
        if row is None:
            return NOT_RUN, ""
        if row["status"] != "ok":
            return "failed", f"{stage} of {table} ended {row['status']}: {row['error'] or 'no error recorded'}"
        return "ok", ""


def runs_section(runs: _Runs, day: date) -> Section:
    section = Section("runs", "Rows per stage")
    if not runs.rows:
        section.state, section.note = NOT_RUN, f"_runs has no run for {day}."
        return section
    order = {stage: n for n, stage in enumerate(PIPELINE_STAGES)}
    columns = ["stage", "table", "status", "rows_read", "rows_written", "files", "bytes", "seconds", "started_at",
               "runs"]
    rows = [[_cell(row[c]) for c in columns]
            for row in sorted(runs.rows, key=lambda r: (order.get(r["stage"], len(order)), r["stage"], r["table"]))]
    ran = {row["stage"] for row in runs.rows}
    rows += [[stage, "", NOT_RUN, None, None, None, None, None, None, 0] for stage in EXPECTED_STAGES
             if stage not in ran]
    rows.sort(key=lambda r: (order.get(r[0], len(order)), r[0], r[1]))
    section.note = "The latest run of each stage and table for the date; runs counts reruns and retries."
    section.tables.append(Table("runs-table", columns, rows))
    return section


def _gold_frames(section: Section, spark: SparkSession, settings: Settings, runs: _Runs, day: date,
                 *tables: LakeTable) -> list[DataFrame] | None:
    """``tables``' partition of ``day``, for ``section``; None, with the section marked failed
    (and the error) or not run, when an aggregate of one of them did not end ok or one does not
    exist yet."""
    for table in tables:
        section.state, section.note = runs.state("aggregate", table.path)
        if section.state != "ok":
            return None
    frames = [read_lake_table(spark, settings, table, day) for table in tables]
    if any(frame is None for frame in frames):
        section.state = NOT_RUN
        return None
    return frames


def vee_section(spark: SparkSession, settings: Settings, runs: _Runs, day: date) -> list[Section]:
    vee = Section("vee", "VEE: rows per rule and status")
    quarantine = Section("quarantine", "Quarantine")
    state, note = runs.state("validate", SILVER_METER_READINGS.path)
    silver_rows = read_lake_table(spark, settings, SILVER_METER_READINGS, day)
    quarantined = read_lake_table(spark, settings, SILVER_QUARANTINE, day)
    if state != "ok" or silver_rows is None or quarantined is None:
        for section in (vee, quarantine):
            section.state = state if state != "ok" else NOT_RUN
            section.note = note
        return [vee, quarantine]
    vee.note = ("Silver and quarantine rows of the date. A row on which several rules fired counts under each; "
                "clean rows count under V00_passed.")
    vee.tables.append(_html_table("vee-status-table", status_counts(silver_rows, quarantined)))
    vee.tables.append(_html_table("vee-rule-table", vee_counts(silver_rows, quarantined)))
    total = quarantined.count()
    quarantine.note = f"{total} rows quarantined (rejected, kept with their reason)."
    quarantine.tables.append(_html_table("quarantine-table", quarantine_counts(quarantined)))
    return [vee, quarantine]


def anomalies_section(spark: SparkSession, settings: Settings, runs: _Runs, day: date) -> Section:
    section = Section("anomalies", f"Top {TOP_ANOMALIES} anomalies")
    frames = _gold_frames(section, spark, settings, runs, day, gold.ANOMALIES)
    if frames is None:
        return section
    frame = frames[0]
    section.note = ("Meter-days farthest from their like-day baseline (score = (kWh - median) / "
                    "max(1.4826 x MAD, floor)), over every feeder.")
    section.tables.append(_html_table("anomalies-table", top_anomalies(frame)))
    if not section.tables[0].rows:
        section.note = "No meter-day of this date is far enough from its baseline."
    return section


def load_profile_section(spark: SparkSession, settings: Settings, runs: _Runs, day: date) -> Section:
    section = Section("load-profile", "Load profile: mean kW by local hour per meter class")
    frames = _gold_frames(section, spark, settings, runs, day, gold.METER_HOURLY, gold.METER_DAILY)
    if frames is None:
        return section
    hourly, daily = frames
    profile = [row.asDict() for row in load_profile(hourly, daily, settings.grid.meter_interval_s).collect()]
    if not profile:
        section.note = "No meter imported energy on this date."
        return section
    section.note = "Per meter-hour, imported kWh over the time its intervals cover, averaged over the class."
    section.image = load_profile_chart(profile)
    section.image_alt = "mean kW by local hour for each meter class"
    section.tables.append(Table("load-profile-table", ["meter_class", "local_hour", "mean_kw", "meters"],
                                [[_cell(row[c]) for c in ("meter_class", "local_hour", "mean_kw", "meters")]
                                 for row in profile]))
    return section


def voltage_section(spark: SparkSession, settings: Settings, runs: _Runs, day: date) -> Section:
    monday, sunday = week_of(day)
    section = Section("voltage-quality", f"Voltage quality (EN 50160), week {monday} to {sunday}")
    frames = _gold_frames(section, spark, settings, runs, monday, gold.VOLTAGE_QUALITY_WEEKLY)
    if frames is None:
        return section
    frame = frames[0].persist()
    try:
        objects = [row.asDict() for row in voltage_objects(frame).collect()]
        section.tables.append(_html_table("voltage-verdict-table", verdict_counts(frame)))
    finally:
        frame.unpersist()
    required = settings.aggregates.voltage_quality.within_share_required
    section.note = (f"The week as of its latest aggregate run: a week still in progress has too little data for a "
                    f"verdict. Sensors and feeders with the lowest share within limits (at most {VOLTAGE_OBJECTS}); "
                    f"the dashed line is the {required:.0%} the standard requires. Meter rows (15-minute, "
                    "indicative) are counted in the table.")
    if objects:
        section.image = voltage_quality_chart(objects, required)
        section.image_alt = "share of 10-minute voltages within limits per sensor and feeder"
        columns = ["level", "object_id", "feeder_id", "samples", "data_share", "within_share", "outside_limits",
                   "voltage_min_v", "voltage_max_v", "verdict"]
        section.tables.insert(0, Table("voltage-objects-table", columns,
                                       [[_cell(row[c]) for c in columns] for row in objects]))
    return section


def build_sections(spark: SparkSession, settings: Settings, day: date) -> list[Section]:
    """Every section of ``day``'s report, from `_runs` and the lake tables."""
    latest = [row.asDict() for row in latest_runs(runs_frame(spark, settings, day)).collect()]
    runs = _Runs(latest)
    return [runs_section(runs, day), *vee_section(spark, settings, runs, day),
            anomalies_section(spark, settings, runs, day), load_profile_section(spark, settings, runs, day),
            voltage_section(spark, settings, runs, day)]


def main(settings: Settings, run_date: date, spark: SparkSession | None = None) -> Iterator[str]:
    """Write ``run_date``'s report to ``<lake root>/_reports/<date>.html`` and record the run in
    `_runs`. The work is done when main returns; the lines it returns are log lines, the last
    one ``report=<path>``."""
    from jobs.runtime.spark import spark_session

    spark = spark or spark_session(settings, app_name=f"gridlake-report-{run_date}")
    location = report_location(settings.lake_root, run_date)
    with recorded_run(settings.lake_root, STAGE, REPORTS_DIR, run_date) as record:
        sections = build_sections(spark, settings, run_date)
        html = render_report(run_date, settings.lake_root, settings.lake.format, sections,
                             datetime.now(timezone.utc))
        record.bytes = write_atomically(spark, location, html)
        record.files = record.rows_written = 1
    lines = [f"stage={STAGE} date={run_date} section={section.id} state={section.state.replace(' ', '_')}"
             for section in sections]
    log.info("stage=%s date=%s report=%s bytes=%d", STAGE, run_date, location, record.bytes)
    return iter([*lines, record.log_line(), f"report={location}"])

"""Both notebooks run headless (nbclient, the venv's own ipykernel) against a lake the pipeline built.

The kernel gets its settings the way an analyst's does, from GRIDLAKE_* variables (the test
environment: local[1], 1 GiB driver). Parameters are injected as papermill does: a cell
placed right after the one tagged ``parameters``.

The backfill check is graded against the gold rows the test itself reads before and after a
real backfill (the aggregate stage rerun for one date with that date made a holiday, which
moves time-of-use energy between bands and changes the day's anomaly baseline).
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient
from pyspark.sql import SparkSession

from jobs.stages import aggregate as aggregate_readings
from jobs.runtime.config import PROJECT_ROOT, Settings
from schemas import gold

# The lake the run report is tested on: one build per session, shared (see small_lake there).
from integration.test_run_report import SmallLake, small_lake  # noqa: F401 - small_lake is a fixture

NOTEBOOKS = PROJECT_ROOT / "notebooks"
#: The gold tables the backfill check compares in the test (all of them work; fewer keep it quick).
CHECKED = (gold.METER_DAILY, gold.TOU_DAILY, gold.ANOMALIES)


def kernel_environment(settings: Settings) -> dict[str, str]:
    return {**os.environ, "GRIDLAKE_ENV": "test", "GRIDLAKE_LAKE__ROOT": settings.lake_root,
            "GRIDLAKE_LAKE__FORMAT": settings.lake.format, "GRIDLAKE_CASSANDRA__KEYSPACE": settings.cassandra.keyspace,
            "GRIDLAKE_SPARK__MASTER": "local[1]", "GRIDLAKE_SPARK__DRIVER_MEMORY": "1g",
            "GRIDLAKE_SPARK__SHUFFLE_PARTITIONS": "1"}


def run_notebook(name: str, settings: Settings, workdir: Path, parameters: str = "") -> nbformat.NotebookNode:
    """Execute notebooks/<name>.ipynb with ``parameters`` injected; a failing cell raises."""
    book = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    if parameters:
        tagged = [n for n, cell in enumerate(book.cells) if "parameters" in cell.metadata.get("tags", [])]
        assert len(tagged) == 1, f"{name}: one cell must be tagged 'parameters'"
        injected = nbformat.v4.new_code_cell(parameters)
        injected.metadata["tags"] = ["injected-parameters"]
        book.cells.insert(tagged[0] + 1, injected)
    client = NotebookClient(book, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(workdir)}})
    try:
        client.execute(env=kernel_environment(settings))
    finally:
        nbformat.write(book, workdir / f"{name}.executed.ipynb")  # kept for a failing run's post-mortem
    return book


def outputs(book: nbformat.NotebookNode) -> list[dict[str, Any]]:
    return [output for cell in book.cells if cell.cell_type == "code" for output in cell.get("outputs", [])]


def images(book: nbformat.NotebookNode) -> int:
    return sum("image/png" in output.get("data", {}) for output in outputs(book))


def printed(book: nbformat.NotebookNode) -> str:
    return "".join(output.get("text", "") for output in outputs(book) if output["output_type"] == "stream")


def test_committed_notebooks_have_no_outputs_and_a_parameters_cell() -> None:
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        book = nbformat.read(path, as_version=4)
        nbformat.validate(book)
        code = [cell for cell in book.cells if cell.cell_type == "code"]
        assert all(not cell.outputs and cell.execution_count is None for cell in code), f"{path.name} has outputs"
        assert "parameters" in code[0].metadata.get("tags", []), f"{path.name}: first code cell not tagged"


def test_explore_grid_runs_and_plots(small_lake: SmallLake, tmp_path: Path) -> None:
    book = run_notebook("explore_grid", small_lake.settings, tmp_path)
    assert f"dates {small_lake.first} .. {small_lake.last}" in printed(book)
    # load profiles, daily energy, feeder peaks, voltage range, anomalies
    assert images(book) == 5


def gold_rows(spark: SparkSession, settings: Settings, first: date, last: date) -> dict[tuple[str, date], Counter]:
    """(table name, date) -> multiset of the rows the lake holds now, read here directly."""
    held: dict[tuple[str, date], Counter] = {}
    for table in CHECKED:
        frame = spark.read.format(settings.lake.format).load(f"{settings.lake_root}/{table.path}")
        for row in frame.where(f"date between '{first}' and '{last}'").select(table.names).collect():
            held.setdefault((table.path.split("/")[-1], row["date"]), Counter())[tuple(row)] += 1
    return held


def expected_comparison(before: dict, after: dict) -> dict[tuple[str, str], tuple[int, int, int, int]]:
    """(table, date) -> rows before, rows after, rows only before, rows only after."""
    return {(name, day.isoformat()): (sum(before.get((name, day), Counter()).values()),
                                      sum(after.get((name, day), Counter()).values()),
                                      sum((before.get((name, day), Counter()) - after.get((name, day), Counter()))
                                          .values()),
                                      sum((after.get((name, day), Counter()) - before.get((name, day), Counter()))
                                          .values()))
            for name, day in set(before) | set(after)}


def comparison_csv(path: Path) -> dict[tuple[str, str], tuple[int, int, int, int]]:
    with path.open() as handle:
        return {(row["table"], row["date"]): (int(row["rows_before"]), int(row["rows_after"]),
                                              int(row["rows_only_before"]), int(row["rows_only_after"]))
                for row in csv.DictReader(handle)}


def test_backfill_check_finds_what_a_backfill_changed(small_lake: SmallLake, spark: SparkSession,
                                                      tmp_path: Path) -> None:
    settings, first, last = small_lake.settings, small_lake.first, small_lake.last
    backfilled = small_lake.dates[1]
    tables = repr([table.path.split("/")[-1] for table in CHECKED])
    common = f"START = {first.isoformat()!r}\nEND = {last.isoformat()!r}\nTABLES = {tables}\n"

    snapshot = run_notebook("backfill_check", settings, tmp_path,
                            common + "SNAPSHOT = 'before-backfill'\nTAKE_SNAPSHOT = True")
    assert "anomalies: saved to" in printed(snapshot)
    before = gold_rows(spark, settings, first, last)

    rerun = settings.model_copy(deep=True)
    rerun.aggregates.tou.holidays = [*rerun.aggregates.tou.holidays, backfilled]
    assert all(r.status == "ok" for r in aggregate_readings.main(rerun, backfilled, spark))
    after = gold_rows(spark, settings, first, last)
    expected = expected_comparison(before, after)
    changed = {key for key, (_, _, gone, new) in expected.items() if gone or new}
    assert changed and {day for _, day in changed} == {backfilled.isoformat()}, "the backfill changed nothing"

    for mode, parameters in (("delta time travel", ""), ("snapshot", "SNAPSHOT = 'before-backfill'\n")):
        result = tmp_path / f"{mode.replace(' ', '-')}.csv"
        book = run_notebook("backfill_check", settings, tmp_path,
                            common + parameters + f"OUTPUT_CSV = {str(result)!r}")
        assert comparison_csv(result) == expected, mode
        assert f"{len(changed)} of {len(expected)} table-dates changed" in printed(book), mode
        assert images(book) == 2, mode

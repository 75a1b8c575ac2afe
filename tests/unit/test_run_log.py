"""`_runs`: records of a stage reach the table in one commit, whatever the stage's outcome."""

from __future__ import annotations

from datetime import date

import pytest
from delta.tables import DeltaTable
from pyspark.sql import SparkSession

from jobs.stores.runs import RUNS_PATH, one_commit, recorded_run

DAY = date(2024, 10, 27)


def commits(spark: SparkSession, root: str) -> int:
    """How many commits the Delta `_runs` table has (0 before it exists)."""
    location = f"{root}/{RUNS_PATH}"
    if not DeltaTable.isDeltaTable(spark, location):
        return 0
    return DeltaTable.forPath(spark, location).history().count()


def test_the_records_of_a_block_are_appended_in_one_commit_even_when_it_fails(spark: SparkSession,
                                                                              tmp_path) -> None:
    root = str(tmp_path)
    with pytest.raises(ValueError, match="bad table"), one_commit(root):
        with recorded_run(root, "aggregate", "gold/a", DAY) as first:
            first.rows_written = 7
        assert commits(spark, root) == 0  # kept until the block ends
        with recorded_run(root, "aggregate", "gold/b", DAY):
            raise ValueError("bad table")

    assert commits(spark, root) == 1
    rows = {row.table: row for row in spark.read.format("delta").load(f"{root}/{RUNS_PATH}").collect()}
    assert (rows["gold/a"].status, rows["gold/a"].rows_written) == ("ok", 7)
    assert (rows["gold/b"].status, rows["gold/b"].error) == ("failed", "ValueError: bad table")


def test_outside_a_block_each_record_is_appended_at_once(spark: SparkSession, tmp_path) -> None:
    root = str(tmp_path)
    for n, table in enumerate(("gold/a", "gold/b"), start=1):
        with recorded_run(root, "aggregate", table, DAY):
            pass
        assert commits(spark, root) == n

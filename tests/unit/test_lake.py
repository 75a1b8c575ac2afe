"""Lake writes report what they put on disk: rows, files and bytes of the replaced partition."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.stores.lake import LakeTableRef

DAY, OTHER_DAY = date(2024, 10, 27), date(2024, 10, 28)


def readings(spark: SparkSession, day: date, rows: int, files: int) -> DataFrame:
    return (spark.range(rows, numPartitions=1).select(F.concat(F.lit("MTR-"), F.col("id").cast("string")).alias("meter_id"),
                                                      (F.col("id") * 0.25).alias("kwh"), F.lit(day).alias("date"))
            .repartition(files))


def files_on_disk(partition: Path) -> list[Path]:
    """The data files under a partition directory, read from the directory itself."""
    return [path for path in partition.iterdir() if path.is_file() and not path.name.startswith((".", "_"))]


@pytest.mark.parametrize("table_format", ["delta", "parquet", "orc"])
def test_a_partition_write_reports_the_rows_files_and_bytes_it_left(spark: SparkSession, tmp_path: Path,
                                                                    table_format: str) -> None:
    table = LakeTableRef(spark, str(tmp_path), "bronze/readings", table_format)
    table.replace_partition(readings(spark, OTHER_DAY, 50, 1), OTHER_DAY)
    table.replace_partition(readings(spark, DAY, 300, 3), DAY)

    rerun = table.replace_partition(readings(spark, DAY, 120, 2), DAY)

    partition = tmp_path / "bronze" / "readings" / f"date={DAY}"
    if table_format == "delta":  # the replaced files stay on disk until VACUUM: only the live ones count
        live = {Path(uri.removeprefix("file:")).name for uri in table.read_partition(DAY).inputFiles()}
        files = [path for path in files_on_disk(partition) if path.name in live]
    else:
        files = files_on_disk(partition)
    assert (rerun.rows, rerun.files, rerun.bytes) == (120, len(files), sum(path.stat().st_size for path in files))
    assert rerun.files == 2
    assert table.read_partition(DAY).count() == 120


def test_a_delta_write_of_no_rows_reports_none(spark: SparkSession, tmp_path: Path) -> None:
    table = LakeTableRef(spark, str(tmp_path), "gold/anomalies", "delta")
    table.replace_partition(readings(spark, DAY, 10, 1), DAY)

    emptied = table.replace_partition(readings(spark, DAY, 0, 1), DAY)

    assert (emptied.rows, emptied.files, emptied.bytes) == (0, 0, 0)
    assert table.read_partition(DAY).count() == 0


def test_delta_keeps_file_statistics_of_the_stats_columns_only(spark: SparkSession, tmp_path: Path) -> None:
    table = LakeTableRef(spark, str(tmp_path), "bronze/readings", "delta")

    table.replace_partition(readings(spark, DAY, 30, 1), DAY, stats_columns=("meter_id",))

    commits = sorted((tmp_path / "bronze" / "readings" / "_delta_log").glob("*.json"))
    added = [json.loads(line)["add"] for line in commits[-1].read_text().splitlines() if '"add"' in line]
    assert [set(json.loads(add["stats"])["minValues"]) for add in added] == [{"meter_id"}]


def test_a_delta_write_that_changes_nothing_reports_the_partition_as_it_is(spark: SparkSession, tmp_path: Path) -> None:
    table = LakeTableRef(spark, str(tmp_path), "gold/anomalies", "delta")
    table.replace_partition(readings(spark, OTHER_DAY, 10, 1), OTHER_DAY)

    nothing = table.replace_partition(readings(spark, DAY, 0, 1), DAY)  # no rows into an empty partition: no commit

    assert (nothing.rows, nothing.files, nothing.bytes) == (0, 0, 0)


@pytest.mark.parametrize("table_format", ["parquet", "orc"])
def test_a_swap_killed_between_its_renames_is_rolled_back_by_the_next_write(spark: SparkSession, tmp_path: Path,
                                                                             table_format: str) -> None:
    """What a run killed between the two renames leaves, made by hand: the old partition moved
    aside under _staging, the new one staged there, nothing in the date's place."""
    table = LakeTableRef(spark, str(tmp_path), "silver/readings", table_format)
    table.replace_partition(readings(spark, DAY, 40, 2), DAY)
    table.replace_partition(readings(spark, OTHER_DAY, 7, 1), OTHER_DAY)
    root = tmp_path / "silver" / "readings"
    (root / "_staging").mkdir(exist_ok=True)
    (root / f"date={DAY}").rename(root / "_staging" / f"retired-date={DAY}-killed")
    readings(spark, DAY, 99, 1).drop("date").write.format(table_format).save(str(root / "_staging" / f"date={DAY}-x"))
    assert table.read_partition(DAY).count() == 0, "the window a killed swap leaves open"

    table.recover_swap(DAY)

    assert table.read_partition(DAY).count() == 40, "the old partition is back"
    assert table.read_partition(OTHER_DAY).count() == 7
    assert sorted(path.name for path in (root / "_staging").iterdir()) == [], "the killed run's copies are gone"

    (root / f"date={DAY}").rename(root / "_staging" / f"retired-date={DAY}-killed-again")
    written = table.replace_partition(readings(spark, DAY, 12, 1), DAY)
    assert written.rows == 12 and table.read_partition(DAY).count() == 12
    assert list((root / "_staging").iterdir()) == []


def test_vacuum_deletes_replaced_files_of_silver_and_gold_too(spark: SparkSession, settings, tmp_path: Path) -> None:
    """Each table's partition written twice: the first write's files are replaced; a vacuum with
    no retention (Delta's safety check off, as only a test may) leaves only the live files."""
    from jobs.stores.lake import vacuum
    from schemas.gold import METER_DAILY
    from schemas.lake import SILVER_METER_READINGS

    local = settings.model_copy(deep=True)
    local.lake.root = str(tmp_path)
    local.lake = local.lake.model_copy(update={"vacuum_retention_hours": 0})
    tables = {path: LakeTableRef(spark, str(tmp_path), path, "delta")
              for path in ("bronze/meter_readings", SILVER_METER_READINGS.path, METER_DAILY.path)}
    for table in tables.values():
        table.replace_partition(readings(spark, DAY, 30, 2), DAY)
        table.replace_partition(readings(spark, DAY, 20, 1), DAY)

    def data_files(path: str) -> int:
        return len(files_on_disk(tmp_path / path / f"date={DAY}"))

    assert all(data_files(path) == 3 for path in tables)
    spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "false")
    try:
        vacuumed = vacuum(spark, local)
    finally:
        spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "true")
    assert set(tables) <= set(vacuumed)
    assert {path: data_files(path) for path in tables} == {path: 1 for path in tables}
    assert all(table.read_partition(DAY).count() == 20 for table in tables.values())

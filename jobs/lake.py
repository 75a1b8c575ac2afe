"""Lake I/O: replace exactly one date partition of a table, in Delta, Parquet or ORC.

Delta replaces the partition with ``replaceWhere`` in one commit: a reader sees the old or
the new partition, never a mix. Parquet and ORC have no transaction log, so the new
partition is written to a staging directory beside the table and swapped in with two
renames (old partition aside, staging in); between the two a reader finds the partition
missing for a moment. That window is documented in the README. All file operations use
Hadoop's FileSystem API, so any Hadoop URI (s3a://, abfss://, hdfs://) works as the root.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from delta.tables import DeltaTable
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from jobs.config import LakeFormat
from schemas.lake import PARTITION_COLUMN


@dataclass(frozen=True)
class PartitionFiles:
    """What a partition holds on disk."""

    files: int
    bytes: int


class LakeTableRef:
    """One lake table at ``root/path`` stored as ``table_format``."""

    def __init__(self, spark: SparkSession, root: str, path: str, table_format: LakeFormat) -> None:
        self.spark = spark
        self.location = f"{root.rstrip('/')}/{path}"
        self.format = table_format

    def _path(self, location: str):  # noqa: ANN202 - a py4j JavaObject
        return self.spark._jvm.org.apache.hadoop.fs.Path(location)

    def _fs(self):  # noqa: ANN202 - a py4j JavaObject
        hadoop_conf = self.spark._jsc.hadoopConfiguration()
        return self._path(self.location).getFileSystem(hadoop_conf)

    def partition_location(self, day: date) -> str:
        return f"{self.location}/{PARTITION_COLUMN}={day.isoformat()}"

    def exists(self) -> bool:
        marker = f"{self.location}/_delta_log" if self.format == "delta" else self.location
        return bool(self._fs().exists(self._path(marker)))

    def read(self, schema: StructType | None = None) -> DataFrame:
        """The table; Parquet and ORC take ``schema`` (the lake schema) so partition and
        added columns get their declared types instead of inferred ones."""
        reader = self.spark.read.format(self.format)
        if schema is not None and self.format != "delta":
            reader = reader.schema(schema)
        return reader.load(self.location)

    def read_partition(self, day: date, schema: StructType | None = None) -> DataFrame:
        return self.read(schema).where(F.col(PARTITION_COLUMN) == F.lit(day))

    def partition_files(self, day: date) -> PartitionFiles:
        """Data files and bytes of the partition, from the table's own file listing (for Delta
        the live version's files only); no Spark job runs."""
        if not self.exists():
            return PartitionFiles(0, 0)
        fs = self._fs()
        paths = self.read_partition(day).inputFiles()
        return PartitionFiles(len(paths), sum(fs.getFileStatus(self._path(path)).getLen() for path in paths))

    def replace_partition(self, frame: DataFrame, day: date) -> None:
        """Make ``frame`` (rows of ``day`` only) the whole content of that date's partition."""
        if self.format == "delta":
            (frame.write.format("delta").mode("overwrite")
             .option("replaceWhere", f"{PARTITION_COLUMN} = '{day.isoformat()}'")
             .option("mergeSchema", "true")  # a new nullable column flows into new partitions
             .partitionBy(PARTITION_COLUMN).save(self.location))
            return
        # The partition value lives in the directory name, as Spark's own partitioned writes do.
        staging = f"{self.location}/_staging/{PARTITION_COLUMN}={day.isoformat()}-{uuid.uuid4().hex}"
        frame.drop(PARTITION_COLUMN).write.format(self.format).save(staging)
        self._swap_in(staging, self.partition_location(day))

    def keep_rows(self, condition: Column) -> None:
        """Delete every row not matching ``condition`` (Delta: one DELETE commit; Parquet/ORC:
        the kept rows are written beside the table and swapped in, the same short window as a
        partition swap). For small unpartitioned tables such as `_runs`."""
        if self.format == "delta":
            DeltaTable.forPath(self.spark, self.location).delete(~condition)
            return
        staging = f"{self.location}-staging-{uuid.uuid4().hex}"
        self.read().where(condition).write.format(self.format).save(staging)
        self._swap_in(staging, self.location, retired=f"{self.location}-retired-{uuid.uuid4().hex}")

    def _swap_in(self, staging: str, location: str, retired: str | None = None) -> None:
        """Move ``location`` aside (by default under the table's ``_staging``, which readers
        skip), ``staging`` into its place, then delete the old files."""
        fs = self._fs()
        target = self._path(location)
        retired = self._path(retired or f"{self.location}/_staging/retired-{uuid.uuid4().hex}")
        if fs.exists(target):
            fs.rename(target, retired)
        fs.mkdirs(target.getParent())
        if not fs.rename(self._path(staging), target):
            raise OSError(f"could not move {staging} to {target}")
        fs.delete(retired, True)

"""Build the search indices of one local date from the gold tables and the catalogue.

``meters`` and this month's member of ``readings-daily`` (documents from
jobs/transforms/search_documents.py) are each built as a new version beside the live one and
swapped in with one ``_aliases`` call (jobs/stores/search_indices.py), or, with
``release.mode: candidate``, put under the candidate alias until the release. Documents are built in
Spark and bulk-loaded from the driver over ``toLocalIterator``: one partition in memory at a
time.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.runtime.config import Settings
from jobs.runtime.spark import spark_session
from jobs.stores.cassandra_tables import read_catalogue
from jobs.stores.clients import elasticsearch_client
from jobs.stores.lake import lake_table
from jobs.stores.runs import RunRecord, recorded_run
from jobs.stores.search_indices import DocumentId, VersionedIndex, apply_index_templates
from jobs.transforms.search_documents import (
    device_id,
    meter_day_id,
    meter_documents,
    readings_daily_documents,
    without_nulls,
)
from schemas.cassandra import METERS, SENSORS
from schemas.gold import METER_DAILY
from schemas.lake import PARTITION_COLUMN
from schemas.search import day_families

log = logging.getLogger(__name__)

STAGE = "index"
SAMPLE_DOCUMENTS = 5


def build(family: VersionedIndex, frame: DataFrame, id_of: DocumentId, candidate: bool = False) -> tuple[str, int]:
    """Build one new version of ``family`` from ``frame`` and swap it in (as the ``candidate``:
    under the candidate alias)."""
    count = frame.count()
    stream = (without_nulls(row.asDict(recursive=True)) for row in frame.toLocalIterator())
    samples = {id_of(doc): doc for doc in (without_nulls(row.asDict(recursive=True))
                                           for row in frame.limit(SAMPLE_DOCUMENTS).collect())}
    index = family.build(stream, id_of, expected_docs=count, samples=samples, candidate=candidate)
    return index, count


def main(settings: Settings, run_date: date, spark: SparkSession | None = None) -> list[RunRecord]:
    """Build ``meters`` (each meter's figures of the newest day in gold) and ``run_date``'s month's
    member of ``readings-daily`` (every day of that month in gold)."""
    spark = spark or spark_session(settings, app_name=f"gridlake-index-{run_date}")
    es = elasticsearch_client(settings)
    apply_index_templates(es)  # new versions take their mappings from the templates
    keyspace = settings.cassandra.keyspace
    catalogue = {table.name: read_catalogue(spark, keyspace, table) for table in (METERS, SENSORS)}
    daily = lake_table(spark, settings, METER_DAILY).read(METER_DAILY.spark_schema())
    month_start = run_date.replace(day=1)
    next_month = (month_start + timedelta(days=32)).replace(day=1)
    # The whole month, and the meters' newest day: a late day re-indexed in an earlier month
    # neither drops that month's later days nor takes the meters back to it.
    daily_month = daily.where((F.col(PARTITION_COLUMN) >= F.lit(month_start))
                              & (F.col(PARTITION_COLUMN) < F.lit(next_month)))
    newest = max(daily.agg(F.max(PARTITION_COLUMN)).first()[0] or run_date, run_date)
    daily_latest = daily.where(F.col(PARTITION_COLUMN) == F.lit(newest))
    conf = settings.search
    records = []
    documents = {"meters": (meter_documents(catalogue["meters"], catalogue["sensors"], daily_latest), device_id),
                 "readings-daily": (readings_daily_documents(daily_month, catalogue["meters"]), meter_day_id)}
    candidate = settings.release.mode == "candidate"
    for alias, base in day_families(run_date):
        family = VersionedIndex(es, alias, base, conf.replicas, conf.keep_versions)
        frame, id_of = documents[alias]
        with recorded_run(settings.lake_root, STAGE, family.base, run_date) as record:
            index, count = build(family, frame, id_of, candidate)
            record.rows_read = record.rows_written = count
            log.info("stage=index date=%s alias=%s index=%s docs=%d", run_date, family.alias, index, count)
        records.append(record)
    return records

"""The serving cache's entries of a date, as pure DataFrame and Column functions.

Entries follow schemas/cache_keys.py: per meter its day, its hours, its time-of-use bands, its
month to date and its latest day; per feeder, substation and region the day's totals; per
feeder and region the day's top consumers. Each is a row (family, key parts, document): the
document is the JSON the API sends for the entry, made here once so that no request
serialises it again. ``redis_rows`` gives the rows their Redis keys, TTLs and (write-behind)
queued durable copies, and ``durable_rows`` the ``cache_entries`` rows of their
write-through copies.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from functools import reduce
from itertools import chain
from operator import or_
from string import Formatter

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DataType, TimestampNTZType, TimestampType
from pyspark.sql.window import Window

from schemas import cache_keys, gold
from schemas.cache_keys import KEY_FAMILIES, KeyFamily
from schemas.cassandra import CACHE_BUCKETS

METER_FIGURES = ("kwh_import", "kwh_export", "peak_kw", "peak_at", "load_factor", "voltage_min_v", "voltage_mean_v",
                 "voltage_max_v", "estimated_share", "completeness")


#: gold meter_monthly's figures a month to date is published with.
MONTH_FIGURES = ("kwh_import", "kwh_export", "peak_kw", "peak_at", "load_factor", "voltage_min_v", "voltage_max_v",
                 "days_with_data", "estimated_share", "completeness")
AREA_FIGURES = ("kwh_import", "kwh_export", "coincident_peak_kw", "coincident_peak_at", "meter_count",
                "meters_expected", "completeness")


#: (cache level, gold column, gold table) of the area rollups
AREAS = (("feeder", "feeder_id", gold.FEEDER_DAILY), ("substation", "substation_id", gold.SUBSTATION_DAILY),
         ("region", "region", gold.REGION_DAILY))


TOP_CONSUMER_AREAS = (("feeder", "feeder_id"), ("region", "region"))


_ISO_SECONDS = "yyyy-MM-dd'T'HH:mm:ss"


def as_text(column: str, data_type: DataType) -> Column:
    """A figure as the text the API reads: decimals with their exact digits, timestamps ISO 8601
    in the session time zone (UTC; a fraction only when there is one, like Python's isoformat),
    integers and dates as Spark casts them."""
    value = F.col(column)
    if isinstance(data_type, (TimestampType, TimestampNTZType)):
        return (F.when(F.date_format(value, "SSSSSS") == "000000", F.date_format(value, _ISO_SECONDS))
                .otherwise(F.date_format(value, _ISO_SECONDS + ".SSSSSS")))
    return value.cast("string")


def figures(frame: DataFrame, names: tuple[str, ...]) -> Column:
    """The figures of each row: those of ``names`` that are present, as text."""
    types = {field.name: field.dataType for field in frame.schema.fields}
    pairs = chain.from_iterable((F.lit(name), as_text(name, types[name])) for name in names)
    return F.map_filter(F.create_map(*pairs), lambda _, value: value.isNotNull())


def has_figures(names: tuple[str, ...]) -> Column:
    """Whether a row has any of ``names``: without one it has no entry (nothing to serve). Asked of the row's columns rather than of ``figures``' map, which a
    filter on it would make Spark build twice per row (for the filter and for the entry), and
    interpreted (map_filter has no generated code)."""
    return reduce(or_, (F.col(name).isNotNull() for name in names))


def document(family: KeyFamily, parts: dict[str, Column], value: Column) -> Column:
    """The entry's JSON document, as ``KeyFamily.document`` makes it: the key parts, then
    ``value`` under the family's ``value_name``."""
    return F.to_json(F.struct(*(part.cast("string").alias(name) for name, part in parts.items()),
                              value.alias(family.value_name)))


def _entry(family: KeyFamily, parts: dict[str, Column], body: Column) -> list[Column]:
    """The columns of an entry row: ``family`` (its name), ``parts`` (the key parts, text) and
    ``document`` (the JSON ``body``)."""
    return [F.lit(family.name).alias("family"),
            F.create_map(*chain.from_iterable((F.lit(name), part.cast("string")) for name, part in parts.items()))
            .alias("parts"),
            body.alias("document")]


def meter_day_entries(day: date, meter_daily: DataFrame, latest: bool = True) -> DataFrame:
    """Each meter's day and, when ``day`` is the newest published, its latest day: the same
    document under two keys, made once per meter (a projection, then one row per entry)."""
    parts = {"meter_id": F.col("meter_id"), "date": F.lit(day.isoformat())}
    documents = meter_daily.where(has_figures(METER_FIGURES)).select(
        "meter_id", document(cache_keys.METER_DAILY, parts, figures(meter_daily, METER_FIGURES)).alias("body"))
    daily = documents.select(*_entry(cache_keys.METER_DAILY, parts, F.col("body")))
    if not latest:
        return daily
    return daily.unionByName(documents.select(*_entry(cache_keys.METER_LATEST, {"meter_id": F.col("meter_id")},
                                                      F.col("body"))))


def _sorted_map(entries: Column) -> Column:
    """A map from an array of (key, value) structs, its keys in order: the document lists them so."""
    return F.map_from_entries(F.array_sort(entries))


def meter_hour_entries(day: date, meter_hourly: DataFrame) -> DataFrame:
    """Each meter's kWh per local hour, ``{"00": "1.250", ...}``, hours without kWh left out. The
    hour that the autumn DST change repeats (right after itself, in time order) appears twice:
    its second occurrence is ``"02b"``."""
    in_time_order = Window.partitionBy("meter_id").orderBy("hour_start")
    hour = F.lpad(F.col("local_hour").cast("string"), 2, "0")
    repeated = F.coalesce(F.lag("local_hour").over(in_time_order) == F.col("local_hour"), F.lit(False))
    named = meter_hourly.select(
        "meter_id", F.concat(hour, F.when(repeated, F.lit("b")).otherwise(F.lit(""))).alias("hour"),
        F.col("kwh_import").cast("string").alias("kwh_import"))
    hours = (named.where(F.col("kwh_import").isNotNull()).groupBy("meter_id")
             .agg(_sorted_map(F.collect_list(F.struct("hour", "kwh_import"))).alias("hours")))
    parts = {"meter_id": F.col("meter_id"), "date": F.lit(day.isoformat())}
    return hours.select(*_entry(cache_keys.METER_HOURLY, parts, document(cache_keys.METER_HOURLY, parts,
                                                                          F.col("hours"))))


def meter_tou_entries(day: date, tou_daily: DataFrame) -> DataFrame:
    """Each meter's kWh imported per time-of-use band of the day, ``{"off_peak": "8.250", ...}``,
    bands without kWh left out."""
    bands = (tou_daily.where(F.col("kwh_import").isNotNull()).groupBy("meter_id")
             .agg(_sorted_map(F.collect_list(F.struct("band", F.col("kwh_import").cast("string")))).alias("bands")))
    parts = {"meter_id": F.col("meter_id"), "date": F.lit(day.isoformat())}
    return bands.select(*_entry(cache_keys.METER_TOU, parts, document(cache_keys.METER_TOU, parts, F.col("bands"))))


def meter_month_entries(day: date, meter_monthly: DataFrame) -> DataFrame:
    """Each meter's month to date as of ``day`` (gold meter_monthly of the day's month): its
    figures and the month it is of."""
    month = F.create_map(F.lit("month"), F.lit(day.strftime("%Y-%m")))
    parts = {"meter_id": F.col("meter_id"), "date": F.lit(day.isoformat())}
    body = document(cache_keys.METER_MONTH, parts, F.map_concat(figures(meter_monthly, MONTH_FIGURES), month))
    return meter_monthly.where(has_figures(MONTH_FIGURES)).select(*_entry(cache_keys.METER_MONTH, parts, body))


def area_day_entries(day: date, areas: dict[str, DataFrame]) -> DataFrame:
    """Each feeder's, substation's and region's totals of the day."""
    def entries(level: str, column: str) -> DataFrame:
        parts = {"level": F.lit(level), "area_id": F.col(column), "date": F.lit(day.isoformat())}
        body = document(cache_keys.AREA_DAILY, parts, figures(areas[level], AREA_FIGURES))
        return areas[level].where(has_figures(AREA_FIGURES)).select(*_entry(cache_keys.AREA_DAILY, parts, body))

    return reduce(DataFrame.unionByName, (entries(level, column) for level, column, _ in AREAS))


def top_consumers(meter_daily: DataFrame, area_column: str, top_n: int) -> DataFrame:
    """The ``top_n`` meters of each area by kWh imported that day, largest first (ties by meter
    id): ``meters``, an array of (meter_id, kwh_import)."""
    rank = Window.partitionBy(area_column).orderBy(F.col("kwh_import").desc(), F.col("meter_id"))
    ranked = (meter_daily.where(F.col(area_column).isNotNull() & F.col("kwh_import").isNotNull())
              .withColumn("rank", F.row_number().over(rank)).where(F.col("rank") <= top_n))
    in_rank_order = F.array_sort(F.collect_list(F.struct(
        "rank", "meter_id", F.col("kwh_import").cast("double").alias("kwh_import"))))
    return ranked.groupBy(area_column).agg(
        F.transform(in_rank_order, lambda top: F.struct(top["meter_id"].alias("meter_id"),
                                                        top["kwh_import"].alias("kwh_import"))).alias("meters"))


def cache_entries(day: date, meter_daily: DataFrame, meter_hourly: DataFrame, areas: dict[str, DataFrame],
                  top_n: int, latest: bool = True, tou_daily: DataFrame | None = None,
                  meter_monthly: DataFrame | None = None) -> DataFrame:
    """Every cache entry of ``day`` as entry rows (see ``_entry``), built in Spark. An entry needs a
    figure: a meter's or an area's day without one, or a meter without a single hour's kWh, has
    none; ``meter_latest`` only if ``latest``; time-of-use bands and the month to date from
    ``tou_daily`` and ``meter_monthly`` when given."""
    def tops(level: str, column: str) -> DataFrame:
        parts = {"level": F.lit(level), "area_id": F.col(column), "date": F.lit(day.isoformat())}
        body = document(cache_keys.AREA_TOP_CONSUMERS, parts, F.col("meters"))
        return top_consumers(meter_daily, column, top_n).select(*_entry(cache_keys.AREA_TOP_CONSUMERS, parts, body))

    frames = [meter_day_entries(day, meter_daily, latest), meter_hour_entries(day, meter_hourly),
              area_day_entries(day, areas), *(tops(level, column) for level, column in TOP_CONSUMER_AREAS)]
    if tou_daily is not None:
        frames.append(meter_tou_entries(day, tou_daily))
    if meter_monthly is not None:
        frames.append(meter_month_entries(day, meter_monthly))
    return reduce(DataFrame.unionByName, frames)


def redis_key(version: str, prefix: str) -> Column:
    """Each entry row's Redis key under ``version``: its family's pattern (schemas/cache_keys.py)
    filled from the row's parts in Spark, the same string as ``KeyFamily.key``."""
    def filled(family: KeyFamily) -> Column:
        pieces = []
        for literal, name, _, _ in Formatter().parse(family.pattern):
            pieces.append(F.lit(literal))
            if name is not None:
                pieces.append(F.lit({"prefix": prefix, "version": version}[name]) if name in ("prefix", "version")
                              else F.col("parts")[name])
        return F.concat(*pieces)
    return _per_family(filled)


def queued_copy() -> Column:
    """Each entry row's durable copy as the write-behind stream carries it (JSON of family, parts
    and value, the document as text, as WriteBehindQueue writes it and
    jobs/stores/cache_writeback.py reads it); null for a family without copies of its own
    (``has_durable_copy``)."""
    return F.when(_has_durable_copy(), F.to_json(F.struct("family", "parts", F.col("document").alias("value"))))


def _per_family(column: Callable[[KeyFamily], Column]) -> Column:
    """``column(family)`` of each entry row's own family."""
    choice = None
    for family in KEY_FAMILIES:
        matches = F.col("family") == family.name
        choice = F.when(matches, column(family)) if choice is None else choice.when(matches, column(family))
    return choice


def _joined_parts(names: tuple[str, ...]) -> Column:
    return F.concat_ws(":", *(F.col("parts")[name] for name in names))


def _has_durable_copy() -> Column:
    return F.col("family").isin(*(family.name for family in KEY_FAMILIES if family.has_durable_copy))


def durable_rows(entries: DataFrame, version: str) -> DataFrame:
    """The ``cache_entries`` rows of entry rows published under ``version``: the Spark form of
    DurableCopies' rows (jobs/stores/cache_durable.py), named by the family's ``durable_month``,
    ``durable_tag`` and ``durable_item`` (schemas/cache_keys.py) and the tag's ``cache_bucket``
    (schemas/cassandra.py), the value the entry's document.

    No column holds the time of writing (Cassandra keeps it: ``WRITETIME(value)``). A
    ``current_timestamp()`` here became a literal in the stage's generated code, new with every
    publish: Spark compiled its projection again each time, and the JVM ran it interpreted and
    compiled it anew."""
    tagged = entries.where(_has_durable_copy()).select(
        "family", "parts", "document", _per_family(lambda family: _joined_parts(family.tag_parts)).alias("tag"))
    return tagged.select(
        "family", F.substring(F.col("parts")["date"], 1, 7).alias("month"),
        (F.crc32(F.col("tag").cast("binary")) % CACHE_BUCKETS).cast("int").alias("bucket"), "tag",
        _per_family(lambda family: _joined_parts(family.item_parts)).alias("item"), F.lit(version).alias("version"),
        F.col("document").alias("value"))


def redis_rows(entries: DataFrame, version: str, prefix: str, ttl_s: int, family_ttl_s: Mapping[str, int],
               queued: bool) -> DataFrame:
    """Entry rows as the Redis writer takes them: ``key`` under ``version``, ``ttl_s`` (the
    family's own or ``ttl_s``), ``document`` and, when the durable copies are ``queued`` behind
    (write-behind), ``copy`` (else null)."""
    ttl = _per_family(lambda family: F.lit(family_ttl_s.get(family.name, ttl_s)).cast("long"))
    copy = queued_copy() if queued else F.lit(None).cast("string")
    return entries.select(redis_key(version, prefix).alias("key"), ttl.alias("ttl_s"), "document",
                          copy.alias("copy"))

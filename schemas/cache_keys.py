"""The Redis key layout the serving API reads, as code (the README documents it for the API).

Every key but the pointers carries the version of the publish that wrote it. A publish
writes one local day, and flips that day's pointer ``gridlake:live:<date>`` (a single-key
SET, the only atomic change a Redis Cluster allows); the API reads a day's keys through its
pointer. ``gridlake:live`` points at the version of the newest day published, whose
``meter_latest`` keys are the meters' latest days: publishing an older day (a backfill)
never moves it back. Hash tags put the keys one read needs in one
cluster slot: all keys of a meter share ``{meter_id}``, all keys of an area share
``{level:area_id}``. The version is never the tag, or a whole version would land in one slot.

Every value is a string: the JSON document the API sends for it, ready to send (the key's
parts and the family's figures under ``value_name``). The API returns it as stored, without
parsing or serialising per request; the version and the store that served it travel in
headers, so the same bytes are right whichever tier answers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from string import Formatter
from typing import Any, Literal

import orjson

#: The namespace of every key; conf can run several (e.g. tests beside a developer's own).
PREFIX = "gridlake"


def pointer_key(prefix: str = PREFIX) -> str:
    """The pointer to the version of the newest day published (``meter_latest`` is read there)."""
    return f"{prefix}:live"


def day_pointer_key(day: str, prefix: str = PREFIX) -> str:
    """The pointer to the live version of one local day (YYYY-MM-DD): its keys are read there."""
    return f"{prefix}:live:{day}"


def publishing_key(version: str, prefix: str = PREFIX) -> str:
    """The marker of a publish in progress: set (with an expiry) before its first key is written,
    deleted once it is flipped, left a candidate, or has failed. Maintenance spares a version
    that has one."""
    return f"{prefix}:publishing:{version}"


def candidate_pointer_key(day: str, prefix: str = PREFIX) -> str:
    """The pointer to a day's candidate version: published, not yet live, served only to the
    edge's canary pool until it is promoted (flipped live) or aborted."""
    return f"{prefix}:candidate:{day}"

AreaLevel = Literal["feeder", "substation", "region"]


@dataclass(frozen=True)
class KeyFamily:
    """A family of keys: its pattern, the name of its figures in the document, and what it holds."""

    name: str
    pattern: str
    value_name: str
    holds: str
    #: The parts inside the hash tag, and the rest: together they name the durable copy's row.
    tag_parts: tuple[str, ...]
    item_parts: tuple[str, ...]
    #: For a family whose values are another family's newest entry in Cassandra (``meter_latest``
    #: is the meter's newest ``meter_daily`` plus its date): it keeps no durable copy of its own,
    #: and a miss reads that family's newest row of the tag. Two publishes of different days,
    #: whichever writes Cassandra last, leave the later day as the newest row.
    newest_of: KeyFamily | None = None

    def key(self, version: str, prefix: str = PREFIX, **parts: str) -> str:
        return self.pattern.format(prefix=prefix, version=version, **parts)

    def parts_of(self, key: str, prefix: str = PREFIX) -> dict[str, str] | None:
        """The key parts of ``key`` when it is a key of this family (under any version), else None."""
        pattern = "".join(re.escape(literal) + ("" if name is None else "[^:]+" if name == "version"
                                                else re.escape(prefix) if name == "prefix" else f"(?P<{name}>[^:{{}}]+)")
                          for literal, name, _, _ in Formatter().parse(self.pattern))
        found = re.fullmatch(pattern, key)
        return found.groupdict() if found else None

    def document(self, parts: Mapping[str, str], value: Any) -> str:
        """The JSON document stored for an entry: its key parts, then ``value`` under
        ``value_name``. The Spark publish builds the same document (jobs/transforms/cache_entries.py).
        A ``newest_of`` family stores its source's document (``meter_latest``: the ``meter_daily``
        document of the meter's latest day, with that day's date)."""
        return orjson.dumps({**parts, self.value_name: value}).decode()

    @property
    def has_durable_copy(self) -> bool:
        """Whether the entries of this family are written to Cassandra's ``cache_entries``."""
        return self.newest_of is None

    def durable_month(self, parts: dict[str, str]) -> str:
        """The month (YYYY-MM) of the entry's date: with the tag's bucket, the partition of its
        durable copy in Cassandra's ``cache_entries``."""
        return parts["date"][:7]

    def durable_tag(self, parts: dict[str, str]) -> str:
        """The tag of the entry's durable copy in Cassandra's ``cache_entries``: the parts of the
        key's hash tag."""
        return ":".join(parts[p] for p in self.tag_parts)

    def durable_item(self, parts: dict[str, str]) -> str:
        """The rest of the entry's durable copy's row key: the key's other parts."""
        return ":".join(parts[p] for p in self.item_parts)


METER_DAILY = KeyFamily(
    "meter_daily", "{prefix}:{version}:meter:{{{meter_id}}}:daily:{date}", "figures",
    "one meter's figures of one local day (kWh in/out, peak kW and time, load factor, voltage, completeness)",
    tag_parts=("meter_id",), item_parts=("date",),
)
METER_HOURLY = KeyFamily(
    "meter_hourly", "{prefix}:{version}:meter:{{{meter_id}}}:hourly:{date}", "kwh_import",
    "one meter's kWh per local hour of one day: {\"00\": \"0.412\", ...}, 23 to 25 hours on DST days",
    tag_parts=("meter_id",), item_parts=("date",),
)
METER_LATEST = KeyFamily(
    "meter_latest", "{prefix}:{version}:meter:{{{meter_id}}}:latest", "figures",
    "the meter's latest published day: the meter_daily document of that day",
    tag_parts=("meter_id",), item_parts=(), newest_of=METER_DAILY,
)
METER_TOU = KeyFamily(
    "meter_tou", "{prefix}:{version}:meter:{{{meter_id}}}:tou:{date}", "kwh_import_by_band",
    "one meter's kWh imported per time-of-use band of its tariff on one local day",
    tag_parts=("meter_id",), item_parts=("date",),
)
METER_MONTH = KeyFamily(
    "meter_month", "{prefix}:{version}:meter:{{{meter_id}}}:month:{date}", "figures",
    "one meter's month to date as of one published local day: gold meter_monthly's figures",
    tag_parts=("meter_id",), item_parts=("date",),
)
AREA_DAILY = KeyFamily(
    "area_daily", "{prefix}:{version}:area:{{{level}:{area_id}}}:daily:{date}", "figures",
    "a feeder's, substation's or region's totals of one local day",
    tag_parts=("level", "area_id"), item_parts=("date",),
)
AREA_TOP_CONSUMERS = KeyFamily(
    "area_top_consumers", "{prefix}:{version}:area:{{{level}:{area_id}}}:top:{date}", "meters",
    "the top meters of a feeder or region by kWh imported that day, largest first",
    tag_parts=("level", "area_id"), item_parts=("date",),
)

KEY_FAMILIES: tuple[KeyFamily, ...] = (METER_DAILY, METER_HOURLY, METER_LATEST, METER_TOU, METER_MONTH, AREA_DAILY,
                                       AREA_TOP_CONSUMERS)


def family_of(key: str, prefix: str = PREFIX) -> tuple[KeyFamily, dict[str, str]] | None:
    """The family and key parts of a published key, None for any other key (a pointer, a lock)."""
    for family in KEY_FAMILIES:
        if (parts := family.parts_of(key, prefix)) is not None:
            return family, parts
    return None

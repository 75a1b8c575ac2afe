"""The readings feeds: a Cassandra readings table, its day index, and the bronze table it feeds."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.cassandra import METER_DAYS, METER_READINGS, SENSOR_DAYS, SENSOR_READINGS, Table
from schemas.lake import BRONZE_METER_READINGS, BRONZE_SENSOR_READINGS, LakeTable


@dataclass(frozen=True)
class ReadingsFeed:
    """A Cassandra readings table, its day index, and the bronze table it feeds."""

    readings: Table
    days: Table
    bronze: LakeTable
    #: The GridConf field holding this feed's interval length in seconds.
    interval_setting: str

    @property
    def device_column(self) -> str:
        return self.readings.partition_key[0]

    def readings_per_day(self, grid: object) -> int:
        """Readings of one device on an ordinary day (DST days differ by an hour's worth);
        ``grid`` is the configuration's grid section, which holds the interval lengths."""
        return 86_400 // getattr(grid, self.interval_setting)


METER_FEED = ReadingsFeed(METER_READINGS, METER_DAYS, BRONZE_METER_READINGS, "meter_interval_s")


SENSOR_FEED = ReadingsFeed(SENSOR_READINGS, SENSOR_DAYS, BRONZE_SENSOR_READINGS, "sensor_interval_s")


FEEDS = (METER_FEED, SENSOR_FEED)

"""Release one local date's candidates when they pass their checks: grid_daily's ``release``
task with ``release.mode: candidate``.

The checks, each against a threshold of conf's ``release`` section:
- quarantine share: the day's quarantined readings / its bronze readings (from the lake);
- row counts: the candidate's keys, not zero, and within ``max_count_change`` of the live
  version's keys for the day when there is one;
- totals: the candidate's regions' total kWh imported within ``max_total_change`` of the live
  version's when there is one.
All passing, the candidates go live together (jobs/stores/data_release.py); any failing, the
stage fails with one line naming each failed check, the candidates stay where they are, and
grid_daily's ``abort`` task drops them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from pyspark.sql import SparkSession

from jobs.runtime.config import ReleaseConf, Settings
from jobs.runtime.spark import spark_session
from jobs.stores.data_release import VersionFigures, promote_release, version_figures
from jobs.stores.lake import lake_table
from jobs.stores.runs import RunRecord, recorded_run
from schemas.lake import BRONZE_METER_READINGS, SILVER_QUARANTINE

log = logging.getLogger(__name__)

STAGE = "release"


class ReleaseRejected(RuntimeError):
    """The candidates failed a check; nothing was promoted."""


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def _change(candidate: Decimal | int, live: Decimal | int) -> float:
    """The relative change from ``live`` to ``candidate`` (infinite from zero to anything else)."""
    if live == 0:
        return 0.0 if candidate == 0 else float("inf")
    return abs(float(candidate) - float(live)) / abs(float(live))


def release_checks(conf: ReleaseConf, quarantined: int, bronze: int, candidate: VersionFigures | None,
                   live: VersionFigures | None) -> list[Check]:
    """The checks of a day's candidate, from its counts and figures (no storage touched)."""
    share = quarantined / bronze if bronze else 0.0
    checks = [Check("quarantine share", share <= conf.max_quarantine_share,
                    f"{quarantined:,} of {bronze:,} readings = {share:.4f} (at most {conf.max_quarantine_share})")]
    if candidate is None:
        return [*checks, Check("candidate", False, "no candidate version of the day in Redis")]
    checks.append(Check("keys", candidate.keys > 0, f"{candidate.keys:,} keys in {candidate.version}"))
    if live is None:
        return checks
    keys_change, total_change = _change(candidate.keys, live.keys), _change(candidate.region_kwh, live.region_kwh)
    return [*checks,
            Check("row counts", keys_change <= conf.max_count_change,
                  f"{candidate.keys:,} keys against {live.keys:,} live: change {keys_change:.4f} "
                  f"(at most {conf.max_count_change})"),
            Check("totals", total_change <= conf.max_total_change,
                  f"regions' kWh imported {candidate.region_kwh} against {live.region_kwh} live: change "
                  f"{total_change:.4f} (at most {conf.max_total_change})")]


def main(settings: Settings, run_date: date, spark: SparkSession | None = None) -> list[RunRecord]:
    """Check ``run_date``'s candidates and promote them, or fail naming the checks that failed."""
    spark = spark or spark_session(settings, app_name=f"gridlake-release-{run_date}")
    with recorded_run(settings.lake_root, STAGE, "release", run_date) as record:
        bronze = lake_table(spark, settings, BRONZE_METER_READINGS).read_partition(run_date).count()
        quarantined = lake_table(spark, settings, SILVER_QUARANTINE).read_partition(run_date).count()
        candidate, live = version_figures(settings, run_date)
        checks = release_checks(settings.release, quarantined, bronze, candidate, live)
        for check in checks:
            log.info("stage=release date=%s check=%r ok=%s %s", run_date, check.name, check.ok, check.detail)
        failed = [check for check in checks if not check.ok]
        if failed:
            raise ReleaseRejected(f"{run_date}: not promoted: " + "; ".join(f"{c.name}: {c.detail}" for c in failed))
        release = promote_release(settings, run_date)
        record.rows_read = candidate.keys
        record.rows_written = release.copies
        log.info("stage=release date=%s promoted=%s indices=%s", run_date, release.version, release.indices)
    return [record]

"""The checks that gate a day's release, on counts and figures given directly."""

from decimal import Decimal

import pytest

from jobs.runtime.config import ReleaseConf
from jobs.stages.release import release_checks
from jobs.stores.data_release import VersionFigures

CONF = ReleaseConf(max_quarantine_share=0.05, max_count_change=0.05, max_total_change=0.1)
LIVE = VersionFigures("v20241027-live", keys=1000, region_kwh=Decimal("5000.000"))


def failed(checks) -> list[str]:  # noqa: ANN001
    return [check.name for check in checks if not check.ok]


def test_a_candidate_like_the_live_version_passes() -> None:
    candidate = VersionFigures("v20241027-new", keys=1010, region_kwh=Decimal("5100.000"))  # +1%, +2%
    checks = release_checks(CONF, quarantined=40, bronze=1000, candidate=candidate, live=LIVE)
    assert failed(checks) == [] and [c.name for c in checks] == ["quarantine share", "keys", "row counts", "totals"]


@pytest.mark.parametrize(("quarantined", "keys", "kwh", "refused"), [
    (51, 1000, "5000.000", ["quarantine share"]),               # 5.1% quarantined
    (0, 1051, "5000.000", ["row counts"]),                      # 5.1% more keys
    (0, 949, "5000.000", ["row counts"]),                       # 5.1% fewer keys
    (0, 1000, "5500.001", ["totals"]),                          # just over 10% more energy
    (0, 1000, "4499.999", ["totals"]),                          # just over 10% less energy
    (100, 0, "0", ["quarantine share", "keys", "row counts", "totals"]),
])
def test_each_check_refuses_beyond_its_threshold(quarantined: int, keys: int, kwh: str, refused: list[str]) -> None:
    candidate = VersionFigures("v20241027-new", keys=keys, region_kwh=Decimal(kwh))
    assert failed(release_checks(CONF, quarantined, 1000, candidate, LIVE)) == refused


def test_thresholds_are_inclusive() -> None:
    candidate = VersionFigures("v20241027-new", keys=1050, region_kwh=Decimal("5500.000"))  # exactly +5%, +10%
    assert failed(release_checks(CONF, quarantined=50, bronze=1000, candidate=candidate, live=LIVE)) == []


def test_a_new_day_has_no_live_version_to_compare_with() -> None:
    candidate = VersionFigures("v20241028-new", keys=10, region_kwh=Decimal("1.000"))
    checks = release_checks(CONF, quarantined=0, bronze=100, candidate=candidate, live=None)
    assert [c.name for c in checks] == ["quarantine share", "keys"] and failed(checks) == []


def test_no_candidate_is_refused() -> None:
    assert failed(release_checks(CONF, quarantined=0, bronze=100, candidate=None, live=LIVE)) == ["candidate"]

"""A publish runs only on servers whose scripts may declare flags (Redis 7.0 and later)."""

import pytest

from jobs.stores.cache_versions import runs_publish


@pytest.mark.parametrize(("redis_version", "runs"), [
    ("6.2.14", False),  # Debian 12 backports and many hosted Redis 6 servers
    ("6.0.16", False),
    ("7.0.0", True),
    ("7.0.15", True),  # Debian 12's, which the tests start
    ("7.4.1", True),
    ("10.0.0", True),  # compared as numbers, not as text ("10" < "7")
])
def test_the_publish_needs_redis_7_or_later(redis_version: str, runs: bool) -> None:
    assert runs_publish(redis_version) is runs

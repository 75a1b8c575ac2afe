"""Memcached as the serving API's optional first tier for hot keys.

Entries are stored under their Redis key, which carries the data version, so a flip of the
version makes the API ask for new keys: an old figure is never served after a flip, and no
invalidation is needed. Values are the entries' JSON; they live ``ttl_s`` at most. A failing
memcached is skipped (the read goes on to Redis), never an error.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from pymemcache.client.base import Client
from pymemcache.exceptions import MemcacheError

log = logging.getLogger(__name__)


class HotKeys:
    """A memcached server at ``host:port`` holding JSON values under versioned keys."""

    def __init__(self, server: str, ttl_s: int, timeout_s: float = 0.2) -> None:
        host, _, port = server.rpartition(":")
        self.ttl_s = ttl_s
        self.client = Client((host, int(port)), connect_timeout=timeout_s, timeout=timeout_s, no_delay=True)

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            found = self.client.get(key)
        except (MemcacheError, OSError) as exc:
            log.warning("event=memcached_unavailable op=get error=%s", type(exc).__name__)
            return None
        return orjson.loads(found) if found is not None else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        try:
            self.client.set(key, orjson.dumps(value), expire=self.ttl_s, noreply=True)
        except (MemcacheError, OSError) as exc:
            log.warning("event=memcached_unavailable op=set error=%s", type(exc).__name__)

    def close(self) -> None:
        self.client.close()

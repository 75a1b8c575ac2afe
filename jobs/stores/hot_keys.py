"""Memcached as the serving API's optional first tier for hot keys (asyncio, aiomcache).

Entries are stored under their Redis key, which carries the data version, so a flip of the
version makes the API ask for new keys: an old figure is never served after a flip, and no
invalidation is needed. Values are the entries' JSON documents as Redis holds them; they live ``ttl_s`` at most. A failing
memcached is skipped (the read goes on to Redis), never an error.
"""

from __future__ import annotations

import asyncio
import logging

import aiomcache

log = logging.getLogger(__name__)


class HotKeys:
    """A memcached server at ``host:port`` holding documents under versioned keys."""

    def __init__(self, server: str, ttl_s: int, timeout_s: float = 0.2, pool_size: int = 16) -> None:
        host, _, port = server.rpartition(":")
        self.ttl_s = ttl_s
        self.timeout_s = timeout_s
        self.client = aiomcache.Client(host, int(port), pool_size=pool_size)

    async def get(self, key: str) -> bytes | None:
        try:
            found = await asyncio.wait_for(self.client.get(key.encode()), self.timeout_s)
        except (aiomcache.exceptions.ClientException, OSError, asyncio.TimeoutError) as exc:
            log.warning("event=memcached_unavailable op=get error=%s", type(exc).__name__)
            return None
        return found

    async def put(self, key: str, document: bytes) -> None:
        try:
            await asyncio.wait_for(self.client.set(key.encode(), document, exptime=self.ttl_s),
                                   self.timeout_s)
        except (aiomcache.exceptions.ClientException, OSError, asyncio.TimeoutError) as exc:
            log.warning("event=memcached_unavailable op=set error=%s", type(exc).__name__)

    async def close(self) -> None:
        await self.client.close()


def server_stats(server: str) -> dict[str, str]:
    """A memcached server's ``stats`` (version, hits, misses...), for probes and benchmarks."""
    host, _, port = server.rpartition(":")

    async def stats() -> dict[str, str]:
        client = aiomcache.Client(host, int(port), pool_size=1)
        try:
            return {key.decode(): value.decode() for key, value in (await client.stats()).items()}
        finally:
            await client.close()

    return asyncio.run(asyncio.wait_for(stats(), 2))

"""Leases on (stage, date): one run of a stage for a date at a time, whoever starts it.

Two runs of one date race: an Airflow backfill ignores ``max_active_runs``, `gridlake backfill
--parallel 2` overlaps a date's runs with another's, an engineer's `gridlake run` goes beside
the scheduler. Their Parquet swaps nest, their index builds both add to an alias. Every runner
already shares Cassandra, so a run first takes the lease of its (stage, date): a row of
``stage_leases`` inserted with a lightweight transaction (``IF NOT EXISTS``: Paxos lets exactly
one of two runs have it) and a TTL (``lease.ttl_s``), renewed by a heartbeat thread while the
run goes and deleted when it ends. Renewals and the delete are conditional on the holder, so a
run that lost its lease (its heartbeats did not reach Cassandra for a whole TTL) never frees
another's, and it fails instead of reporting success.

A second run waits up to ``lease.wait_s`` and then fails with one line naming the holder. A
holder whose process is gone from this host (a killed backfill) is taken over at once; one
killed on another host frees the date when its TTL runs out.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timezone

import psutil
from cassandra.cluster import Session

from jobs.runtime.config import Settings
from jobs.stores.cassandra_profiles import WRITES
from jobs.stores.clients import cassandra_session
from schemas.cassandra import STAGE_LEASES

log = logging.getLogger(__name__)

#: How often a waiting run looks at the lease again.
POLL_S = 0.5


class LeaseHeld(RuntimeError):
    """Another run holds the (stage, date); the message names it in one line."""


class LeaseLost(RuntimeError):
    """The run's lease expired or was taken while it ran: its results may race another run's."""


@dataclass(frozen=True)
class Holder:
    """Who holds a lease: a run id, its host and process, and since when."""

    run_id: str
    host: str
    pid: int
    acquired_at: datetime

    @classmethod
    def this_run(cls) -> Holder:
        return cls(uuid.uuid4().hex[:12], socket.gethostname(), os.getpid(), datetime.now(timezone.utc))

    def describe(self) -> str:
        return f"run {self.run_id} (pid {self.pid} on {self.host}, since {self.acquired_at:%Y-%m-%d %H:%M:%S} UTC)"

    def is_gone(self) -> bool:
        """Its process has ended: only knowable for a holder on this host."""
        return self.host == socket.gethostname() and not psutil.pid_exists(self.pid)


class _Lease:
    """The CQL of one (stage, date)'s lease, for one holder."""

    def __init__(self, session: Session, keyspace: str, stage: str, day: date, ttl_s: int) -> None:
        self.session, self.stage, self.day, self.ttl_s = session, stage, day, ttl_s
        table = f"{keyspace}.{STAGE_LEASES.name}"
        self._insert = session.prepare(
            f"INSERT INTO {table} (stage, day, holder, host, pid, acquired_at) VALUES (?, ?, ?, ?, ?, ?) "
            f"IF NOT EXISTS USING TTL {ttl_s}")
        self._renew = session.prepare(
            f"UPDATE {table} USING TTL {ttl_s} SET holder = ?, host = ?, pid = ?, acquired_at = ? "
            "WHERE stage = ? AND day = ? IF holder = ?")
        self._delete = session.prepare(f"DELETE FROM {table} WHERE stage = ? AND day = ? IF holder = ?")

    def acquire(self, me: Holder) -> Holder | None:
        """Take the lease; None when it is ours, else its current holder."""
        result = self.session.execute(self._insert, (self.stage, self.day, me.run_id, me.host, me.pid,
                                                     me.acquired_at), execution_profile=WRITES)
        if result.was_applied:
            return None
        row = result.one()
        return Holder(row.holder, row.host, row.pid, row.acquired_at.replace(tzinfo=timezone.utc))

    def renew(self, me: Holder, from_holder: Holder | None = None) -> bool:
        """Write ``me`` with a fresh TTL if the lease is still ``from_holder``'s (default: ours)."""
        expected = (from_holder or me).run_id
        return self.session.execute(self._renew, (me.run_id, me.host, me.pid, me.acquired_at, self.stage, self.day,
                                                  expected), execution_profile=WRITES).was_applied

    def release(self, me: Holder) -> None:
        self.session.execute(self._delete, (self.stage, self.day, me.run_id), execution_profile=WRITES)


@contextmanager
def stage_lease(settings: Settings, stage: str, day: date) -> Iterator[Holder]:
    """Hold the lease of ``stage`` for ``day`` for the block; raise LeaseHeld when another run
    keeps it past ``lease.wait_s``, LeaseLost after the block when ours lapsed meanwhile."""
    conf = settings.lease
    with cassandra_session(settings, timeout_s=10) as session:
        lease = _Lease(session, settings.cassandra.keyspace, stage, day, conf.ttl_s)
        me = Holder.this_run()
        deadline = time.monotonic() + conf.wait_s
        while (holder := lease.acquire(me)) is not None:
            if holder.is_gone() and lease.renew(me, from_holder=holder):
                log.warning("stage=%s date=%s event=lease-taken-over from=%s", stage, day, holder.describe())
                break
            if time.monotonic() >= deadline:
                raise LeaseHeld(f"{stage} {day} is already running: {holder.describe()}; it frees the date when it "
                                f"ends, or {conf.ttl_s} s after its last heartbeat if it was killed")
            time.sleep(POLL_S)
        lost = threading.Event()
        stop = threading.Event()

        def heartbeat() -> None:
            while not stop.wait(conf.ttl_s / 3):
                try:
                    if not lease.renew(me):
                        lost.set()
                        return
                except Exception as exc:  # noqa: BLE001 - a missed beat is retried; a whole TTL of them loses it
                    log.warning("stage=%s date=%s event=lease-heartbeat-failed error=%s", stage, day, exc)

        beats = threading.Thread(target=heartbeat, name=f"lease-{stage}-{day}", daemon=True)
        beats.start()
        try:
            yield me
        finally:
            stop.set()
            beats.join()
            if not lost.is_set():
                lease.release(me)
        if lost.is_set():
            raise LeaseLost(f"{stage} {day}: the run's lease lapsed while it ran (Cassandra did not take its "
                            f"heartbeats for {conf.ttl_s} s): run the date again once no other run holds it")

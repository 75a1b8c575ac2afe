"""Local Redis from Debian's redis-server: one server, and on request a 3-master Cluster.

The port comes from the client configuration (``redis.url``, ``redis.cluster_nodes``), so
the server started here is the one the jobs talk to. A Redis already on that port that
gridlake did not start (a system Redis started by the package) is neither used nor stopped.

The servers accept the clients' own settings: with ``redis.password`` set (from the environment)
they get an ACL file (0600, only the password's SHA-256) that disables the ``default`` user
and lets ``redis.username`` in; a server given a ``ServerTls`` listens only on TLS. Probes
connect with the same options as the jobs (jobs/stores/clients.py).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import redis

from jobs.devstack.base import ServiceStatus
from jobs.devstack.process import ManagedProcess, ServiceError, ensure_port_free_for, wait_until
from jobs.runtime.config import RedisConf, Settings
from jobs.stores.clients import redis_node

MARKER = "gridlake"


def _redis_server_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        raise ServiceError("redis: redis-server not found; run `make setup` (installs Debian's redis-server)")
    return binary


@dataclass(frozen=True)
class ServerTls:
    """The certificate a local server presents, the CA it trusts for client certificates, and
    whether clients must present one."""

    cert_file: Path
    key_file: Path
    ca_file: Path
    auth_clients: bool = False

    def argv(self, port: int) -> list[str]:
        """TLS only: the plain port is closed, ``port`` speaks TLS."""
        return ["--port", "0", "--tls-port", str(port), "--tls-cert-file", str(self.cert_file),
                "--tls-key-file", str(self.key_file), "--tls-ca-cert-file", str(self.ca_file),
                "--tls-auth-clients", "yes" if self.auth_clients else "no"]


def write_acl_file(conf: RedisConf, path: Path) -> list[str]:
    """When the clients authenticate, an ACL file letting their user in (``default`` disabled
    unless it is that user); returns the server arguments that load it, or none."""
    if conf.password is None:
        return []
    digest = hashlib.sha256(conf.password.get_secret_value().encode()).hexdigest()
    user = conf.username or "default"
    lines = [f"user {user} on #{digest} ~* &* +@all"]
    if user != "default":
        lines.insert(0, "user default off")
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as acl:
        acl.write("\n".join(lines) + "\n")
    return ["--aclfile", str(path)]


def _refuse_tls_without_certificate(conf: RedisConf, tls: ServerTls | None, name: str) -> None:
    if conf.tls_on and tls is None:
        raise ServiceError(f"{name}: redis.url or redis.tls asks for TLS, but the local server has no certificate; "
                           "point redis at a TLS server, or turn TLS off for the local one")


def _server_argv(port: int, data_dir: str, maxmemory: str, extra: list[str],
                 tls: ServerTls | None = None) -> list[str]:
    # The marker rides in the process title ("redis-server 127.0.0.1:6379" plus the config
    # name) through --proc-title-template, so ownership survives pid reuse.
    return [
        _redis_server_binary(),
        "--bind", "127.0.0.1",
        *(tls.argv(port) if tls else ["--port", str(port)]),
        "--dir", data_dir,
        # No snapshots; an append-only file synced every second, so that a restart keeps the
        # write-behind stream's undrained durable copies (and the published versions).
        "--save", "",
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        "--maxmemory", maxmemory,
        "--protected-mode", "yes",
        "--proc-title-template", f"{{title}} {{listen-addr}} {MARKER}",
        *extra,
    ]


def _probe(client: redis.Redis, address: str, name: str) -> ServiceStatus:
    try:
        client.ping()
        version = client.info("server")["redis_version"]
    except redis.RedisError as exc:
        return ServiceStatus(name=name, healthy=False, address=address, detail=str(exc))
    return ServiceStatus(name=name, healthy=True, address=address, version=version, detail="PONG")


class RedisServer:
    """The standalone Redis that the serving cache uses locally."""

    name = "redis"

    def __init__(self, settings: Settings, tls: ServerTls | None = None) -> None:
        self.conf = settings.redis
        self.tls = tls
        self.host, self.port, _ = settings.redis.server
        self.maxmemory = settings.services.redis.maxmemory
        self.data_dir = settings.state_path / "redis"
        self.process = ManagedProcess(
            name=self.name,
            run_dir=settings.state_path / "run",
            log_file=settings.state_path / "logs" / "redis.log",
            marker=f"{self.host}:{self.port} {MARKER}",
        )

    def _client(self) -> redis.Redis:
        return redis_node(self.conf, self.host, self.port)

    def launch(self) -> None:
        if self.process.pid() is not None:
            return
        _refuse_tls_without_certificate(self.conf, self.tls, self.name)
        ensure_port_free_for(self.process, self.host, self.port, "GRIDLAKE_REDIS__URL")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        acl = write_acl_file(self.conf, self.data_dir / "users.acl")
        self.process.start(_server_argv(self.port, str(self.data_dir), self.maxmemory, acl, self.tls))

    def wait_ready(self, timeout_s: float) -> float:
        return wait_until(lambda: bool(self._client().ping()), self.process, timeout_s, "PING")

    def status(self) -> ServiceStatus:
        found = _probe(self._client(), f"{self.host}:{self.port}", self.name)
        return _owned(found, self.process)

    def stop(self) -> bool:
        return self.process.stop()


class RedisCluster:
    """A real Redis Cluster of three masters on loopback, created with redis-cli."""

    name = "redis-cluster"

    def __init__(self, settings: Settings) -> None:
        self.nodes = [_host_port(node) for node in settings.redis.cluster_nodes]
        self.conf = settings.redis
        self.maxmemory = settings.services.redis.maxmemory
        self.state = settings.state_path
        self.processes = [
            ManagedProcess(
                name=f"redis-cluster-{port}",
                run_dir=settings.state_path / "run",
                log_file=settings.state_path / "logs" / f"redis-cluster-{port}.log",
                marker=f"{host}:{port} {MARKER}",
            )
            for host, port in self.nodes
        ]

    def launch(self) -> None:
        _refuse_tls_without_certificate(self.conf, None, self.name)
        for (host, port), process in zip(self.nodes, self.processes, strict=True):
            if process.pid() is not None:
                continue
            ensure_port_free_for(process, host, port, "GRIDLAKE_REDIS__CLUSTER_NODES")
            data_dir = self.state / "redis-cluster" / str(port)
            data_dir.mkdir(parents=True, exist_ok=True)
            extra = ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                     "--cluster-node-timeout", "5000", *write_acl_file(self.conf, data_dir / "users.acl")]
            process.start(_server_argv(port, str(data_dir), self.maxmemory, extra))

    def _node_client(self, host: str, port: int) -> redis.Redis:
        return redis_node(self.conf, host, port)

    def _cluster_state(self) -> str:
        host, port = self.nodes[0]
        return str(self._node_client(host, port).cluster("info").get("cluster_state"))

    def wait_ready(self, timeout_s: float) -> float:
        waited = 0.0
        for (host, port), process in zip(self.nodes, self.processes, strict=True):
            waited += wait_until(lambda h=host, p=port: bool(self._node_client(h, p).ping()), process,
                                 timeout_s, "PING")
        host, port = self.nodes[0]
        if int(self._node_client(host, port).cluster("info").get("cluster_known_nodes", 1)) < len(self.nodes):
            self._create()
        waited += wait_until(lambda: self._cluster_state() == "ok", self.processes[0], timeout_s,
                             "cluster_state:ok")
        return waited

    def _create(self) -> None:
        """Join the empty nodes into one cluster, slots spread over the three masters."""
        argv = ["redis-cli", "--cluster", "create", *[f"{h}:{p}" for h, p in self.nodes],
                "--cluster-replicas", "0", "--cluster-yes"]
        env = dict(os.environ)
        if self.conf.password is not None:  # through the environment, never on the command line
            env["REDISCLI_AUTH"] = self.conf.password.get_secret_value()
            argv[1:1] = ["--user", self.conf.username or "default"]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False, env=env)
        if done.returncode != 0:
            raise ServiceError(f"redis-cluster: `{' '.join(argv)}` failed: {done.stdout[-400:]}{done.stderr[-400:]}")

    def status(self) -> ServiceStatus:
        address = ",".join(f"{h}:{p}" for h, p in self.nodes)
        host, port = self.nodes[0]
        found = _probe(self._node_client(host, port), address, self.name)
        if found.healthy:
            state = self._cluster_state()
            found = ServiceStatus(name=self.name, healthy=state == "ok", address=address,
                                  version=found.version, detail=f"cluster_state:{state}")
        pids = [p.pid() for p in self.processes]
        rss = sum(p.resident_bytes() for p in self.processes)
        ours = all(pid is not None for pid in pids)
        return ServiceStatus(
            name=found.name, healthy=found.healthy and ours, address=found.address, version=found.version,
            detail=found.detail if ours else f"{found.detail}; not started by gridlake".strip("; "),
            pid=pids[0], resident_mib=rss // 2**20, log=str(self.processes[0].log_file),
        )

    def stop(self) -> bool:
        return any([process.stop() for process in self.processes])


def _host_port(node: str) -> tuple[str, int]:
    host, _, port = node.rpartition(":")
    return host, int(port)


def _owned(found: ServiceStatus, process: ManagedProcess) -> ServiceStatus:
    """Mark a probed server healthy only when it is the one gridlake started."""
    pid = process.pid()
    detail = found.detail if pid is not None else f"{found.detail}; not started by gridlake".strip("; ")
    return ServiceStatus(
        name=found.name, healthy=found.healthy and pid is not None, address=found.address,
        version=found.version, detail=detail, pid=pid,
        resident_mib=process.resident_bytes() // 2**20, log=str(process.log_file),
    )

"""Local Cassandra 5.0 from the cassandra-all jars of Maven Central, one node on loopback.

Configuration files live in conf/services/cassandra; data, commit log, hints and logs go
under ``<state_dir>/cassandra``. Two traps handled here:
- Java 17 needs the module exports/opens of jvm17-server.options or Cassandra exits at start.
- Cassandra calls mlockall() unconditionally; as root that succeeds and pins about 1.5 GiB,
  so root drops CAP_IPC_LOCK first (setpriv), leaving the heap bound to what conf says.
"""

from __future__ import annotations

import os
import shutil

import yaml

from jobs.devstack.base import ServiceStatus
from jobs.devstack.process import ManagedProcess, ensure_port_free_for, port_open, wait_until
from jobs.runtime.config import PROJECT_ROOT, Settings
from jobs.runtime.java import java_environment
from jobs.runtime.maven import maven_classpath
from jobs.stores.clients import cassandra_cluster

CONF_DIR = PROJECT_ROOT / "conf" / "services" / "cassandra"
#: the Maven project that resolves the cassandra-all server jars
POM = PROJECT_ROOT / "jvm" / "cassandra" / "pom.xml"
MAIN_CLASS = "org.apache.cassandra.service.CassandraDaemon"


def jvm_options(options_file: os.PathLike[str]) -> list[str]:
    """The options of a jvm*.options file: one per line, '#' comments and blanks skipped."""
    with open(options_file) as lines:
        return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


class CassandraServer:
    """The local single-node Cassandra."""

    name = "cassandra"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.host = "127.0.0.1"
        self.port = settings.cassandra.port
        self.home = settings.state_path / "cassandra"
        self.process = ManagedProcess(
            name=self.name,
            run_dir=settings.state_path / "run",
            log_file=self.home / "logs" / "system.log",
            marker=MAIN_CLASS,
        )

    def _render_config(self) -> str:
        """Write cassandra.yaml for this port into the state dir; return its file URL."""
        config = yaml.safe_load((CONF_DIR / "cassandra.yaml").read_text())
        config["native_transport_port"] = self.port
        rendered = self.home / "cassandra.yaml"
        rendered.write_text(yaml.safe_dump(config, sort_keys=False))
        return rendered.as_uri()

    def _argv(self, classpath: str) -> list[str]:
        local = self.settings.services.cassandra
        java = str(self.settings.java_home / "bin" / "java")
        drop_memlock = ["setpriv", "--bounding-set", "-ipc_lock", "--inh-caps", "-ipc_lock", "--"]
        prefix = drop_memlock if os.geteuid() == 0 and shutil.which("setpriv") else []
        return [
            *prefix,
            java,
            f"-Xms{local.heap}",
            f"-Xmx{local.heap}",
            f"-XX:HeapDumpPath={self.home / 'logs'}",
            *jvm_options(CONF_DIR / "jvm17-server.options"),
            f"-Dcassandra.config={self._render_config()}",
            f"-Dlogback.configurationFile={(CONF_DIR / 'logback.xml').as_uri()}",
            f"-Dcassandra.logdir={self.home / 'logs'}",
            f"-Dcassandra.storagedir={self.home}",
            f"-Dcassandra.triggers_dir={self.home / 'triggers'}",
            "-cp",
            classpath,
            MAIN_CLASS,
        ]

    def launch(self) -> None:
        if self.process.pid() is not None:
            return
        ensure_port_free_for(self.process, self.host, self.port, "GRIDLAKE_CASSANDRA__PORT")
        for folder in ("logs", "triggers"):
            (self.home / folder).mkdir(parents=True, exist_ok=True)
        env = java_environment(self.settings)
        build = maven_classpath(
            POM,
            goals=["dependency:build-classpath"],
            properties={"cassandra.version": self.settings.services.cassandra.version},
            build_dir=self.home / "classpath",
            env=env,
            maven_repo=self.settings.maven_repo,
        )
        self.process.start(self._argv(build.classpath), env=env, cwd=self.home)

    def _release_version(self) -> str:
        cluster = cassandra_cluster([self.host], self.port, timeout_s=3)
        try:
            return cluster.connect().execute("SELECT release_version FROM system.local").one()[0]
        finally:
            cluster.shutdown()

    def wait_ready(self, timeout_s: float) -> float:
        # Knock on the port first: the driver logs every refused connection as an error.
        return wait_until(lambda: port_open(self.host, self.port) and bool(self._release_version()),
                          self.process, timeout_s, f"CQL on {self.host}:{self.port}")

    def status(self) -> ServiceStatus:
        address = f"{self.host}:{self.port}"
        pid = self.process.pid()
        common = {"name": self.name, "address": address, "pid": pid, "log": str(self.process.log_file),
                  "resident_mib": self.process.resident_bytes() // 2**20}
        try:
            if not port_open(self.host, self.port):
                raise ConnectionRefusedError(address)
            version = self._release_version()
        except Exception as exc:  # noqa: BLE001 - the driver raises many kinds; all mean "not answering"
            return ServiceStatus(healthy=False, detail=f"no CQL answer: {type(exc).__name__}", **common)
        if pid is None:
            return ServiceStatus(healthy=False, version=version, detail="answers, but not started by gridlake",
                                 **common)
        return ServiceStatus(healthy=True, version=version, detail="CQL ok", **common)

    def stop(self) -> bool:
        return self.process.stop()

"""Local Elasticsearch 8.14.1: real server nodes in one JVM, started by gridlake's launcher.

The design planned codelibs' elasticsearch-cluster-runner 8.14.1.0, but Maven Central does
not carry it (nor the ES distribution, nor any 8.14 module but transport-netty4). So
jvm/elasticsearch holds a small launcher of our own, built by Maven from the ES
8.14.1 server jar on Central; see its Javadoc for what the missing modules leave out.
The launcher binds exactly the configured ports or fails, and `status` reports the HTTP
address the nodes themselves publish, so the address shown is the one really serving.
"""

from __future__ import annotations

from urllib.parse import urlparse

from elasticsearch import Elasticsearch

from jobs.devstack.base import ServiceStatus
from jobs.devstack.process import ManagedProcess, ensure_port_free_for, wait_until
from jobs.runtime.config import PROJECT_ROOT, Settings
from jobs.runtime.java import java_environment
from jobs.runtime.maven import maven_classpath

JVM_DIR = PROJECT_ROOT / "jvm" / "elasticsearch"
MAIN_CLASS = "org.gridlake.elasticsearch.Launcher"
LAUNCHER_JAR = "gridlake-elasticsearch-launcher.jar"
TRANSPORT_PORT_OFFSET = 100


class ElasticsearchServer:
    """The local Elasticsearch: ``services.elasticsearch.nodes`` nodes in one JVM."""

    name = "elasticsearch"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        url = urlparse(settings.elasticsearch.url)
        self.host = url.hostname or "127.0.0.1"
        self.port = url.port or 9200
        self.nodes = settings.services.elasticsearch.nodes
        self.home = settings.state_path / "elasticsearch"
        # A cluster's voting configuration remembers its nodes: each node count gets its own home.
        self.cluster_home = self.home / f"cluster-{self.nodes}-nodes"
        self.process = ManagedProcess(
            name=self.name,
            run_dir=settings.state_path / "run",
            log_file=self.home / "logs" / "elasticsearch.log",
            marker=MAIN_CLASS,
        )

    def _client(self) -> Elasticsearch:
        return Elasticsearch(self.settings.elasticsearch.url, request_timeout=5, max_retries=0)

    def _argv(self, classpath: str) -> list[str]:
        heap = self.settings.services.elasticsearch.heap
        return [
            str(self.settings.java_home / "bin" / "java"),
            f"-Xms{heap}",
            f"-Xmx{heap}",
            "-XX:+ExitOnOutOfMemoryError",
            # Serial GC and C1 only: faster start and a smaller footprint for a test server.
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-cp",
            classpath,
            MAIN_CLASS,
            "--home", str(self.cluster_home),
            "--nodes", str(self.nodes),
            "--http-port", str(self.port),
            "--transport-port", str(self.port + TRANSPORT_PORT_OFFSET),
        ]

    def launch(self) -> None:
        if self.process.pid() is not None:
            return
        for node in range(self.nodes):
            ensure_port_free_for(self.process, self.host, self.port + node, "GRIDLAKE_ELASTICSEARCH__URL")
        env = java_environment(self.settings)
        build = maven_classpath(
            JVM_DIR / "pom.xml",
            goals=["package"],
            properties={},
            build_dir=self.home / "build",
            env=env,
            maven_repo=self.settings.maven_repo,
            products=(LAUNCHER_JAR,),
        )
        self.cluster_home.mkdir(parents=True, exist_ok=True)
        classpath = f"{build.output_dir / LAUNCHER_JAR}:{build.classpath}"
        self.process.start(self._argv(classpath), env=env, cwd=self.home)

    def _serving(self) -> tuple[str, str, str]:
        """Version, health and the HTTP addresses the nodes publish."""
        es = self._client()
        version = es.info()["version"]["number"]
        health = es.cluster.health()["status"]
        nodes = es.nodes.info(metric="http")["nodes"].values()
        addresses = ",".join(sorted(node["http"]["publish_address"] for node in nodes))
        return version, health, addresses

    def wait_ready(self, timeout_s: float) -> float:
        return wait_until(lambda: self._serving()[1] in ("green", "yellow"), self.process, timeout_s,
                          f"cluster health on {self.settings.elasticsearch.url}")

    def status(self) -> ServiceStatus:
        pid = self.process.pid()
        common = {"name": self.name, "pid": pid, "log": str(self.process.log_file),
                  "resident_mib": self.process.resident_bytes() // 2**20}
        try:
            version, health, addresses = self._serving()
        except Exception as exc:  # noqa: BLE001 - any client error means "not answering"
            return ServiceStatus(healthy=False, address=f"{self.host}:{self.port}",
                                 detail=f"no answer: {type(exc).__name__}", **common)
        if pid is None:
            return ServiceStatus(healthy=False, address=addresses, version=version,
                                 detail=f"{health}; not started by gridlake", **common)
        return ServiceStatus(healthy=health != "red", address=addresses, version=version,
                             detail=f"health {health}, {self.nodes} node(s)", **common)

    def stop(self) -> bool:
        return self.process.stop()

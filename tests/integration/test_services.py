"""The real local services answer with the versions docs/decisions/pinned-stack.md pins and the settings gridlake gives them."""

import json

from typer.testing import CliRunner

from jobs.cli import app
from jobs.stores.clients import cassandra_session, elasticsearch_client, redis_client, redis_cluster_client
from jobs.runtime.config import Settings


def test_cassandra_is_5_0(services: Settings) -> None:
    with cassandra_session(services) as session:
        version = session.execute("SELECT release_version FROM system.local").one()[0]
    assert version.startswith("5.0.")


def test_cassandra_tables_default_to_trie_memtables(services: Settings) -> None:
    with cassandra_session(services) as session:
        configured = session.execute(
            "SELECT value FROM system_views.settings WHERE name = 'memtable.configurations'").one()[0]
    assert "default=trie" in configured, configured


def test_elasticsearch_is_8_14_1_and_not_red(services: Settings) -> None:
    es = elasticsearch_client(services)
    assert es.info()["version"]["number"] == "8.14.1"
    assert es.cluster.health()["status"] in ("green", "yellow")


def test_redis_answers_ping(services: Settings) -> None:
    assert redis_client(services).ping() is True


def test_redis_cluster_is_ok_with_three_masters(services: Settings) -> None:
    cluster = redis_cluster_client(services)
    info = cluster.cluster_info()
    assert info["cluster_state"] == "ok"
    assert int(info["cluster_size"]) == 3
    # Keys land on different masters: the slots really are spread.
    owners = {cluster.get_node_from_key(f"meter:{{{n}}}").port for n in range(50)}
    assert len(owners) == 3


def test_status_json_reports_every_service_healthy(services: Settings) -> None:
    result = CliRunner().invoke(app, ["services", "status", "--json", "--redis-cluster", "--env", "test"])
    assert result.exit_code == 0, result.output
    reported = {entry["name"]: entry for entry in json.loads(result.stdout)}
    assert set(reported) == {"cassandra", "elasticsearch", "redis", "redis-cluster"}
    assert all(entry["healthy"] for entry in reported.values())
    assert reported["elasticsearch"]["address"] == services.elasticsearch.url.removeprefix("http://")
    assert reported["cassandra"]["address"] == f"127.0.0.1:{services.cassandra.port}"


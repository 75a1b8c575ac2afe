"""`schema apply` creates the data model, is idempotent, and migrates by adding columns."""

from dataclasses import replace
from datetime import date, datetime

import pytest

from jobs.stores.cassandra_schema import SchemaConflict, apply_schema
from jobs.stores.clients import cassandra_session
from jobs.runtime.config import Settings
from schemas import cassandra as model


@pytest.fixture
def scratch(services: Settings) -> Settings:
    """A keyspace of its own, dropped afterwards, so these tests start from nothing."""
    settings = services.model_copy(deep=True)
    settings.cassandra.keyspace = "grid_schema_test"
    with cassandra_session(settings) as session:
        session.execute("DROP KEYSPACE IF EXISTS grid_schema_test")
    yield settings
    with cassandra_session(settings) as session:
        session.execute("DROP KEYSPACE IF EXISTS grid_schema_test")


def test_apply_creates_everything_then_changes_nothing(scratch: Settings) -> None:
    with cassandra_session(scratch) as session:
        first = apply_schema(session, scratch)
        second = apply_schema(session, scratch)
        live = {row.table_name for row in session.execute(
            "SELECT table_name FROM system_schema.tables WHERE keyspace_name = 'grid_schema_test'")}
        options = session.execute(
            "SELECT compaction, default_time_to_live FROM system_schema.tables "
            "WHERE keyspace_name = 'grid_schema_test' AND table_name = 'meter_readings'").one()
    assert first[0] == "created keyspace grid_schema_test"
    assert len(first) == 1 + len(model.TABLES)
    assert second == []
    assert live == {table.name for table in model.TABLES}
    assert options.compaction["class"].endswith("TimeWindowCompactionStrategy")
    assert options.default_time_to_live == scratch.cassandra.raw_ttl_days * 86400


def test_meter_readings_keeps_every_received_version(scratch: Settings) -> None:
    with cassandra_session(scratch) as session:
        apply_schema(session, scratch)
        insert = session.prepare("INSERT INTO grid_schema_test.meter_readings "
                                 "(meter_id, day, ts, ingest_id, kwh_import_x1000) VALUES (?, ?, ?, ?, ?)")
        for ingest_id, wh in (("file-a:10", 250), ("file-b:10", 275), ("file-a:10", 250)):
            session.execute(insert, ("m-1", date(2024, 5, 1), datetime(2024, 4, 30, 22, 0), ingest_id, wh))
        rows = session.execute("SELECT ingest_id, kwh_import_x1000 FROM grid_schema_test.meter_readings "
                               "WHERE meter_id = 'm-1' AND day = '2024-05-01'").all()
    # The conflicting version survives beside the first; the repeated load of file-a does not double it.
    assert [(r.ingest_id, r.kwh_import_x1000) for r in rows] == [("file-a:10", 250), ("file-b:10", 275)]


def test_a_keyspace_with_decimal_channels_is_refused_not_widened(scratch: Settings) -> None:
    """A keyspace made before channels were stored as steps: adding the new columns beside the
    old ones would leave every stored reading without channels in the lake."""
    with cassandra_session(scratch) as session:
        session.execute("CREATE KEYSPACE grid_schema_test WITH replication = "
                        "{'class': 'SimpleStrategy', 'replication_factor': 1}")
        session.execute("CREATE TABLE grid_schema_test.meter_readings (meter_id text, day date, ts timestamp, "
                        "ingest_id text, kwh_import decimal, PRIMARY KEY ((meter_id, day), ts, ingest_id))")
        with pytest.raises(SchemaConflict, match=r"grid_schema_test\.meter_readings\.kwh_import is decimal"):
            apply_schema(session, scratch)
        live = {row.column_name for row in session.execute(
            "SELECT column_name FROM system_schema.columns WHERE keyspace_name = 'grid_schema_test' "
            "AND table_name = 'meter_readings'")}
    assert live == {"meter_id", "day", "ts", "ingest_id", "kwh_import"}


def test_a_table_whose_primary_key_changed_is_refused_not_widened(scratch: Settings) -> None:
    """cache_entries from before its rows were bucketed by month: the new key columns cannot be
    added beside the old key, and the stored copies stay as they are."""
    with cassandra_session(scratch) as session:
        session.execute("CREATE KEYSPACE grid_schema_test WITH replication = "
                        "{'class': 'SimpleStrategy', 'replication_factor': 1}")
        session.execute("CREATE TABLE grid_schema_test.cache_entries (family text, tag text, item text, "
                        "version text, value text, written_at timestamp, PRIMARY KEY ((family, tag), item))")
        session.execute("INSERT INTO grid_schema_test.cache_entries (family, tag, item, value) "
                        "VALUES ('meter_daily', 'm-1', '2024-10-27', '{}')")
        with pytest.raises(SchemaConflict, match=r"grid_schema_test\.cache_entries has primary key "
                                                 r"\(\(family, tag\), item\) in Cassandra but "
                                                 r"\(\(family, month, bucket\), tag, item\)"):
            apply_schema(session, scratch)
        live = {row.column_name for row in session.execute(
            "SELECT column_name FROM system_schema.columns WHERE keyspace_name = 'grid_schema_test' "
            "AND table_name = 'cache_entries'")}
        stored = session.execute("SELECT count(*) FROM grid_schema_test.cache_entries").one()[0]
    assert live == {"family", "tag", "item", "version", "value", "written_at"}
    assert stored == 1


def test_new_nullable_column_is_added_and_keeps_stored_rows(scratch: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    with cassandra_session(scratch) as session:
        apply_schema(session, scratch)
        session.execute("INSERT INTO grid_schema_test.meters (meter_id, meter_class) VALUES ('m-9', 'residential')")
        widened = replace(model.METERS, columns={**model.METERS.columns, "phase_count": "int"})
        monkeypatch.setattr("jobs.stores.cassandra_schema.TABLES", tuple(
            widened if t.name == "meters" else t for t in model.TABLES))
        actions = apply_schema(session, scratch)
        row = session.execute("SELECT meter_class, phase_count FROM grid_schema_test.meters "
                              "WHERE meter_id = 'm-9'").one()
    assert actions == ["added column meters.phase_count int"]
    assert (row.meter_class, row.phase_count) == ("residential", None)


def test_changed_column_type_is_refused(scratch: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    with cassandra_session(scratch) as session:
        apply_schema(session, scratch)
        retyped = replace(model.METERS, columns={**model.METERS.columns, "lat": "float"})
        monkeypatch.setattr("jobs.stores.cassandra_schema.TABLES", tuple(
            retyped if t.name == "meters" else t for t in model.TABLES))
        with pytest.raises(SchemaConflict, match=r"grid_schema_test\.meters\.lat is double .* float"):
            apply_schema(session, scratch)

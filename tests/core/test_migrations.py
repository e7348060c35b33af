"""Alembic migrations build exactly the models' schema, go down and up, and refuse the future.

Runs against SQLite always, and PostgreSQL too when KATMONITOR_TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

import io
import logging.config
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from katmonitor.base.errors import DatabaseError
from katmonitor.session import Route
from katmonitor.storage import SessionStore, head_revision, open_database, upgrade_schema
from katmonitor.storage.database import alembic_config, make_engine
from katmonitor.storage.models import metadata

REPO = Path(__file__).resolve().parents[2]
TABLES = {
    "sessions",
    "samples",
    "waveform_blocks",
    "dose_events",
    "observations",
    "device_events",
    "alarm_events",
}
FUTURE = "9999_from_the_future"


def schema_diff(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def table_names(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def test_upgrade_from_empty_matches_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        assert table_names(engine) & TABLES == set()
        upgrade_schema(engine)
        assert schema_diff(engine) == []
        assert TABLES | {"alembic_version"} <= table_names(engine)
    finally:
        engine.dispose()


def test_open_database_upgrades_to_head(database_url: str) -> None:
    database = open_database(database_url)
    try:
        assert database.schema_revision() == head_revision() == "0007"
        upgrade_schema(database.engine)  # already at head: nothing to do, no error
        assert database.schema_revision() == head_revision()
    finally:
        database.close()


def test_open_without_upgrade_leaves_an_empty_database_empty(database_url: str) -> None:
    database = open_database(database_url, upgrade=False)
    try:
        assert database.schema_revision() is None
        assert table_names(database.engine) & TABLES == set()
    finally:
        database.close()


def test_downgrade_to_base_and_upgrade_again(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade_schema(engine)
        config = alembic_config()
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "base")
        assert table_names(engine) & TABLES == set()
        upgrade_schema(engine)
        assert schema_diff(engine) == []
    finally:
        engine.dispose()


def test_database_from_a_newer_version_is_refused_and_left_alone(database_url: str) -> None:
    database = open_database(database_url)
    session = SessionStore(database).create_session(
        client_id="C-1",
        medicine="esketamine",
        route=Route.INTRANASAL,
        started_at=1.8e9,
        training=False,
        devices=["sim:nonin"],
        workstation="ws",
    )
    with database.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": FUTURE})
        # A table only the newer version knows about.
        conn.execute(text("CREATE TABLE future_things (id INTEGER PRIMARY KEY)"))
    tables_before = table_names(database.engine)
    database.close()

    for upgrade in (True, False):
        with pytest.raises(DatabaseError) as excinfo:
            open_database(database_url, upgrade=upgrade)
        assert excinfo.value.message.startswith(
            f"database schema {FUTURE} is newer than this KAT Monitor understands"
        )
        assert "upgrade KAT Monitor" in excinfo.value.hint

    engine = make_engine(database_url)
    try:
        with pytest.raises(DatabaseError, match="newer than this KAT Monitor"):
            upgrade_schema(engine)
        assert table_names(engine) == tables_before
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT version_num FROM alembic_version")) == FUTURE
            assert conn.scalar(text("SELECT uuid FROM sessions")) == session.uuid
    finally:
        engine.dispose()


def test_failed_upgrade_changes_nothing(tmp_path: Path) -> None:
    """The upgrade is one transaction, DDL included, on SQLite too."""
    path = tmp_path / "k.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE waveform_blocks (x INTEGER)"))  # in the way
    engine.dispose()

    with pytest.raises(DatabaseError) as excinfo:
        open_database(f"sqlite:///{path}")
    assert excinfo.value.message.startswith(f"cannot use the database at {path}")
    assert "waveform_blocks already exists" in excinfo.value.message

    engine = make_engine(f"sqlite:///{path}")
    try:
        assert table_names(engine) == {"waveform_blocks"}  # sessions, samples: rolled back
    finally:
        engine.dispose()


def test_offline_sql_generation() -> None:
    """``alembic upgrade head --sql`` (no database needed) renders the DDL."""
    out = io.StringIO()
    config = Config(output_buffer=out)
    config.set_main_option("script_location", alembic_config().get_main_option("script_location"))
    config.set_main_option("sqlalchemy.url", "postgresql+psycopg://")
    command.upgrade(config, "head", sql=True)
    ddl = out.getvalue()
    for table in TABLES:
        assert f"CREATE TABLE {table}" in ddl
    assert "INSERT INTO alembic_version (version_num) VALUES ('0001')" in ddl
    assert "UPDATE alembic_version SET version_num='0002'" in ddl


def test_developer_alembic_ini_drives_the_same_migrations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The repository's alembic.ini (for `alembic revision` etc.) finds the migrations too."""
    # env.py applies the ini's logging setup for the command line; keep the test's own logging.
    monkeypatch.setattr(logging.config, "fileConfig", lambda *args, **kwargs: None)
    url = f"sqlite:///{tmp_path / 'dev.sqlite3'}"
    config = Config(str(REPO / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, "head")
    engine = make_engine(url)
    try:
        assert schema_diff(engine) == []
    finally:
        engine.dispose()


def test_models_and_migrations_use_named_constraints() -> None:
    """Batch migrations on SQLite need every constraint to have a name."""
    for table in metadata.tables.values():
        for constraint in table.constraints:
            assert constraint.name, f"unnamed constraint on {table.name}"
        for index in table.indexes:
            assert index.name, f"unnamed index on {table.name}"


def test_the_fast_start_revision_is_the_newest_migration() -> None:
    # open_database skips Alembic when a database is already at SCHEMA_HEAD: adding a
    # migration without moving SCHEMA_HEAD would leave databases un-upgraded.
    from katmonitor.storage.database import SCHEMA_HEAD, head_revision

    assert head_revision() == SCHEMA_HEAD

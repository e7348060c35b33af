"""Opening the database: engine settings, schema upgrades, and errors a user can act on.

``open_database`` is the only way the app gets an engine. Every failure while opening becomes a
:class:`~katmonitor.base.errors.DatabaseError` with one message (what is wrong) and a hint (what to
do); the user never sees a traceback. Passwords in URLs are masked in every message.
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import URL, Connection, CursorResult, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

import migrations
from katmonitor.base.errors import DatabaseError

if TYPE_CHECKING:
    from alembic.config import Config

# The newest revision in migrations/versions. Opening a database already at this revision needs
# no Alembic at all (importing it costs ~0.2 s of start-up); a test keeps this in step with the
# migrations, so adding a revision without updating it fails the suite.
SCHEMA_HEAD = "0007"

URL_HINT = (
    "write it as sqlite:///path/to/katmonitor.sqlite3 or postgresql+psycopg://user@host/dbname"
)
LOCATION_HINT = (
    "choose another location with --db or KATMONITOR_DB, or fix the permissions of that path"
)

# Execution option that makes the SQLite "begin" hook take the write lock up front (see
# make_engine); set by SessionStore for transactions that write.
WRITE_TRANSACTION = "katmonitor_write"


class Database:
    """An open database: its engine and the URL it was opened with."""

    def __init__(self, url: str, engine: Engine) -> None:
        self.url = url
        self.engine = engine

    @property
    def display_url(self) -> str:
        """The URL with any password masked, for messages and logs."""
        return self.engine.url.render_as_string(hide_password=True)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def close(self) -> None:
        self.engine.dispose()

    def schema_revision(self) -> str | None:
        """The Alembic revision the database is at; None for an empty database."""
        with self.engine.connect() as conn:
            return _current_revision(conn)

    def __repr__(self) -> str:
        return f"Database({self.display_url!r})"


def inserted_id(result: CursorResult[Any]) -> int:
    """The primary key of the row an ``insert`` just added."""
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def open_database(
    url: str,
    *,
    upgrade: bool = True,
    allow_in_memory: bool = True,
    create_directory: bool = True,
) -> Database:
    """Open (and create, for SQLite) the database at ``url`` and bring its schema to head.

    Raises DatabaseError for a malformed URL, an unreachable server, an unwritable location, or
    a schema written by a newer KAT Monitor (such a database is never modified). With
    ``allow_in_memory`` False an in-memory SQLite URL (``sqlite://``, ``sqlite:///``) is refused:
    what a process records there is gone when it exits. With ``create_directory`` False a
    SQLite file's directory must exist already (a mistyped path is refused, not created).
    """
    parsed = _parse_url(url)
    shown = parsed.render_as_string(hide_password=True)
    if not allow_in_memory and is_in_memory(parsed):
        raise DatabaseError(
            f"{shown} is an in-memory database: everything in it is lost when katmonitor exits",
            "give a database file, e.g. sqlite:///path/to/katmonitor.sqlite3 (three slashes, "
            "then the path), or a PostgreSQL URL",
        )
    path = sqlite_path(parsed)
    if path is not None:
        _prepare_sqlite_location(path, create_directory)
    try:
        engine = make_engine(parsed)
    except (ArgumentError, NoSuchModuleError, ValueError):
        raise DatabaseError(f"cannot understand database URL {shown!r}", URL_HINT) from None
    except ImportError as exc:
        raise DatabaseError(
            f"cannot open database {shown}: its driver ({exc.name}) is not installed",
            "install the driver named in the URL; "
            "for PostgreSQL: pip install 'katmonitor[postgres]'",
        ) from None

    try:
        with engine.connect() as conn:
            if _stored_revision(conn) == SCHEMA_HEAD:  # the usual start: nothing to migrate
                return Database(url, engine)
            _refuse_unknown_revision(conn, shown)
        if upgrade:
            upgrade_schema(engine)
    except DatabaseError:
        engine.dispose()
        raise
    except (SQLAlchemyError, OSError) as exc:
        engine.dispose()
        raise _open_error(exc, shown, path) from None
    return Database(url, engine)


def make_engine(url: str | URL) -> Engine:
    """An engine with KAT Monitor's connection settings (no connection is made yet)."""
    parsed = make_url(url)
    kwargs: dict[str, Any] = {}
    connect_args: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        # The recorder's writer thread and the UI thread share the pool.
        connect_args["check_same_thread"] = False
        if sqlite_path(parsed) is None:
            # One shared connection, or every pooled connection gets its own empty database.
            kwargs["poolclass"] = StaticPool
    elif parsed.get_backend_name() == "postgresql":
        if parsed.get_driver_name() in ("psycopg", "psycopg2"):
            connect_args["connect_timeout"] = 5  # fail fast when the server is unreachable
        kwargs["pool_pre_ping"] = True  # survive a server restart between sessions
    engine = create_engine(parsed, connect_args=connect_args, **kwargs)
    if engine.dialect.name == "sqlite":
        _install_sqlite_hooks(engine)
    return engine


def _install_sqlite_hooks(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Documented SQLAlchemy recipe: stop Python's sqlite3 from issuing (or skipping) BEGIN
        # itself, so transactions are real, DDL included; _on_begin emits BEGIN instead.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # WAL: readers never block the writer thread. NORMAL is durable across app
            # crashes; a power cut may lose the last commits but never corrupts the file.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A writer takes the lock at BEGIN: a deferred transaction that read first and then
        # writes fails at once (without the busy timeout) when another commit came between.
        immediate = conn.get_execution_options().get(WRITE_TRANSACTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def alembic_config() -> Config:
    """Alembic configuration located from code: no alembic.ini is needed at runtime."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    return config


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "migrations/versions holds no revision"
    return head


def upgrade_schema(engine: Engine) -> None:
    """Run Alembic ``upgrade head`` through the engine's own connection, in one transaction.

    Refuses (DatabaseError) a database whose revision our migrations do not know.
    """
    from alembic import command

    shown = engine.url.render_as_string(hide_password=True)
    config = alembic_config()
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            # SQLite's documented procedure for schema changes: batch migrations copy and drop
            # tables, which enforced foreign keys would block. The pragma is a no-op inside a
            # transaction, so it goes straight to the driver before BEGIN.
            _driver(conn).execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.begin():
                _refuse_unknown_revision(conn, shown)
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
                if sqlite and conn.exec_driver_sql("PRAGMA foreign_key_check").first():
                    raise DatabaseError(
                        f"upgrading the schema of {shown} broke references between records",
                        "nothing was changed; report this as a bug in the migration",
                    )
        finally:
            if sqlite:
                _driver(conn).execute("PRAGMA foreign_keys=ON")


def _driver(conn: Connection) -> Any:
    """The DBAPI connection itself (sqlite3's, for pragmas outside a transaction)."""
    driver = conn.connection.driver_connection
    assert driver is not None
    return driver


def sqlite_path(url: URL) -> Path | None:
    """The file of a SQLite URL; None for in-memory databases and other backends."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def is_in_memory(url: URL) -> bool:
    """A SQLite database that lives only as long as the process that opened it."""
    database = url.database or ""
    return url.get_backend_name() == "sqlite" and (
        database in ("", ":memory:") or "mode=memory" in database
    )


def _stored_revision(conn: Connection) -> str | None:
    """The single revision in alembic_version, read with plain SQL (no Alembic import)."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    return rows[0][0] if len(rows) == 1 else None


def _current_revision(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    heads = MigrationContext.configure(conn).get_current_heads()
    return ",".join(heads) if heads else None


def _refuse_unknown_revision(conn: Connection, shown: str) -> None:
    """A revision we do not know was written by a newer KAT Monitor: leave that database alone."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    heads = MigrationContext.configure(conn).get_current_heads()
    scripts = ScriptDirectory.from_config(alembic_config())
    known = {script.revision for script in scripts.walk_revisions()}
    for rev in heads:
        if rev not in known:
            raise DatabaseError(
                f"database schema {rev} is newer than this KAT Monitor understands ({shown})",
                "upgrade KAT Monitor to open this database; it was left unchanged",
            )


def _parse_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # ValueError: a malformed port or IPv6 host
        raise DatabaseError(
            f"cannot understand database URL {_mask_password(url)!r}", URL_HINT
        ) from None
    if not parsed.drivername:
        raise DatabaseError(f"cannot understand database URL {_mask_password(url)!r}", URL_HINT)
    return parsed


def _mask_password(text: str) -> str:
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", text)


def _prepare_sqlite_location(path: Path, create_directory: bool) -> None:
    """Create (if asked) the directory of a SQLite file and check that we may write there."""
    try:
        if path.is_dir():
            raise DatabaseError(
                f"cannot use {path} as the database: it is a directory", LOCATION_HINT
            )
        if create_directory:
            path.parent.mkdir(parents=True, exist_ok=True)
        elif not path.parent.is_dir():
            raise _missing_directory(path)
    except OSError as exc:
        raise _unwritable(path, _os_reason(exc, path)) from None
    # WAL needs the directory writable (for the -wal and -shm files) as well as the file.
    if not os.access(path.parent, os.W_OK | os.X_OK) or (
        path.exists() and not os.access(path, os.R_OK | os.W_OK)
    ):
        raise _unwritable(path, "permission denied")


def _unwritable(path: Path, reason: str) -> DatabaseError:
    return DatabaseError(f"cannot write the database at {path}: {reason}", LOCATION_HINT)


def _missing_directory(path: Path) -> DatabaseError:
    for parent in reversed(path.parents):
        if parent.exists() and not parent.is_dir():
            return _unwritable(path, f"{parent} is not a directory")
    return DatabaseError(
        f"cannot create the database at {path}: the directory {path.parent} does not exist",
        "check the path for a typing mistake; to use a new directory, create it first "
        f"(mkdir -p {path.parent})",
    )


def _os_reason(exc: OSError, path: Path) -> str:
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.EROFS:
        return "read-only file system"
    if exc.errno == errno.ENAMETOOLONG:
        return "the file name is too long"
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        for parent in reversed(path.parents):
            if parent.exists() and not parent.is_dir():
                return f"{parent} is not a directory"
    return (exc.strerror or str(exc)).lower()


def _open_error(exc: Exception, shown: str, path: Path | None) -> DatabaseError:
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    if path is not None:
        lowered = detail.lower()
        if "readonly" in lowered or "read-only" in lowered or "unable to open" in lowered:
            return _unwritable(path, "permission denied")
        if "not a database" in lowered:
            return DatabaseError(
                f"{path} is not a KAT Monitor database ({detail})",
                "give the path of a KAT Monitor database, or a new file name to create one",
            )
        return DatabaseError(f"cannot use the database at {path}: {detail}", LOCATION_HINT)
    return DatabaseError(
        f"cannot reach database {shown}: {detail}",
        "check that the database server is running and that the host, port, user and "
        "database name in the URL are right",
    )

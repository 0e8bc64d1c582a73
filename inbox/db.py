"""Engines, sessions and the schema (Alembic).

SQLite is the embedded default: WAL mode so the web process reads while the
worker writes (its checkpoints in a thread, see inbox/wal.py), a busy
timeout instead of "database is locked" errors, and foreign keys on.
PostgreSQL is reached through psycopg 3.
"""
from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from . import wal

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")


def normalise_url(url: str) -> str:
    """Let people write postgresql:// and get the psycopg 3 driver."""
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def make_engine(url: str, *, echo: bool = False) -> Engine:
    url = normalise_url(url)
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        connect_args: dict = {"timeout": 30, "check_same_thread": False}
        checkpointer = None  # a file's log is checkpointed by a thread; :memory: has none
        if u.database and u.database != ":memory:":
            path = Path(u.database).expanduser()
            path.parent.mkdir(parents=True, exist_ok=True)
            checkpointer = wal.Checkpointer(str(path))
            connect_args["factory"] = wal.connection_class(checkpointer)
        engine = create_engine(url, echo=echo, connect_args=connect_args)
        if checkpointer is not None:
            event.listen(engine, "engine_disposed", lambda _engine: checkpointer.stop())
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite defers BEGIN until the first write, and in WAL mode a
        # transaction that read and then writes after another writer
        # committed fails at once with SQLITE_BUSY (no busy wait). So writing
        # transactions take the write lock at BEGIN (SQLAlchemy docs,
        # "Serializable isolation / Savepoints"); read-only work uses
        # `reader_factory`, whose BEGIN is deferred and never blocks.
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see make_engine)
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; safe with WAL
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA cache_size=-65536")  # 64 MiB page cache
    cur.execute("PRAGMA temp_store=MEMORY")
    if isinstance(dbapi_conn, wal.CheckpointedConnection):
        wal.pragmas(cur)
    cur.close()


def _sqlite_begin(conn) -> None:
    mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
    conn.exec_driver_sql(f"BEGIN {mode}")


def is_sqlite(engine_or_session: Engine | Session) -> bool:
    bind = engine_or_session.get_bind() if isinstance(engine_or_session, Session) else engine_or_session
    return bind.dialect.name == "sqlite"


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def reader_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for read-only work (pages, reports): on SQLite they never
    take the write lock, so readers do not queue behind the worker."""
    if engine.dialect.name == "sqlite":
        engine = engine.execution_options(sqlite_begin="DEFERRED")
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(engine: Engine):
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine) -> str:
    """Create or upgrade the schema to the newest migration; returns what was done."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    cfg = alembic_config(engine)
    head = ScriptDirectory.from_config(cfg).get_current_head()
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    if current == head:
        return f"schema is up to date (revision {head})"
    command.upgrade(cfg, "head")
    return f"schema {'created' if current is None else 'upgraded from ' + current} at revision {head}"


def schema_state(engine: Engine) -> tuple[str | None, str]:
    """(current revision or None, head revision)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    if not inspect(engine).has_table("alembic_version"):
        return None, head
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision(), head


def safe_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)

"""SQLite checkpoints run in a thread (inbox/wal.py): a commit only appends
to the log, the thread copies it into the database file, and disposing of
the engine leaves everything in the file."""
from __future__ import annotations

import os
import shutil
import sqlite3
import time

from inbox import db, wal

BLOB = "x" * 2_000_000


def _wait_for(predicate, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_the_thread_copies_commits_into_the_database_file(tmp_path):
    path = tmp_path / "t.db"
    engine = db.make_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as c:
            c.exec_driver_sql("CREATE TABLE t (x TEXT)")
            assert c.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == wal.SAFETY_PAGES
        size = os.path.getsize(path)
        with engine.begin() as c:
            c.exec_driver_sql("INSERT INTO t VALUES (?)", (BLOB,))
        # 2 MB is far below the commits' own checkpoint threshold (64 MiB):
        # only the thread can have put it in the file.
        assert _wait_for(lambda: os.path.getsize(path) > size + len(BLOB) // 2)
    finally:
        engine.dispose()


def test_dispose_leaves_everything_in_the_file(tmp_path):
    path = tmp_path / "t.db"
    engine = db.make_engine(f"sqlite:///{path}")
    with engine.begin() as c:
        c.exec_driver_sql("CREATE TABLE t (x TEXT)")
    for n in range(5):
        with engine.begin() as c:
            c.exec_driver_sql("INSERT INTO t VALUES (?)", (f"row {n}",))
    engine.dispose()
    copy = tmp_path / "copy.db"
    shutil.copy(path, copy)  # the file alone, as a backup by hand would take it
    with sqlite3.connect(copy) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (5,)
    # The engine still works after dispose (its thread starts again).
    with engine.begin() as c:
        c.exec_driver_sql("INSERT INTO t VALUES ('after')")
    engine.dispose()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (6,)


def test_the_thread_ends_when_idle_and_comes_back(tmp_path, monkeypatch):
    monkeypatch.setattr(wal, "IDLE_SECONDS", 0.1)
    checkpointer = wal.Checkpointer(str(tmp_path / "t.db"))
    sqlite3.connect(tmp_path / "t.db").execute("PRAGMA journal_mode=WAL").close()
    checkpointer.nudge()
    first = checkpointer._thread
    assert first is not None and _wait_for(lambda: not first.is_alive(), 5)
    checkpointer.nudge()
    assert checkpointer._thread is not first and checkpointer._thread.is_alive()
    checkpointer.stop()
    assert checkpointer._thread is None

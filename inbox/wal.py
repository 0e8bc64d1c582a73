"""SQLite's write-ahead log copied into the database file off the writer's clock.

In WAL mode every commit appends to the log, and by default the commit
that takes the log past 1,000 pages also copies it into the database file
and waits for its fsync (a checkpoint). A first sync stores a few hundred
megabytes, so its commits spent about a sixth of the sync in checkpoints.

Here a thread of each process checkpoints after commits instead (PASSIVE:
it never blocks readers or writers; SQLite lets a checkpoint run while
another connection appends). A commit only appends to the log; with
synchronous=NORMAL it is durable at the next checkpoint, as before.
Connections still checkpoint themselves past SAFETY_PAGES, so the log
stays bounded if this thread cannot keep up or is gone.
"""
from __future__ import annotations

import logging
import os
import sqlite3
import threading

log = logging.getLogger(__name__)

SAFETY_PAGES = 16384  # 64 MiB of 4 KiB pages: a writer's own checkpoint, if the thread falls behind
SIZE_LIMIT = 64 * 1024 * 1024  # the log file is cut back to this after a checkpoint empties it
IDLE_SECONDS = 10.0  # the thread ends after this long without a commit (tests make many databases)


class Checkpointer:
    """One per engine: `nudge()` after a commit; checkpoints run in a thread."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._generation = 0  # a thread ends when this is no longer the one it was started with
        self._pid = os.getpid()

    def nudge(self) -> None:
        self._wake.set()
        with self._lock:
            # A forked child has the object but not the thread.
            if self._thread is None or not self._thread.is_alive() or self._pid != os.getpid():
                self._pid = os.getpid()
                self._generation += 1
                self._thread = threading.Thread(target=self._run, args=(self._generation,),
                                                name="sqlite-checkpoint", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        """End the thread and close its connection (engine.dispose() calls
        this): with no connection left, SQLite folds the log into the file."""
        with self._lock:
            thread, self._thread = self._thread, None
            self._generation += 1
        self._wake.set()
        if thread is not None and thread is not threading.current_thread() and self._pid == os.getpid():
            thread.join(timeout=30)

    def _run(self, generation: int) -> None:
        try:
            conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        except sqlite3.Error as e:
            log.warning("background checkpoints not running (%s): commits will checkpoint themselves", e)
            return
        try:
            while True:
                woken = self._wake.wait(IDLE_SECONDS)
                with self._lock:
                    if generation != self._generation:
                        return
                    if not (woken or self._wake.is_set()):  # idle: end, and start again on a commit
                        self._thread = None
                        return
                self._wake.clear()
                try:
                    # sqlite3 releases the GIL for this: the writer goes on meanwhile.
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as e:  # busy or gone: the next commit tries again
                    log.debug("background checkpoint of %s skipped: %s", self.path, e)
        finally:
            conn.close()


def pragmas(cur) -> None:
    """Per-connection settings that hand checkpoints to the thread."""
    cur.execute(f"PRAGMA wal_autocheckpoint={SAFETY_PAGES}")
    cur.execute(f"PRAGMA journal_size_limit={SIZE_LIMIT}")


class CheckpointedConnection(sqlite3.Connection):
    """A connection whose commits nudge its engine's Checkpointer."""
    checkpointer: Checkpointer

    def commit(self) -> None:
        super().commit()
        self.checkpointer.nudge()


def connection_class(checkpointer: Checkpointer) -> type[CheckpointedConnection]:
    """sqlite3.connect(factory=...) for connections of one database file."""
    return type("CheckpointedConnection", (CheckpointedConnection,), {"checkpointer": checkpointer})

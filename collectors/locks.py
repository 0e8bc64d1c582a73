"""Who does what when several workers share one PostgreSQL.

Every worker keeps one connection of its own, outside the pool, and holds
session-level advisory locks on it:

- one per account it polls (and listens to with IDLE), keyed by the name;
- one per reply it is sending or reconciling, keyed by the reply id, taken
  *before* the claim commits, so a reply in `sending` whose lock is free
  was left by a worker that is gone (no guessing from host names and ages);
- one that says the worker is alive, so every worker can count the live
  ones and keep only its fair share of the accounts: a worker that joins
  gets accounts within two heartbeats.

When a worker dies PostgreSQL ends its session and every lock with it; the
next heartbeat of another worker (every 10 s) takes the accounts over. TCP
keepalives on that session make a crashed *host* count as dead within
about 20 s too, where the kernel default would take two hours.

On SQLite there is one machine and one worker: every account is ours and
the outbox falls back to checking the claimer's process id.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import random
import socket
import threading
from collections.abc import Callable, Iterable, Iterator

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

log = logging.getLogger("replydesk.worker")
HEARTBEAT_SECONDS = 10
# Two-int advisory keys (space, id) live apart from the one-bigint account
# keys in pg_locks (objsubid 2 vs 1), so they can never collide.
REPLY_SPACE = 0x52440001
WORKER_SPACE = 0x52440002
# Server side: notice a vanished worker host after ~5 + 3 x 2 s of silence
# (or 10 s of unacknowledged data) instead of the kernel's two hours.
SESSION_OPTIONS = ("-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3 "
                   "-c tcp_user_timeout=10000")
CLIENT_KEEPALIVES = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 3}


def lock_key(name: str) -> int:
    """A stable signed 64-bit key per account name."""
    return int.from_bytes(hashlib.sha1(f"replydesk:account:{name}".encode()).digest()[:8], "big", signed=True)


def _int4(value: str) -> int:
    return int.from_bytes(hashlib.sha1(value.encode()).digest()[:4], "big", signed=True)


def worker_label() -> str:
    """What pg_stat_activity shows for a worker's lock session."""
    return f"replydesk worker {socket.gethostname()}:{os.getpid()}"[:63]


class WorkerLocks:
    """The advisory locks of one worker process, on one dedicated connection.

    Thread-safe: poll jobs, the outbox job and the heartbeat share it."""

    def __init__(self, factory: sessionmaker[Session], *, on_acquired: Callable[[str], None] | None = None,
                 on_lost: Callable[[str], None] | None = None):
        bind = factory.kw["bind"]
        self.postgres = bind.dialect.name == "postgresql"
        self._url = bind.url
        self._engine: Engine | None = None
        self._conn: Connection | None = None
        self._mutex = threading.RLock()
        self._held: set[str] = set()
        self._wanted: set[str] = set()
        self._busy: dict[str, threading.Lock] = {}
        self._replies: set[int] = set()
        self._give_away: set[str] = set()  # above our share: let go when the poll in hand ends
        self._registered = False  # counted among the live workers in this session
        self._free_before: set[str] = set()  # free at the last heartbeat and not taken
        self._on_acquired = on_acquired
        self._on_lost = on_lost

    # --- accounts ------------------------------------------------------------
    def want(self, names: Iterable[str]) -> None:
        """Accounts this worker can poll; the heartbeat takes its share."""
        with self._mutex:
            for name in names:
                self._wanted.add(name)
                self._busy.setdefault(name, threading.Lock())

    def held(self, name: str) -> bool:
        return not self.postgres or name in self._held

    @contextlib.contextmanager
    def polling(self, name: str) -> Iterator[bool]:
        """True inside when this worker owns `name`; while inside, the
        heartbeat will not hand the account to another worker."""
        self.want([name])
        with self._busy[name]:
            try:
                yield self.held(name)
            finally:
                if name in self._give_away:
                    self._hand_over(name)

    def _hand_over(self, name: str) -> None:
        """Release `name` (its poll is not running) so another worker takes it."""
        with self._mutex:
            self._give_away.discard(name)
            if name not in self._held or self._conn is None:
                return
            try:
                self._unlock_account(self._conn, name)
            except Exception:
                self._lose_session()
                return
        log.info("handing %s to another worker", name)
        self._notify(self._on_lost, name)

    def heartbeat(self) -> None:
        """Check the session, count live workers, give away accounts above
        our fair share and take free ones up to it (or ones nobody took)."""
        if not self.postgres:
            for name in sorted(self._wanted - self._held):
                self._held.add(name)
                self._notify(self._on_acquired, name)
            return
        for attempt in (1, 2):  # a lost session (database restart) is reopened at once
            try:
                self._beat()
                return
            except Exception as exc:  # keep nothing we cannot prove we hold
                self._lose_session()
                if attempt == 2:
                    log.warning("worker locks: database unreachable (%s); polling paused until it is back",
                                type(exc).__name__)

    def _beat(self) -> None:
        acquired, released = [], []
        with self._mutex:
            conn = self._session()
            self._register(conn)
            live = conn.execute(text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid::bigint = :space AND objsubid = 2 "
                "AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"),
                {"space": WORKER_SPACE}).scalar() or 1
            fair = math.ceil(len(self._wanted) / live) if self._wanted else 0
            self._give_away.clear()
            for name in sorted(self._held, reverse=True)[: max(0, len(self._held) - fair)]:
                if self._busy[name].acquire(blocking=False):
                    try:
                        self._unlock_account(conn, name)
                    finally:
                        self._busy[name].release()
                    released.append(name)
                else:  # never in the middle of a poll: its end hands it over
                    self._give_away.add(name)
            free = self._free(conn, sorted(self._wanted - self._held))
            random.shuffle(free)  # workers starting together should not all reach for the same account
            taken: set[str] = set()
            for name in free:
                orphan = name in self._free_before
                if (len(self._held) < fair or orphan) and self._try_account(conn, name):
                    taken.add(name)
                    acquired.append(name)
            self._free_before = set(free) - taken - set(released)
        for name in released:
            log.info("handing %s to another worker (%d live, fair share %d)", name, live, fair)
            self._notify(self._on_lost, name)
        if self._give_away:
            log.info("%d live workers, fair share %d: handing over %s after the polls in hand",
                     live, fair, ", ".join(sorted(self._give_away)))
        for name in acquired:
            log.info("this worker now polls %s", name)
            self._notify(self._on_acquired, name)

    def _free(self, conn: Connection, names: list[str]) -> list[str]:
        """Which of `names` no session holds, in one query."""
        if not names:
            return []
        keys = {lock_key(n): n for n in names}
        taken = {(int(c) << 32) | int(o) for c, o in conn.execute(text(
            "SELECT classid::bigint, objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 "
            "AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"))}
        return [n for k, n in keys.items() if (k & 0xFFFFFFFFFFFFFFFF) not in taken]

    def _try_account(self, conn: Connection, name: str) -> bool:
        if conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": lock_key(name)}).scalar():
            self._held.add(name)
            return True
        return False

    def _unlock_account(self, conn: Connection, name: str) -> None:
        self._held.discard(name)
        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key(name)})

    # --- replies -------------------------------------------------------------
    def hold_reply(self, reply_id: int) -> bool:
        """Lock `reply_id` for this worker. False when any session, this
        one included, already holds it: someone is working on that reply."""
        if not self.postgres:
            return True
        with self._mutex:
            if reply_id in self._replies:
                return False
            try:
                got = self._session().execute(text(
                    "SELECT pg_try_advisory_lock(CAST(:s AS integer), CAST(:r AS integer))"),
                    {"s": REPLY_SPACE, "r": reply_id}).scalar()
            except Exception:
                self._lose_session()
                raise
            if got:
                self._replies.add(reply_id)
            return bool(got)

    def release_reply(self, reply_id: int) -> None:
        if not self.postgres:
            return
        with self._mutex:
            if reply_id not in self._replies or self._conn is None:
                return
            self._replies.discard(reply_id)
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(CAST(:s AS integer), CAST(:r AS integer))"),
                                   {"s": REPLY_SPACE, "r": reply_id})
            except Exception:
                self._lose_session()

    # --- the session -----------------------------------------------------------
    def _session(self) -> Connection:
        """The lock session, opened on first use. A dead session shows as an
        error on its next statement; callers then call `_lose_session`."""
        if self._conn is not None:
            return self._conn
        if self._engine is None:
            self._engine = create_engine(self._url, poolclass=NullPool, isolation_level="AUTOCOMMIT",
                                         connect_args={"application_name": worker_label(),
                                                       "options": SESSION_OPTIONS, **CLIENT_KEEPALIVES})
        self._conn = self._engine.connect()
        self._registered = False
        return self._conn

    def _register(self, conn: Connection) -> None:
        """Count this process among the live workers. Only the heartbeat does
        it: a one-off sender (`replydesk send --once`) holds replies, not
        accounts, and must not shrink the workers' fair shares."""
        if not self._registered:
            me = _int4(f"{socket.gethostname()}:{os.getpid()}:{id(self)}")
            conn.execute(text("SELECT pg_try_advisory_lock(CAST(:s AS integer), CAST(:w AS integer))"),
                         {"s": WORKER_SPACE, "w": me})
            self._registered = True

    def _lose_session(self) -> None:
        with self._mutex:
            conn, self._conn = self._conn, None
            if conn is not None:
                log.warning("worker locks: the lock session was lost; every lock it held is gone")
            lost = sorted(self._held)
            self._held.clear()
            self._give_away.clear()
            if self._replies:
                log.warning("worker locks: %d reply lock(s) lost while sending; another worker may now "
                            "reconcile them", len(self._replies))
            self._replies.clear()
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.invalidate()
        for name in lost:
            self._notify(self._on_lost, name)

    def _notify(self, callback: Callable[[str], None] | None, name: str) -> None:
        if callback is None:
            return
        try:
            callback(name)
        except Exception:  # a callback must not stop the heartbeat
            log.exception("worker locks: callback for %s failed", name)

    def release_all(self) -> None:
        with self._mutex:
            conn, self._conn = self._conn, None
            self._held.clear()
            self._replies.clear()
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()  # ending the session releases every advisory lock it held
        if self._engine is not None:
            self._engine.dispose()


def owners(engine: Engine, names: Iterable[str]) -> dict[str, str | None]:
    """Account name -> the application_name of the session polling it (None:
    nobody). For tests and for `deployment.md`'s "who polls what"."""
    keys = {lock_key(n) & 0xFFFFFFFFFFFFFFFF: n for n in names}
    out: dict[str, str | None] = {n: None for n in keys.values()}
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT l.classid::bigint, l.objid::bigint, a.application_name FROM pg_locks l "
            "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.objsubid = 1 "
            "AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"))
        for high, low, app in rows:
            name = keys.get((int(high) << 32) | int(low))
            if name is not None:
                out[name] = app
    return out

"""A Replydesk cluster for the scale tests and the fault campaigns in bench/:
a database of its own, a config naming stand-in accounts, and worker
processes started (and killed) as a deployment would run them:
`python -m webui.cli worker` with REPLYDESK_CONFIG.

Used by tests/scale and bench/faults_*.py, so the campaigns and their short
versions in the test suite exercise the same harness.
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[2]


def wait_for(predicate: Callable[[], object], timeout: float = 30.0, every: float = 0.1):
    """The predicate's first truthy value, or None after `timeout` seconds."""
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= end:
            return value
        time.sleep(every)


@contextlib.contextmanager
def pg_database(prefix: str = "replydesk_scale", keep: bool = False) -> Iterator[str]:
    """A new, empty PostgreSQL database (uniquely named); dropped afterwards."""
    from tests import pg

    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = pg.create_database(name)
    try:
        yield url
    finally:
        if not keep:
            pg.drop_database(name)


def x_account(api, name: str, **extra) -> dict:
    return {"name": name, "kind": "x", "username": api.me["username"], "bearer_token": api.bearer_token,
            "consumer_key": api.consumer_key, "consumer_secret": api.consumer_secret,
            "access_token": api.access_token, "access_token_secret": api.access_token_secret,
            "api_url": api.url, "timeout_seconds": 3.0, **extra}


def reddit_account(api, name: str, **extra) -> dict:
    return {"name": name, "kind": "reddit", "client_id": api.client_id, "client_secret": api.client_secret,
            "username": api.me, "password": api.password, "user_agent": "replydesk-scale/1.0 (by u/acme)",
            "oauth_url": api.url, "reddit_url": api.url, "timeout_seconds": 3.0, **extra}


def email_account(dovecot, user: tuple[str, str], smtp, name: str, **extra) -> dict:
    return {"name": name, "kind": "email", "address": f"{user[0]}@acme.test", "from_name": "Acme Support",
            "imap_host": dovecot.host, "imap_port": dovecot.port, "imap_security": "starttls",
            "imap_username": user[0], "imap_password": user[1], "ca_file": str(dovecot.cert),
            "smtp_host": smtp.host, "smtp_port": smtp.port, "smtp_security": "none", "timeout_seconds": 5.0,
            **extra}


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


class Cluster:
    """Config, database and worker processes of one test or campaign."""

    def __init__(self, url: str, accounts: list[dict], *, folder: str | Path | None = None,
                 worker: dict | None = None, env: dict | None = None):
        self.url = url
        self.accounts = accounts
        self.folder = Path(folder or tempfile.mkdtemp(prefix="replydesk-cluster-"))
        self.worker_settings = {"outbox_seconds": 0.5, "jitter_seconds": 0, **(worker or {})}
        self.env = {**os.environ, "REPLYDESK_CONFIG": str(self.config_path), **(env or {})}
        self.env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), self.env.get("PYTHONPATH")) if p)
        self.procs: dict[str, subprocess.Popen] = {}
        self._log_from: dict[str, int] = {}
        self.kills = 0
        self.orphans = 0  # children that outlived a killed worker (then killed too)
        self._engine = None
        self.write_config()

    @property
    def config_path(self) -> Path:
        return self.folder / "replydesk.toml"

    def write_config(self) -> None:
        lines = ["[database]", f"url = {_toml(self.url)}", "", "[worker]"]
        lines += [f"{k} = {_toml(v)}" for k, v in self.worker_settings.items()]
        for acc in self.accounts:
            lines += ["", "[[accounts]]"] + [f"{k} = {_toml(v)}" for k, v in acc.items()]
        self.config_path.write_text("\n".join(lines) + "\n")

    def init(self) -> None:
        """`replydesk init`: schema and account rows, before any worker starts."""
        done = subprocess.run([sys.executable, "-m", "webui.cli", "init"], env=self.env, cwd=ROOT,
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"replydesk init failed: {done.stderr or done.stdout}")

    @property
    def factory(self):
        from inbox import db

        if self._engine is None:
            self._engine = db.make_engine(self.url)
        return db.session_factory(self._engine)

    @property
    def engine(self):
        self.factory  # noqa: B018  (creates it)
        return self._engine

    # --- workers -------------------------------------------------------------
    def start(self, name: str) -> subprocess.Popen:
        log = open(self.folder / f"{name}.log", "a")
        log.write(f"--- start {time.strftime('%H:%M:%S')}\n")
        log.flush()
        self._log_from[name] = log.tell()
        proc = subprocess.Popen([sys.executable, "-m", "webui.cli", "worker"], env=self.env, cwd=ROOT,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.procs[name] = proc
        return proc

    def kill(self, name: str) -> None:
        """SIGKILL the worker process, as the OOM killer or a power cut would,
        then make sure no child it left (a parser pool) outlives it."""
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        self.kills += 1
        left = _group(proc.pid)
        if left:
            self.orphans += len(left)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

    def stop(self, name: str, timeout: float = 60.0) -> int:
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)

    def log(self, name: str, *, this_run: bool = False) -> str:
        path = self.folder / f"{name}.log"
        if not path.exists():
            return ""
        with open(path, "rb") as f:
            f.seek(self._log_from.get(name, 0) if this_run else 0)
            return f.read().decode(errors="replace")

    def started(self, name: str, timeout: float = 60.0) -> bool:
        """Wait until the worker's current run logged that it started."""
        return bool(wait_for(lambda: "worker started" in self.log(name, this_run=True), timeout, every=0.05))

    def close(self) -> None:
        for name in list(self.procs):
            with contextlib.suppress(Exception):
                self.kill(name)
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def __enter__(self) -> "Cluster":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def ingest(self) -> None:
        """Poll every configured account once, in this process, through the
        channels and the real ingest path (`replydesk collect --once`)."""
        from collectors.registry import make_channel, settings_by_kind
        from collectors.runner import poll_once
        from inbox import config as cfg

        for account in cfg.load(self.config_path, settings_by_kind()).accounts:
            channel = make_channel(account)
            try:
                result = poll_once(channel, self.factory)
                if result.error:
                    raise RuntimeError(f"{account.name}: {result.error}")
            finally:
                channel.close()

    # --- what is stored ------------------------------------------------------
    def message_counts(self) -> tuple[int, int]:
        """(messages, distinct (account, external id)): equal when nothing is doubled."""
        from inbox.models import Message

        with self.factory() as s:
            total = s.scalar(select(func.count()).select_from(Message))
            distinct = s.scalar(select(func.count()).select_from(
                select(Message.account_id, Message.external_id).distinct().subquery()))
            return total, distinct

    def owners(self) -> dict[str, str | None]:
        from collectors.locks import owners

        return owners(self.engine, [a["name"] for a in self.accounts])


def _group(pgid: int) -> list[int]:
    """Live processes of process group `pgid` (Linux /proc)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
            out.append(int(entry))
    return out


def worker_pid(label: str | None) -> int | None:
    """The process id in a lock session's application_name."""
    if not label:
        return None
    tail = label.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else None


def unlimited(api) -> None:
    """Lift the X stand-in's per-route windows: campaigns measure faults, not quotas."""
    from collectors.standins.x_api import LIMITS

    with api.lock:
        for route in LIMITS:
            api.limits[route] = [10**9, 10**9, 2**31 - 1]


class Feeder:
    """Customers writing in: a thread adding mentions to stand-ins at a steady rate."""

    def __init__(self, add: Callable[[int], object], per_second: float):
        import threading

        self.add, self.every = add, 1.0 / per_second
        self.count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="feeder")

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            self.add(self.count)
            self.count += 1
            next_at += self.every
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def __enter__(self) -> "Feeder":
        self._thread.start()
        return self

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.count

    def __exit__(self, *exc) -> None:
        self.stop()


def kill_repeatedly(c: Cluster, name: str, progress: Callable[[], int], total: int, kills: int, rng,
                    report: Callable[[str], None] = print, first: int = 1) -> list[dict]:
    """Start the worker and SIGKILL it `kills` times while `progress()` (work
    done, out of `total`) moves: a fifth right after start-up, two fifths
    at a random time, two fifths after some work was stored plus a random
    pause, so kills land anywhere in fetching, parsing, sending or storing."""
    lives = []
    for k in range(first, first + kills):
        before = progress()
        if before >= total:
            report(f"kill {k}: all work was done before it; stopping the kills here")
            break
        c.start(name)
        t0 = time.monotonic()
        if not c.started(name):
            raise RuntimeError(f"worker did not start:\n{c.log(name, this_run=True)[-3000:]}")
        # A pause may also end early, once a random share of the work left
        # is stored: a fast machine would otherwise finish a small job inside
        # the pause and the kill would land after the work, proving nothing.
        target = before + max(1, int((total - before) * rng.uniform(0.05, 0.6)))

        def pause(seconds: float) -> None:
            end = time.monotonic() + seconds
            wait_for(lambda: time.monotonic() >= end or progress() >= target, seconds + 1, every=0.02)
            if time.monotonic() < end:
                # Stopped by progress: a batch was just stored; land inside the
                # next. A batch of 500 mails takes about 0.3 s now: stay within that.
                time.sleep(rng.uniform(0.0, min(0.15, end - time.monotonic())))
        dice = rng.random()
        if dice < 0.2:
            pause(rng.uniform(0.0, 1.0))
            when = "soon after start-up"
        elif dice < 0.6:
            pause(rng.uniform(1.0, 4.0))
            when = "at a random time"
        else:
            wait_for(lambda: progress() > before, 180, every=0.05)
            pause(rng.uniform(0.0, 1.5))  # batches take about a second: land anywhere in the next
            when = "after some work"
        at = progress()
        c.kill(name)
        after = progress()
        life = {"kill": k, "seconds": time.monotonic() - t0, "before": before, "at_kill": at, "after": after,
                "when": when}
        lives.append(life)
        report(f"kill {k:2d} after {life['seconds']:5.1f} s ({when}): done {before} -> {at} "
               f"(after the kill: {after}) of {total}")
    return lives

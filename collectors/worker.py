"""`replydesk worker`: the schedule that polls accounts and drains the outbox.

APScheduler 3 runs one job per account at its `poll_seconds` (with jitter,
`max_instances=1`, misfires coalesced), the outbox every few seconds and the
snooze alarm every 30 s. Channels that push (IMAP IDLE) listen in their own
threads and only *wake* their account's poll job, so every item still goes
through the same fetch -> store path. SIGTERM/SIGINT stop it after the
batch in hand.

Several workers can share one PostgreSQL: `locks.WorkerLocks` decides
which worker polls (and listens to) each account, and holds each reply
while it is being sent. Every worker runs the same schedule; a job whose
account another worker owns simply returns.
"""
from __future__ import annotations

import logging
import signal
import threading
import time
from datetime import datetime, timedelta, timezone

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.orm import Session, sessionmaker

from inbox import accounts, workflow
from inbox.config import Config

from . import locks, runner
from .base import Channel
from .registry import make_channel

log = logging.getLogger("replydesk.worker")
# A push connection that failed is retried after 1 s, doubling up to 30 s:
# a restarting IMAP server is usually back within seconds.
PUSH_RETRY_FIRST = 1.0
PUSH_RETRY_SECONDS = 30.0
# Likewise a poll that failed transiently (a connection the server dropped)
# is tried again after 1 s, doubling up to the account's poll_seconds,
# instead of leaving new mail waiting for the next scheduled poll.
POLL_RETRY_FIRST = 1.0


class Worker:
    def __init__(self, config: Config, factory: sessionmaker[Session], *, channels: dict[str, Channel] | None = None,
                 only: list[str] | None = None):
        self.config = config
        self.factory = factory
        self.stop = threading.Event()
        self.channels = channels if channels is not None else {
            a.name: make_channel(a) for a in config.accounts if a.enabled and (only is None or a.name in only)}
        self.locks = locks.WorkerLocks(factory, on_acquired=self.wake, on_lost=self._lost)
        self.locks.want(self.channels)
        # Set to end one account's push connection (lock lost, or shutdown).
        self._halt = {name: threading.Event() for name in self.channels}
        self.scheduler = BackgroundScheduler(timezone=timezone.utc, job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": 60})
        self._listeners: list[threading.Thread] = []
        self._heartbeat: threading.Thread | None = None
        self._stopped = False
        self._woken: set[str] = set()  # accounts a push asked to poll again
        self._poll_retry: dict[str, float] = {}  # account -> seconds before the next quick retry

    # --- jobs ----------------------------------------------------------------

    def poll(self, name: str) -> runner.PollResult | None:
        if self.stop.is_set():
            return None
        with self.locks.polling(name) as mine:
            if not mine:
                return None  # another worker owns this account
            while True:
                # A wake-up that arrives while this poll runs cannot start a
                # second instance (max_instances=1), and this poll may have
                # read the mailbox just before the new mail: poll once more.
                self._woken.discard(name)
                result = runner.poll_once(self.channels[name], self.factory, stop=self.stop)
                if name not in self._woken or self.stop.is_set():
                    break
        if result.error and result.error.startswith("transient"):
            self._retry_soon(name)
        else:
            self._poll_retry.pop(name, None)
        return result

    def _retry_soon(self, name: str) -> None:
        delay = self._poll_retry.get(name, POLL_RETRY_FIRST)
        self._poll_retry[name] = min(delay * 2, self.channels[name].poll_seconds)
        job = self.scheduler.get_job(f"poll:{name}")
        at = datetime.now(timezone.utc) + timedelta(seconds=delay)
        if job is not None and (job.next_run_time is None or at < job.next_run_time):
            job.modify(next_run_time=at)

    def drain_outbox(self) -> runner.SendResult | None:
        if self.stop.is_set():
            return None
        return runner.send_due(self.channels, self.factory,
                               max_attempts=self.config.worker["max_send_attempts"], locks=self.locks)

    def wake_snoozed(self) -> None:
        with self.factory.begin() as session:
            n = workflow.wake_snoozed(session)
        if n:
            log.info("snooze ended for %d conversation(s)", n)

    def apply_report_settings(self) -> None:
        """SLA settings changed in the config: rebuild the report tables in
        the background (ingest keeps going; the rollups are differences)."""
        from inbox.reports import apply_settings

        def progress(done: int, total: int) -> None:
            log.info("report tables: rebuilt %d/%d conversations for the new SLA settings", done, total)

        if apply_settings(self.factory, self.config, progress=progress):
            log.info("report tables rebuilt for the new SLA settings")

    def catch_up_reports(self) -> None:
        from inbox.reports import catch_up

        n = catch_up(self.factory)
        if n:
            log.debug("report tables: %d conversation(s) brought up to date", n)

    def prune(self) -> None:
        with self.factory.begin() as session:
            n = workflow.prune_changes(session)
        if n:
            log.info("pruned %d old change-feed rows", n)

    def wake(self, name: str) -> None:
        """A push channel says new items may be waiting: poll now."""
        self._woken.add(name)
        job = self.scheduler.get_job(f"poll:{name}")
        if job is not None:
            job.modify(next_run_time=datetime.now(timezone.utc))

    def _lost(self, name: str) -> None:
        """Another worker owns `name` now: its push connection must end here."""
        halt = self._halt.get(name)
        if halt is not None:
            halt.set()

    # --- push listeners ----------------------------------------------------------

    def _listen(self, name: str) -> None:
        channel = self.channels[name]
        halt = self._halt[name]
        retry = PUSH_RETRY_FIRST
        while not self.stop.is_set():
            if not self.locks.held(name):
                self.stop.wait(1)
                continue
            halt.clear()
            if not self.locks.held(name) or self.stop.is_set():  # lost or stopping while we cleared it
                continue
            started = time.monotonic()
            try:
                self._push_status(name, "listening for new items (push)")
                channel.listen(lambda: self.wake(name), halt)
                retry = PUSH_RETRY_FIRST
            except Exception as exc:
                if time.monotonic() - started > 2 * PUSH_RETRY_SECONDS:
                    retry = PUSH_RETRY_FIRST  # it worked for a while: this is a new outage
                err = runner.redact(str(exc), channel)
                log.warning("%s: push stopped (%s); retrying in %.0f s, polling every %.0f s meanwhile",
                            name, err, retry, channel.poll_seconds)
                try:
                    self._push_status(name, f"polling: push failed: {err}"[:200])
                except Exception:  # the database may be what failed; the status is not worth dying for
                    pass
                halt.wait(retry)
                retry = min(retry * 2, PUSH_RETRY_SECONDS)

    def _beat(self) -> None:
        # Its own thread, not a scheduler job: long first syncs can fill the
        # scheduler's pool, and a late heartbeat would delay takeovers.
        while not self.stop.wait(locks.HEARTBEAT_SECONDS):
            self.locks.heartbeat()

    def _push_status(self, name: str, status: str) -> None:
        with self.factory.begin() as session:
            acc = accounts.account_by_name(session, name)
            accounts.set_push_status(session, acc.id, status)

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        self.locks.heartbeat()  # take our share of the accounts before the first polls
        jitter = self.config.worker["jitter_seconds"]
        now = datetime.now(timezone.utc)
        for name, channel in self.channels.items():
            self.scheduler.add_job(self.poll, "interval", args=[name], id=f"poll:{name}",
                                   seconds=channel.poll_seconds, jitter=jitter or None, next_run_time=now)
            if channel.pushes and channel.config.get("idle", True):
                t = threading.Thread(target=self._listen, args=[name], name=f"push:{name}", daemon=True)
                self._listeners.append(t)
        self.scheduler.add_job(self.drain_outbox, "interval", id="outbox",
                               seconds=self.config.worker["outbox_seconds"], next_run_time=now)
        self.scheduler.add_job(self.wake_snoozed, "interval", id="snooze", seconds=30, next_run_time=now)
        self.scheduler.add_job(self.prune, "interval", id="prune", hours=1, next_run_time=now)
        self.scheduler.add_job(self.catch_up_reports, "interval", id="reports", seconds=3, next_run_time=now)
        self.scheduler.add_job(self.apply_report_settings, id="report-settings", next_run_time=now)
        self.scheduler.start()
        self._heartbeat = threading.Thread(target=self._beat, name="locks", daemon=True)
        self._heartbeat.start()
        for t in self._listeners:
            t.start()
        log.info("worker started: %d account(s): %s", len(self.channels), ", ".join(self.channels) or "none")

    def shutdown(self) -> None:
        """Finish the batch in hand, then stop."""
        if self._stopped:
            return
        self._stopped = True
        self.stop.set()
        for halt in self._halt.values():
            halt.set()
        log.info("worker stopping after the current batch")
        self.scheduler.shutdown(wait=True)
        if self._heartbeat is not None:
            self._heartbeat.join(timeout=5)
        for t in self._listeners:
            t.join(timeout=5)
        for channel in self.channels.values():
            try:
                channel.close()
            except Exception:
                pass
        self.locks.release_all()
        log.info("worker stopped")

    def run_until_signal(self) -> None:
        """Block until SIGTERM/SIGINT (or `stop` is set elsewhere)."""
        def on_signal(signum, _frame):
            log.info("received %s", signal.Signals(signum).name)
            self.stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        while not self.stop.is_set():
            self.stop.wait(0.5)

    def run_forever(self) -> None:
        self.start()
        try:
            self.run_until_signal()
        finally:
            self.shutdown()


def run_once_all(config: Config, factory: sessionmaker[Session], account: str | None = None) -> list[runner.PollResult]:
    """`replydesk collect --once`: every enabled account (or one) once."""
    results = []
    for acc in config.accounts:
        if (account and acc.name != account) or (not account and not acc.enabled):
            continue
        channel = make_channel(acc)
        t0 = time.perf_counter()
        try:
            results.append(runner.poll_once(channel, factory))
        finally:
            channel.close()
        log.debug("%s polled in %.0f ms", acc.name, (time.perf_counter() - t0) * 1000)
    return results

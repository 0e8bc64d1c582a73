"""One poll of one account, and one pass over the outbox.

The worker's scheduler calls these; so do `replydesk collect --once` and
`replydesk send --once`. Nothing a channel raises escapes: every failure
ends up in the account's health or on the reply, with secrets removed.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from inbox import accounts, outbox
from inbox.channel import Batch, ChannelError, SentRef, Transient
from inbox.ingest import IngestResult, load_cursors, store_batch
from inbox.models import Account, OutboundReply, utcnow

from .base import Channel
from .locks import WorkerLocks

log = logging.getLogger("replydesk.worker")
STORE_ATTEMPTS = 4


@dataclass(slots=True)
class PollResult:
    account: str
    new: int = 0
    duplicates: int = 0
    flagged: int = 0
    outbound: int = 0
    batches: int = 0
    ms: float = 0.0
    error: str | None = None
    skipped: str | None = None
    conversations: set[int] = field(default_factory=set)

    @property
    def failed(self) -> int:
        return 1 if self.error else 0


def redact(text: str, channel: Channel) -> str:
    """Remove every secret of the channel's config from `text`."""
    for s in channel.settings:
        value = channel.config.get(s.name)
        if s.secret and isinstance(value, str) and len(value) >= 4:
            text = text.replace(value, "***")
    return text


def _as_channel_error(err: Exception, channel: Channel) -> ChannelError:
    if isinstance(err, ChannelError):
        return type(err)(redact(str(err), channel), *([err.reset_at] if hasattr(err, "reset_at") else []))
    return Transient(redact(f"unexpected {type(err).__name__}: {err}", channel))


def store(factory: sessionmaker[Session], account_id: int, batch: Batch) -> IngestResult:
    """Store one batch atomically (items and cursors), retrying when another
    process raced us (SQLite busy, PostgreSQL unique or serialization errors)."""
    for attempt in range(1, STORE_ATTEMPTS + 1):
        try:
            with factory.begin() as session:
                acc = session.get(Account, account_id)
                stored = store_batch(session, acc, batch)
                if batch.progress:
                    # In the same transaction: one commit (an fsync) per batch, not two.
                    done, total = batch.progress
                    accounts.set_progress(session, account_id, None if done >= total else f"{done}/{total}")
                return stored
        except (IntegrityError, OperationalError):
            if attempt == STORE_ATTEMPTS:
                raise
            time.sleep(0.05 * attempt)
    raise AssertionError("unreachable")


def poll_once(channel: Channel, factory: sessionmaker[Session], *, stop: threading.Event | None = None) -> PollResult:
    """Fetch everything new for one account and store it batch by batch."""
    t0 = time.perf_counter()
    result = PollResult(channel.name)
    with factory.begin() as session:
        acc = accounts.account_by_name(session, channel.name)
        account_id = acc.id
        if acc.rate_limited_until and acc.rate_limited_until > utcnow():
            result.skipped = f"rate limited until {acc.rate_limited_until:%H:%M:%S} UTC"
            return result
        cursors = load_cursors(session, account_id)
    try:
        for batch in channel.fetch(cursors):
            stored = store(factory, account_id, batch)
            result.batches += 1
            result.new += stored.new
            result.duplicates += stored.duplicates
            result.flagged += stored.flagged
            result.outbound += stored.outbound
            result.conversations |= stored.conversations
            cursors.update(batch.cursors)
            if batch.after_commit is not None:
                _after_commit(batch, channel)
            if batch.note:
                log.warning("%s: %s", channel.name, batch.note)
                with factory.begin() as session:
                    accounts.add_note(session, account_id, batch.note)
            if batch.progress:
                log.info("%s: first sync %d/%d", channel.name, *batch.progress)
            if stop is not None and stop.is_set():
                break
    except Exception as exc:  # nothing from outside may crash the worker
        err = _as_channel_error(exc, channel)
        if not isinstance(exc, ChannelError):
            log.error("%s: poll failed unexpectedly: %s", channel.name, err, exc_info=log.isEnabledFor(logging.DEBUG))
        result.error = f"{err.kind}: {err}"
        with factory.begin() as session:
            accounts.record_failure(session, account_id, err)
    else:
        with factory.begin() as session:
            accounts.record_success(session, account_id)
    result.ms = (time.perf_counter() - t0) * 1000
    log.info("poll account=%s new=%d duplicates=%d flagged=%d ms=%.0f%s", channel.name, result.new,
             result.duplicates, result.flagged, result.ms, f" error={result.error}" if result.error else "")
    return result


def _after_commit(batch: Batch, channel: Channel) -> None:
    # Items are stored; a failure here (e.g. marking Reddit items read) only
    # means the channel hands them again, and ingest drops the duplicates.
    try:
        batch.after_commit()
    except Exception as exc:
        log.warning("%s: after-store step failed (items are stored; they may be fetched again): %s",
                    channel.name, redact(str(exc), channel))


@dataclass(slots=True)
class SendResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    reconciled: int = 0


def send_due(channels: dict[str, Channel], factory: sessionmaker[Session], *, limit: int = 20,
             max_attempts: int = 6, locks: WorkerLocks | None = None) -> SendResult:
    """Reconcile replies a dead sender left in `sending`, then send what is due.

    On PostgreSQL every reply is held by an advisory lock of this process
    from before its claim commits until its outcome is recorded (`locks`; a
    one-off sender such as `replydesk send --once` gets its own)."""
    result = SendResult()
    own = locks is None and factory.kw["bind"].dialect.name == "postgresql"
    if own:
        locks = WorkerLocks(factory)
    hold = locks.hold_reply if locks is not None and locks.postgres else None
    try:
        with factory.begin() as session:
            ids = dict(session.execute(select(Account.id, Account.name).where(
                Account.name.in_(list(channels)))).all())
            stale = outbox.stale_sending(session, account_ids=list(ids), hold=hold)
        for reply_id in stale:
            try:
                _settle(reply_id, factory, lambda: _reconcile(reply_id, channels, factory, result))
            finally:
                if locks is not None:
                    locks.release_reply(reply_id)
        # One reply at a time: a sender killed mid-pass leaves at most one
        # reply to reconcile, and every other due reply stays free for the
        # other workers (claiming 20 at once left 19 waiting on a dead claim).
        for _ in range(limit):
            with factory.begin() as session:
                claimed = outbox.claim(session, limit=1, account_ids=list(ids), hold=hold)
            if not claimed:
                break
            try:
                _settle(claimed[0], factory,
                        lambda: _send_one(claimed[0], channels, ids, factory, result, max_attempts))
            finally:
                if locks is not None:
                    locks.release_reply(claimed[0])
    finally:
        if own:
            locks.release_all()
    return result


def _settle(reply_id: int, factory, work) -> None:
    """Run `work` on a reply this process claimed. If it fails unexpectedly
    (the database went away while recording), let go of the claim so a later
    pass reconciles the reply with the channel; otherwise it would stay
    `sending` under this live process's name until a restart."""
    try:
        work()
    except Exception:
        log.exception("reply %d: could not finish; it will be checked with the channel again", reply_id)
        try:
            with factory.begin() as session:
                outbox.let_go(session, reply_id)
        except Exception:
            pass  # the database is away: a restart reconciles it
        raise


def _record_sent(factory, reply_id: int, ref: SentRef, *, reconciled: bool = False) -> None:
    """mark_sent, tried again when ingest stored the same post at that moment:
    a poll that fetched our own reply back can commit between mark_sent's
    delete of such copies and its update, and the next attempt deletes it."""
    for attempt in range(1, STORE_ATTEMPTS + 1):
        try:
            with factory.begin() as session:
                outbox.mark_sent(session, reply_id, ref, reconciled=reconciled)
            return
        except IntegrityError:
            if attempt == STORE_ATTEMPTS:
                raise
            time.sleep(0.05 * attempt)


def _request(factory, reply_id):
    with factory() as session:
        reply = session.get(OutboundReply, reply_id)
        return reply, outbox.build_request(session, reply), reply.account.name


def _reconcile(reply_id: int, channels, factory, result: SendResult) -> bool:
    """True when the reply is settled (found and marked sent); False when it
    was queued again or its fate is still unknown."""
    reply, req, name = _request(factory, reply_id)
    channel = channels.get(name)
    if channel is None:
        return False
    try:
        ref = channel.find_sent(req)
    except Exception as exc:  # cannot tell whether it was posted: do not resend yet
        err = _as_channel_error(exc, channel)
        log.warning("reply %d: could not check whether it was posted: %s", reply_id, err)
        with factory.begin() as session:
            outbox.unsettled(session, reply_id, err)
        return False
    if ref is not None:
        _record_sent(factory, reply_id, ref, reconciled=True)
        result.reconciled += 1
        log.info("reply %d: found already posted as %s; not sending again", reply_id, ref.external_id)
        return True
    with factory.begin() as session:
        outbox.requeue(session, reply_id)
    return False


def _send_one(reply_id: int, channels, account_ids, factory, result: SendResult, max_attempts: int) -> None:
    reply, req, name = _request(factory, reply_id)
    channel = channels[name]
    # A previous attempt that timed out may still have been posted: look first.
    if reply.error_kind == "transient":
        try:
            ref = channel.find_sent(req)
        except Exception as exc:
            err = _as_channel_error(exc, channel)
            with factory.begin() as session:
                # Not mark_failed: a rate-limited lookup must not turn the row
                # into one that is sent next time without looking.
                state = outbox.lookup_failed(session, reply_id, err, max_attempts=max_attempts)
            if state == "failed":
                result.failed += 1
            else:
                result.retried += 1
            log.warning("reply %d on %s: could not check whether it was posted: %s (%s)", reply_id, name, err, state)
            return
        if ref is not None:
            _record_sent(factory, reply_id, ref, reconciled=True)
            result.reconciled += 1
            return
    planned = channel.plan_external_id(req)
    if planned and planned != req.external_id:
        with factory.begin() as session:
            outbox.set_planned_id(session, reply_id, planned)
        req.external_id = planned
    try:
        ref: SentRef = channel.send(req)
    except Exception as exc:
        err = _as_channel_error(exc, channel)
        if not isinstance(exc, ChannelError):
            # An unexpected error after the request may have left: treat the
            # outcome as unknown, so the next attempt looks before resending.
            log.error("reply %d: unexpected error while sending: %s", reply_id, err)
        with factory.begin() as session:
            state = outbox.mark_failed(session, reply_id, err, max_attempts=max_attempts)
            if err.kind == "auth_failed":
                accounts.record_failure(session, reply.account_id, err)
        if state == "failed":
            result.failed += 1
        else:
            result.retried += 1
        log.warning("reply %d on %s: %s (%s)", reply_id, name, err, state)
        return
    _record_sent(factory, reply_id, ref)
    result.sent += 1
    log.info("reply %d on %s sent as %s", reply_id, name, ref.external_id)
    try:
        warnings = channel.after_sent(req, ref)
    except Exception as exc:
        warnings = [f"after sending: {_as_channel_error(exc, channel)}"]
    for w in warnings:
        log.warning("reply %d on %s: %s", reply_id, name, redact(w, channel))
        with factory.begin() as session:
            accounts.add_note(session, reply.account_id, redact(f"reply {reply_id}: {w}", channel))


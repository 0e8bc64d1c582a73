"""The outbox: queued -> sending -> sent | failed, with a reply posted exactly once.

1. `queue_reply` (workflow) writes the row and its idempotency key.
2. `claim` moves due rows to `sending` and commits *before* any network
   call. On PostgreSQL rows are claimed with FOR UPDATE SKIP LOCKED, so any
   number of workers drain the outbox without two taking the same row; on
   SQLite the write lock taken at BEGIN does the same for one machine.
3. The sender posts, then `mark_sent` or `mark_failed` records the result.
4. A row still `sending` whose claimer is gone (crash between the network
   call and step 3) is never simply resent: `stale_sending` hands it to the
   sender, which asks the channel whether it was posted (`find_sent`)
   and only then marks it sent or queues it again. When the channel cannot
   say, the row stays `sending` and is looked at again later (`unsettled`).

Whether a claimer is gone: with PostgreSQL the sender passes `hold`, which
takes an advisory lock on the reply for as long as its process lives
(collectors/locks.py); it is taken before the claim commits, so a `sending`
row whose lock can be taken has no living claimer, on any host. Without
`hold` (SQLite: one machine) the claimer's process id is checked.
"""
from __future__ import annotations

import os
import random
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from inbox.channel import ChannelError, ReplyRequest, SentRef
from inbox.ingest import refresh_conversations
from inbox.models import (
    FAILED, QUEUED, SENDING, SENT, Account, Conversation, Message, OutboundReply, User, utcnow,
)
from inbox.workflow import audit

# A claim older than this is presumed dead even if we cannot check its
# process (another host). Channel calls time out well within it.
STALE_AFTER = timedelta(seconds=120)
RECHECK_AFTER = 15.0  # seconds before asking the channel again when it could not say
BACKOFF_BASE = 5.0  # seconds; doubled per attempt
BACKOFF_MAX = 600.0


def worker_id() -> str:
    """host:pid:start — enough to tell whether a claim's process still lives."""
    return f"{socket.gethostname()}:{os.getpid()}:{int(_START.timestamp())}"


_START = utcnow()


def _claimer_alive(claimed_by: str | None, claimed_at: datetime | None, now: datetime) -> bool:
    if not claimed_by or claimed_at is None:  # nobody: let go by `unsettled`
        return False
    host, _, rest = claimed_by.partition(":")
    pid = rest.split(":")[0]
    if host == socket.gethostname() and pid.isdigit():
        if claimed_by == worker_id():
            return True
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        # The pid exists, but it may have been reused: fall back to age.
    return now - claimed_at < STALE_AFTER


def claim(session: Session, *, limit: int = 20, account_ids: list[int] | None = None,
          now: datetime | None = None, hold: Callable[[int], bool] | None = None) -> list[int]:
    """Move up to `limit` due replies to `sending` for this worker. The
    caller commits before making any network call. `hold(id)` is asked for
    each row before it is claimed; a row it refuses is left alone."""
    now = now or utcnow()
    # A few spare rows: one that `hold` refuses must not leave the others waiting.
    q = (select(OutboundReply.id).where(OutboundReply.state == QUEUED, OutboundReply.not_before <= now)
         .order_by(OutboundReply.not_before, OutboundReply.id).limit(limit + (5 if hold is not None else 0)))
    if account_ids is not None:
        q = q.where(OutboundReply.account_id.in_(account_ids))
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    ids: list[int] = []
    for reply_id in session.scalars(q):
        if len(ids) >= limit:
            break
        if hold is None or hold(reply_id):
            ids.append(reply_id)
    if ids:
        session.execute(update(OutboundReply).where(OutboundReply.id.in_(ids), OutboundReply.state == QUEUED).values(
            state=SENDING, claimed_by=worker_id(), claimed_at=now, attempts=OutboundReply.attempts + 1,
            updated_at=now))
    return ids


def stale_sending(session: Session, *, now: datetime | None = None, limit: int = 20,
                  account_ids: list[int] | None = None, hold: Callable[[int], bool] | None = None) -> list[int]:
    """Replies left in `sending` by a worker that is gone; claimed for
    reconciliation by this worker (the caller commits first). With `hold`,
    gone means its lock could be taken; without, its process is not alive."""
    now = now or utcnow()
    q = (select(OutboundReply).where(OutboundReply.state == SENDING, OutboundReply.not_before <= now)
         .order_by(OutboundReply.id).limit(200))
    if account_ids is not None:
        q = q.where(OutboundReply.account_id.in_(account_ids))
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    ids: list[int] = []
    for r in session.scalars(q):
        if len(ids) >= limit:
            break
        if r.claimed_by == worker_id():
            continue  # this process's own claim: its sender records the outcome
        if (hold(r.id) if hold is not None else not _claimer_alive(r.claimed_by, r.claimed_at, now)):
            ids.append(r.id)
    if ids:
        session.execute(update(OutboundReply).where(OutboundReply.id.in_(ids)).values(
            claimed_by=worker_id(), claimed_at=now, updated_at=now))
    return ids


def build_request(session: Session, reply: OutboundReply) -> ReplyRequest:
    parent = reply.parent
    conv = session.get(Conversation, reply.conversation_id)
    account = session.get(Account, reply.account_id)
    user = session.get(User, reply.user_id) if reply.user_id else None
    refs = tuple(parent.references or ()) if parent else ()
    if parent is not None and parent.external_id and parent.external_id not in refs:
        refs = (*refs, parent.external_id)
    return ReplyRequest(
        reply_id=reply.id, idempotency_key=reply.idempotency_key, account=account.name, text=reply.text,
        subject=reply.subject, external_id=reply.planned_external_id,
        parent_external_id=parent.external_id if parent else None,
        parent_author_id=parent.author_id if parent else None,
        parent_author_handle=parent.author_handle if parent else None,
        parent_subject=parent.subject if parent else None,
        parent_text=parent.text if parent else None,
        parent_created_at=parent.created_at if parent else None,
        parent_extra=dict(parent.extra or {}) if parent else {},
        references=refs, thread_key=conv.thread_key if conv else None,
        agent_name=(user.name or user.email) if user else None,
    )


def set_planned_id(session: Session, reply_id: int, external_id: str) -> None:
    session.execute(update(OutboundReply).where(OutboundReply.id == reply_id).values(planned_external_id=external_id))


def mark_sent(session: Session, reply_id: int, ref: SentRef, *, reconciled: bool = False) -> None:
    reply = session.get(OutboundReply, reply_id)
    if reply.state == SENT:
        return
    now = utcnow()
    sent_at = ref.created_at or now
    # The channel may already have handed our reply back to ingest (a search
    # that matches our own tweet): that copy is the same message, drop it.
    session.execute(delete(Message).where(
        Message.account_id == reply.account_id, Message.external_id == ref.external_id,
        Message.id != reply.message_id))
    reply.state, reply.external_id, reply.permalink, reply.sent_at = SENT, ref.external_id, ref.permalink, sent_at
    reply.last_error, reply.error_kind, reply.updated_at = None, None, now
    msg = session.get(Message, reply.message_id)
    msg.external_id, msg.permalink, msg.created_at = ref.external_id, ref.permalink, sent_at
    if ref.extra:
        msg.extra = {**(msg.extra or {}), **ref.extra}
    session.flush()
    refresh_conversations(session, [reply.conversation_id])
    audit(session, "reply_sent", conversation_id=reply.conversation_id, reply_id=reply.id,
          external_id=ref.external_id, reconciled=reconciled or None)


def backoff(attempts: int) -> float:
    """Seconds before the next attempt: exponential, bounded, jittered so
    many failed replies do not all return at once."""
    return min(BACKOFF_MAX, BACKOFF_BASE * 2 ** max(0, attempts - 1)) * random.uniform(0.8, 1.2)


def mark_failed(session: Session, reply_id: int, err: ChannelError, *, max_attempts: int = 6) -> str:
    """Record a failed attempt; returns the new state (queued to retry, or failed)."""
    reply = session.get(OutboundReply, reply_id)
    now = utcnow()
    reply.last_error, reply.error_kind, reply.updated_at = str(err)[:2000], err.kind, now
    if err.kind == "rate_limited":
        # Waiting out a rate limit is not a failed attempt.
        reply.attempts = max(0, reply.attempts - 1)
        reset = getattr(err, "reset_at", None)
        reply.state, reply.not_before = QUEUED, max(reset or now, now) + timedelta(seconds=1)
    elif err.kind == "transient" and reply.attempts < max_attempts:
        reply.state, reply.not_before = QUEUED, now + timedelta(seconds=backoff(reply.attempts))
    else:
        reply.state = FAILED
    audit(session, "reply_failed" if reply.state == FAILED else "reply_retry_scheduled",
          conversation_id=reply.conversation_id, reply_id=reply.id, error=reply.last_error, kind=err.kind)
    return reply.state


def unsettled(session: Session, reply_id: int, err: ChannelError, *, now: datetime | None = None) -> None:
    """Reconciliation could not tell whether the reply was posted. It stays
    `sending` (never resent blindly), the claim is let go so any sender can
    look again, and that happens after a pause (or the rate-limit reset)."""
    now = now or utcnow()
    reset = getattr(err, "reset_at", None)
    wait = timedelta(seconds=RECHECK_AFTER * random.uniform(0.8, 1.2))
    session.execute(update(OutboundReply).where(OutboundReply.id == reply_id, OutboundReply.state == SENDING).values(
        claimed_by=None, not_before=max(reset or now, now + wait), updated_at=now,
        last_error=f"Could not check whether it was already posted ({err}); will look again"[:2000]))


def lookup_failed(session: Session, reply_id: int, err: ChannelError, *, max_attempts: int = 6) -> str:
    """The look before a retry failed. The earlier attempt's outcome is still
    unknown, so the row keeps error kind `transient` (look first next time)
    whatever the lookup's own error was; returns the new state."""
    reply = session.get(OutboundReply, reply_id)
    now = utcnow()
    reset = getattr(err, "reset_at", None) if err.kind == "rate_limited" else None
    if err.kind == "rate_limited":
        reply.attempts = max(0, reply.attempts - 1)  # waiting out a limit is not an attempt
    reply.last_error = f"Could not check whether the last attempt was posted: {err}"[:2000]
    reply.error_kind, reply.updated_at = "transient", now
    if err.kind in ("rate_limited", "transient") and reply.attempts < max_attempts:
        reply.state = QUEUED
        reply.not_before = max(reset or now, now) + timedelta(seconds=1 if reset else backoff(reply.attempts))
    else:
        reply.state = FAILED
    audit(session, "reply_failed" if reply.state == FAILED else "reply_retry_scheduled",
          conversation_id=reply.conversation_id, reply_id=reply.id, error=reply.last_error, kind=err.kind)
    return reply.state


def let_go(session: Session, reply_id: int) -> None:
    """This process could not finish a reply it claimed: drop the claim, so
    `stale_sending` hands it to a sender that asks the channel first."""
    session.execute(update(OutboundReply).where(
        OutboundReply.id == reply_id, OutboundReply.state == SENDING, OutboundReply.claimed_by == worker_id()
    ).values(claimed_by=None, updated_at=utcnow()))


def requeue(session: Session, reply_id: int) -> None:
    """Reconciliation found nothing on the channel: send again."""
    session.execute(update(OutboundReply).where(OutboundReply.id == reply_id, OutboundReply.state == SENDING).values(
        state=QUEUED, not_before=utcnow(), updated_at=utcnow()))


@dataclass(slots=True)
class OutboxCounts:
    queued: int
    sending: int
    failed: int


def counts(session: Session) -> OutboxCounts:
    from sqlalchemy import func

    rows = dict(session.execute(select(OutboundReply.state, func.count()).where(
        OutboundReply.state.in_((QUEUED, SENDING, FAILED))).group_by(OutboundReply.state)).all())
    return OutboxCounts(rows.get(QUEUED, 0), rows.get(SENDING, 0), rows.get(FAILED, 0))

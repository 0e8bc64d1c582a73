"""What staff do to conversations. The web UI and the CLI call these same
functions; each records an audit event and a change (for live updates).

Functions take the acting `User` (None for the system) and work inside the
caller's transaction.
"""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from inbox import reply_rules, reports
from inbox.derive import preview_of
from inbox.ingest import refresh_conversations
from inbox.models import (
    CANCELLED, CLOSED, FAILED, INBOUND, NOTE, OPEN, OUTBOUND, PENDING, QUEUED, SNOOZED, STATUSES, Account, AuditEvent,
    CannedReply, Change, Conversation, ConversationTag, Message, OutboundReply, Tag, User, utcnow,
)
from inbox.subjects import reply_subject

COLLISION_WINDOW = timedelta(minutes=1)
LABELS = ("negative", "neutral", "positive")


class WorkflowError(Exception):
    """A request staff made that cannot be done; the message says why."""


class Collision(WorkflowError):
    """Another agent just replied to the same customer message."""


def audit(session: Session, action: str, *, user: User | None = None, conversation_id: int | None = None,
          **detail) -> None:
    session.add(AuditEvent(action=action, user_id=user.id if user else None,
                           conversation_id=conversation_id, detail=detail or None))
    if conversation_id is not None:
        touch(session, conversation_id)


def touch(session: Session, conversation_id: int) -> None:
    session.execute(insert(Change).values(conversation_id=conversation_id, at=utcnow()))
    session.execute(update(Conversation).where(Conversation.id == conversation_id).values(updated_at=utcnow()))


def prune_changes(session: Session, *, keep: timedelta = timedelta(days=1)) -> int:
    """Forget change-feed rows older than `keep`: pages poll every second,
    so only a page left open and offline for a day could miss one, and it
    reloads on the next change anyway."""
    return session.execute(delete(Change).where(Change.at < utcnow() - keep)).rowcount or 0


def get_conversation(session: Session, conversation_id: int) -> Conversation:
    conv = session.get(Conversation, conversation_id)
    if conv is None:
        raise WorkflowError(f"Conversation {conversation_id} does not exist.")
    return conv


# --- assignment and status -------------------------------------------------

def assign(session: Session, conv: Conversation, assignee: User | None, *, by: User | None) -> None:
    if (conv.assignee_id or None) == (assignee.id if assignee else None):
        return
    conv.assignee_id = assignee.id if assignee else None
    audit(session, "assign" if assignee else "unassign", user=by, conversation_id=conv.id,
          assignee=assignee.email if assignee else None)
    reports.mark(session, [conv.id])


def set_status(session: Session, conv: Conversation, status: str, *, by: User | None,
               snooze_until: datetime | None = None, spam: bool | None = None) -> None:
    if status not in STATUSES:
        raise WorkflowError(f"Unknown status {status!r}; expected one of {', '.join(STATUSES)}.")
    if status == SNOOZED:
        if snooze_until is None or snooze_until <= utcnow():
            raise WorkflowError("Snoozing needs a time in the future.")
        conv.snoozed_until = snooze_until
    else:
        conv.snoozed_until = None
    conv.closed_at = utcnow() if status == CLOSED else None
    if spam is not None and spam != conv.spam:
        conv.spam = spam
        session.flush()
        refresh_conversations(session, [conv.id])  # spam never awaits a reply
    conv.status = status
    audit(session, "status", user=by, conversation_id=conv.id, status=status,
          snooze_until=snooze_until.isoformat() if snooze_until else None, spam=spam)
    reports.mark(session, [conv.id])


def wake_snoozed(session: Session, now: datetime | None = None) -> int:
    """Snoozed conversations whose time has come are open again."""
    now = now or utcnow()
    ids = session.scalars(select(Conversation.id).where(
        Conversation.status == SNOOZED, Conversation.snoozed_until <= now)).all()
    if ids:
        session.execute(update(Conversation).where(Conversation.id.in_(ids)).values(
            status=OPEN, snoozed_until=None, updated_at=now))
        for cid in ids:
            audit(session, "snooze_ended", conversation_id=cid)
    return len(ids)


# --- tags and notes ---------------------------------------------------------

_TAG = re.compile(r"^[\w][\w .:/-]{0,59}$")


def add_tag(session: Session, conv: Conversation, name: str, *, by: User | None) -> Tag:
    name = name.strip().lower()
    if not _TAG.match(name):
        raise WorkflowError("A tag is 1–60 letters, digits, spaces or . : / - _")
    tag = session.scalar(select(Tag).where(Tag.name == name))
    if tag is None:
        tag = Tag(name=name)
        session.add(tag)
        session.flush()
    exists = session.get(ConversationTag, (conv.id, tag.id))
    if exists is None:
        session.add(ConversationTag(conversation_id=conv.id, tag_id=tag.id))
        audit(session, "tag_added", user=by, conversation_id=conv.id, tag=name)
    return tag


def remove_tag(session: Session, conv: Conversation, name: str, *, by: User | None) -> None:
    tag = session.scalar(select(Tag).where(Tag.name == name.strip().lower()))
    if tag is None:
        return
    n = session.execute(delete(ConversationTag).where(
        ConversationTag.conversation_id == conv.id, ConversationTag.tag_id == tag.id)).rowcount
    if n:
        audit(session, "tag_removed", user=by, conversation_id=conv.id, tag=tag.name)


def add_note(session: Session, conv: Conversation, text: str, *, by: User) -> Message:
    """An internal note: a message kind that never leaves the building."""
    if not text.strip():
        raise WorkflowError("The note is empty.")
    note = Message(conversation_id=conv.id, account_id=conv.account_id, direction=NOTE, user_id=by.id,
                   author_name=by.name or by.email, text=text.strip(), created_at=utcnow())
    session.add(note)
    session.flush()
    audit(session, "note", user=by, conversation_id=conv.id, message_id=note.id)
    return note


def correct_sentiment(session: Session, message: Message, label: str, *, by: User) -> None:
    if label not in LABELS:
        raise WorkflowError(f"Label must be one of {', '.join(LABELS)}.")
    if message.direction != INBOUND:
        raise WorkflowError("Only customer messages have a sentiment to correct.")
    message.corrected_label, message.corrected_by_id, message.corrected_at = label, by.id, utcnow()
    audit(session, "sentiment_corrected", user=by, conversation_id=message.conversation_id,
          message_id=message.id, was=message.sentiment_label, now=label)
    # The inbox list shows the last customer message's label: the corrected one from now on.
    refresh_conversations(session, [message.conversation_id])


# --- merge -----------------------------------------------------------------

def merge(session: Session, source: Conversation, target: Conversation, *, by: User | None) -> None:
    """Move every message of `source` into `target`; `source` stays as a
    closed pointer so later messages of its thread land in `target`."""
    if source.id == target.id:
        raise WorkflowError("A conversation cannot be merged into itself.")
    if source.account_id != target.account_id:
        raise WorkflowError("Only conversations of the same account can be merged: a reply must go back "
                            "through the channel the customer wrote on.")
    if target.merged_into_id is not None:
        raise WorkflowError(f"Conversation {target.id} was itself merged into {target.merged_into_id}.")
    session.execute(update(Message).where(Message.conversation_id == source.id).values(conversation_id=target.id))
    session.execute(update(OutboundReply).where(OutboundReply.conversation_id == source.id)
                    .values(conversation_id=target.id))
    for tag_id in session.scalars(select(ConversationTag.tag_id).where(ConversationTag.conversation_id == source.id)):
        if session.get(ConversationTag, (target.id, tag_id)) is None:
            session.add(ConversationTag(conversation_id=target.id, tag_id=tag_id))
    session.execute(update(Conversation).where(Conversation.merged_into_id == source.id)
                    .values(merged_into_id=target.id))
    source.merged_into_id = target.id
    source.status, source.closed_at = CLOSED, utcnow()
    if target.contact_id is None:
        target.contact_id = source.contact_id
    session.flush()
    refresh_conversations(session, [source.id, target.id])
    audit(session, "merged_away", user=by, conversation_id=source.id, into=target.id)
    audit(session, "merged", user=by, conversation_id=target.id, source=source.id)


# --- replies ---------------------------------------------------------------

def last_customer_message(session: Session, conv: Conversation) -> Message | None:
    return session.scalar(select(Message).where(
        Message.conversation_id == conv.id, Message.direction == INBOUND, Message.auto.is_(None))
        .order_by(Message.created_at.desc(), Message.id.desc()).limit(1))


def queue_reply(session: Session, conv: Conversation, text: str, *, by: User, undo_seconds: float = 0,
                parent: Message | None = None, subject: str | None = None, idempotency_key: str | None = None,
                confirm_collision: bool = False) -> OutboundReply:
    """Put a reply in the outbox. It is sent after `undo_seconds`.

    The same `idempotency_key` (the composer sends one per draft) gives back
    the reply already queued, so a double click never queues twice.
    """
    if idempotency_key:
        existing = session.scalar(select(OutboundReply).where(OutboundReply.idempotency_key == idempotency_key))
        if existing is not None:
            return existing
    account = session.get(Account, conv.account_id)
    text = text.replace("\r\n", "\n").strip()
    errors = reply_rules.problems(account.kind, text)
    if errors:
        raise WorkflowError(" ".join(errors))
    if not account.enabled:
        raise WorkflowError(f"Account {account.name} is disabled in the config; replies cannot be sent from it.")
    if conv.merged_into_id is not None:
        raise WorkflowError(f"This conversation was merged into {conv.merged_into_id}; reply there.")
    parent = parent or last_customer_message(session, conv)
    if parent is None:
        raise WorkflowError("There is no customer message to reply to in this conversation.")
    if not confirm_collision:
        _check_collision(session, parent, by)
    now = utcnow()
    if subject is None and account.kind in ("email", "maildir"):
        subject = reply_subject(parent.subject or conv.subject)
    msg = Message(conversation_id=conv.id, account_id=conv.account_id, direction=OUTBOUND, user_id=by.id,
                  author_name=by.name or by.email, subject=subject, text=text, created_at=now,
                  parent_external_id=parent.external_id)
    session.add(msg)
    session.flush()
    reply = OutboundReply(
        idempotency_key=idempotency_key or uuid.uuid4().hex, conversation_id=conv.id,
        account_id=conv.account_id, message_id=msg.id, parent_message_id=parent.id, user_id=by.id,
        state=QUEUED, text=text, subject=subject, not_before=now + timedelta(seconds=undo_seconds),
        created_at=now, updated_at=now)
    session.add(reply)
    session.flush()
    audit(session, "reply_queued", user=by, conversation_id=conv.id, reply_id=reply.id)
    return reply


def _check_collision(session: Session, parent: Message, by: User) -> None:
    other = session.execute(
        select(OutboundReply, User).join(User, User.id == OutboundReply.user_id).where(
            OutboundReply.parent_message_id == parent.id, OutboundReply.user_id != by.id,
            OutboundReply.state != CANCELLED, OutboundReply.created_at >= utcnow() - COLLISION_WINDOW)
        .order_by(OutboundReply.created_at.desc()).limit(1)).first()
    if other is not None:
        reply, user = other
        seconds = int((utcnow() - reply.created_at).total_seconds())
        raise Collision(f"{user.name or user.email} replied to this message {seconds} s ago "
                        f"(\"{preview_of(reply.text, 80)}\"). Send anyway only if the customer needs both replies.")


def undo_reply(session: Session, reply: OutboundReply, *, by: User) -> str:
    """Take back a reply still waiting in its undo window; returns its text
    for the composer. Once the sender has claimed it, it is too late."""
    if reply.state != QUEUED or reply.attempts > 0:
        raise WorkflowError("Too late to undo: the reply is already being sent.")
    text, conv_id = reply.text, reply.conversation_id
    session.execute(delete(Message).where(Message.id == reply.message_id))
    session.execute(delete(OutboundReply).where(OutboundReply.id == reply.id))
    audit(session, "reply_undone", user=by, conversation_id=conv_id)
    return text


def retry_reply(session: Session, reply: OutboundReply, *, by: User) -> None:
    if reply.state != FAILED:
        raise WorkflowError(f"Only failed replies can be retried (this one is {reply.state}).")
    reply.state, reply.not_before, reply.error_kind, reply.updated_at = QUEUED, utcnow(), None, utcnow()
    audit(session, "reply_retry", user=by, conversation_id=reply.conversation_id, reply_id=reply.id)


# --- canned replies ----------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def save_canned(session: Session, title: str, body: str, *, by: User, kind: str | None = None,
                canned: CannedReply | None = None) -> CannedReply:
    title, body = title.strip(), body.strip()
    if not title or not body:
        raise WorkflowError("A canned reply needs a title and a text.")
    unknown = set(_PLACEHOLDER.findall(body)) - set(PLACEHOLDERS)
    if unknown:
        raise WorkflowError(f"Unknown placeholder(s): {', '.join('{' + u + '}' for u in sorted(unknown))}. "
                            f"Known: {', '.join('{' + p + '}' for p in PLACEHOLDERS)}.")
    if canned is None:
        canned = CannedReply(created_by_id=by.id)
        session.add(canned)
    canned.title, canned.body, canned.kind, canned.updated_at = title, body, kind or None, utcnow()
    session.flush()
    audit(session, "canned_saved", user=by, canned_id=canned.id, title=title)
    return canned


PLACEHOLDERS = {
    "first_name": "the customer's first name",
    "name": "the customer's full name",
    "handle": "the customer's handle (@name, u/name or address)",
    "agent_name": "your name",
    "agent_first_name": "your first name",
    "subject": "the conversation's subject",
}


def render_canned(body: str, *, customer_name: str = "", handle: str = "", agent: User | None = None,
                  subject: str = "") -> str:
    first = (customer_name or handle.lstrip("@").removeprefix("u/")).split()[:1]
    values = {
        "first_name": first[0] if first else "there",
        "name": customer_name or handle or "there",
        "handle": handle,
        "agent_name": (agent.name or agent.email) if agent else "",
        "agent_first_name": agent.first_name if agent else "",
        "subject": subject,
    }
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), body)


def count_open_for(session: Session, user: User) -> int:
    return session.scalar(select(func.count()).select_from(Conversation).where(
        Conversation.assignee_id == user.id, Conversation.status.in_((OPEN, PENDING)))) or 0

"""What the conversation page shows, read in a handful of indexed queries:
the thread in order (with each reply's delivery state), the history of
changes, the contact's other conversations, and the canned replies that fit.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload

from inbox.models import (
    INBOUND, Account, AuditEvent, CannedReply, Contact, ContactIdentity, Conversation, Message, OutboundReply,
    User,
)
from inbox.workflow import WorkflowError, audit, get_conversation

HISTORY_LIMIT = 200
OTHERS_LIMIT = 20


@dataclass(slots=True)
class View:
    conversation: Conversation
    account: Account
    contact: Contact | None
    handles: list[ContactIdentity]
    messages: list[Message]  # in order, notes included; .reply has the delivery state
    history: list[AuditEvent]
    others: list[Conversation]  # this person's other conversations, any channel
    last_customer: Message | None

    @property
    def customer_name(self) -> str:
        return self.contact.name if self.contact else ""

    @property
    def handle(self) -> str:
        if self.last_customer is not None:
            return self.last_customer.author_handle or ""
        return self.handles[0].handle if self.handles else ""


def load(session: Session, conversation_id: int) -> View:
    # Many-to-one links are joined, lists are one IN query each: a fixed
    # number of queries whatever the length of the thread.
    conv = session.scalar(select(Conversation).where(Conversation.id == conversation_id)
                          .options(selectinload(Conversation.tags), joinedload(Conversation.assignee),
                                   joinedload(Conversation.account), joinedload(Conversation.contact)))
    if conv is None:
        raise WorkflowError(f"Conversation {conversation_id} does not exist.")
    account = conv.account
    messages = list(session.scalars(
        select(Message).where(Message.conversation_id == conv.id).order_by(Message.created_at, Message.id)
        .options(selectinload(Message.reply), selectinload(Message.attachments), joinedload(Message.user))))
    history = list(reversed(session.scalars(
        select(AuditEvent).where(AuditEvent.conversation_id == conv.id)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(HISTORY_LIMIT)
        .options(joinedload(AuditEvent.user))).all()))
    contact = conv.contact
    handles, others = [], []
    if contact is not None:
        handles = list(session.scalars(select(ContactIdentity).where(ContactIdentity.contact_id == contact.id)))
        others = list(session.scalars(
            select(Conversation).where(Conversation.contact_id == contact.id, Conversation.id != conv.id,
                                       Conversation.merged_into_id.is_(None))
            .order_by(Conversation.last_message_at.desc()).limit(OTHERS_LIMIT)
            .options(joinedload(Conversation.account))))
    last_customer = next((m for m in reversed(messages) if m.direction == INBOUND and m.auto is None), None)
    return View(conv, account, contact, handles, messages, history, others, last_customer)


def reply_of(session: Session, reply_id: int, conversation_id: int) -> OutboundReply:
    reply = session.get(OutboundReply, reply_id)
    if reply is None or reply.conversation_id != conversation_id:
        raise WorkflowError("That reply does not exist in this conversation.")
    return reply


def message_of(session: Session, message_id: int, conversation_id: int) -> Message:
    msg = session.get(Message, message_id)
    if msg is None or msg.conversation_id != conversation_id:
        raise WorkflowError("That message does not exist in this conversation.")
    return msg


def merge_target(session: Session, source: Conversation, target_id: int) -> Conversation:
    target = get_conversation(session, target_id)
    if target.merged_into_id is not None:
        target = get_conversation(session, target.merged_into_id)
    return target


def active_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).where(User.active.is_(True)).order_by(User.name, User.email)))


def canned_for(session: Session, kind: str | None) -> list[CannedReply]:
    """Canned replies usable on this channel kind (or on every kind)."""
    q = select(CannedReply).order_by(CannedReply.title)
    if kind is not None:
        q = q.where(or_(CannedReply.kind.is_(None), CannedReply.kind == kind))
    return list(session.scalars(q))


def delete_canned(session: Session, canned_id: int, *, by: User) -> None:
    canned = session.get(CannedReply, canned_id)
    if canned is None:
        raise WorkflowError("That canned reply does not exist.")
    session.execute(delete(CannedReply).where(CannedReply.id == canned_id))
    audit(session, "canned_deleted", user=by, canned_id=canned_id, title=canned.title)


def waiting_for(conv: Conversation, now: datetime) -> float | None:
    """Seconds the customer has waited for an answer, or None."""
    if not conv.awaiting_reply or conv.awaiting_since is None:
        return None
    return max(0.0, (now - conv.awaiting_since).total_seconds())

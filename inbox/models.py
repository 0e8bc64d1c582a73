"""The inbox's tables (SQLAlchemy 2). Migrations live in inbox/migrations.

Times are timezone-aware UTC everywhere in Python (`UTCDateTime`), named
`*_at`. External ids are `external_id`. A channel's `kind` string is the
same here as in the config and in collectors/.
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON, BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text,
    TypeDecorator, UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Aware UTC in Python; naive UTC in SQLite, timestamptz in PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: use timezone-aware UTC")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict: JSON(), list: JSON()}


# Message.direction
INBOUND, OUTBOUND, NOTE = "in", "out", "note"
# Conversation.status
OPEN, PENDING, SNOOZED, CLOSED = "open", "pending", "snoozed", "closed"
STATUSES = (OPEN, PENDING, SNOOZED, CLOSED)
# OutboundReply.state
QUEUED, SENDING, SENT, FAILED, CANCELLED = "queued", "sending", "sent", "failed", "cancelled"
# User.role, in increasing power
ROLES = ("agent", "manager", "admin")
# Account.health
HEALTH_OK, HEALTH_AUTH, HEALTH_RATE, HEALTH_DOWN, HEALTH_NEW = "ok", "auth_failed", "rate_limited", "unreachable", "new"


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16), default="agent")
    password_hash: Mapped[str] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]

    def has_role(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)

    @property
    def first_name(self) -> str:
        return (self.name or self.email.split("@")[0]).split()[0]


class Account(Base):
    """A connected channel account. Its credentials stay in the config file;
    this row holds what we learned about it: its health."""

    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    enabled: Mapped[bool] = mapped_column(default=True)
    health: Mapped[str] = mapped_column(String(20), default=HEALTH_NEW)
    health_reason: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]
    auth_failures: Mapped[int] = mapped_column(default=0)
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    rate_limited_until: Mapped[datetime | None]
    last_poll_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    push_status: Mapped[str | None] = mapped_column(String(200))  # e.g. "IDLE on INBOX" / "polling: IDLE failed"
    sync_progress: Mapped[str | None] = mapped_column(String(100))  # "1200/10000" during a first sync
    note: Mapped[str | None] = mapped_column(Text)  # the channel's last remark, e.g. "UIDVALIDITY changed: resynced"
    note_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Cursor(Base):
    __tablename__ = "cursors"
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Contact(Base):
    """A person, across channels (identities link handles to the person)."""

    __tablename__ = "contacts"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300), default="")
    # "namespace:author_id" of the identity that created it: a natural key,
    # so a batch can insert many contacts and find their ids in one query.
    origin: Mapped[str | None] = mapped_column(String(340), unique=True)
    last_inbound_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    identities: Mapped[list[ContactIdentity]] = relationship(back_populates="contact")


class ContactIdentity(Base):
    __tablename__ = "contact_identities"
    __table_args__ = (UniqueConstraint("namespace", "author_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    namespace: Mapped[str] = mapped_column(String(20))  # "email" for email and maildir, else the kind
    author_id: Mapped[str] = mapped_column(String(320))
    handle: Mapped[str] = mapped_column(String(320), default="")
    name: Mapped[str] = mapped_column(String(300), default="")
    reach: Mapped[int | None] = mapped_column(BigInteger)
    contact: Mapped[Contact] = relationship(back_populates="identities")


class Conversation(Base):
    """A thread with one customer on one account.

    The time fields and `awaiting_reply` are kept right by ingest and the
    outbox (see DESIGN.md for the definitions) so lists and reports are
    plain indexed queries.
    """

    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("account_id", "thread_key"),
        Index("ix_conversations_status_last", "status", "last_message_at"),
        Index("ix_conversations_awaiting", "awaiting_reply", "awaiting_since"),
        Index("ix_conversations_assignee", "assignee_id", "status"),
        Index("ix_conversations_urgency", "urgency", "id"),
        Index("ix_conversations_subject", "account_id", "contact_id", "subject_key"),
        Index("ix_conversations_first_inbound", "first_inbound_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    thread_key: Mapped[str] = mapped_column(String(500))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"), index=True)
    subject: Mapped[str | None] = mapped_column(Text)
    subject_key: Mapped[str | None] = mapped_column(String(300))  # normalised subject, for last-resort threading
    status: Mapped[str] = mapped_column(String(10), default=OPEN)
    snoozed_until: Mapped[datetime | None]
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    priority: Mapped[int] = mapped_column(default=0)
    spam: Mapped[bool] = mapped_column(default=False)
    urgency: Mapped[int] = mapped_column(default=0)  # highest urgency among messages awaiting reply
    sentiment: Mapped[str | None] = mapped_column(String(10))  # label of the last customer message
    sentiment_confidence: Mapped[float | None]  # the scorer's confidence in it; None when a person corrected it
    preview: Mapped[str | None] = mapped_column(Text)  # first line of the last customer message
    awaiting_reply: Mapped[bool] = mapped_column(default=False)
    awaiting_since: Mapped[datetime | None]  # first customer message after our last reply
    first_inbound_at: Mapped[datetime | None]
    first_response_at: Mapped[datetime | None]
    last_inbound_at: Mapped[datetime | None]
    last_outbound_at: Mapped[datetime | None]
    last_message_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"))
    message_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    account: Mapped[Account] = relationship()
    contact: Mapped[Contact | None] = relationship()
    assignee: Mapped[User | None] = relationship()
    tags: Mapped[list[Tag]] = relationship(secondary="conversation_tags", order_by="Tag.name")


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("account_id", "external_id"),
        Index("ix_messages_conversation", "conversation_id", "created_at"),
        Index("ix_messages_created", "created_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    external_id: Mapped[str | None] = mapped_column(String(500))  # None for notes and unsent replies
    direction: Mapped[str] = mapped_column(String(4))  # in | out | note
    auto: Mapped[str | None] = mapped_column(String(12))  # auto_reply | bounce: never awaits a reply
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))  # agent, for out/note
    author_id: Mapped[str | None] = mapped_column(String(320))
    author_handle: Mapped[str | None] = mapped_column(String(320))
    author_name: Mapped[str | None] = mapped_column(String(300))
    author_reach: Mapped[int | None] = mapped_column(BigInteger)
    subject: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text, default="")
    new_text: Mapped[str | None] = mapped_column(Text)  # without quoted history / signature
    html: Mapped[str | None] = mapped_column(Text)  # sanitised
    lang: Mapped[str | None] = mapped_column(String(12))
    permalink: Mapped[str | None] = mapped_column(Text)
    parent_external_id: Mapped[str | None] = mapped_column(String(500))
    references: Mapped[list | None] = mapped_column("refs", JSON)
    created_at: Mapped[datetime]  # when the channel says it was written/sent
    stored_at: Mapped[datetime] = mapped_column(default=utcnow)
    sentiment_label: Mapped[str | None] = mapped_column(String(10))
    sentiment_score: Mapped[float | None]
    sentiment_confidence: Mapped[float | None]
    sentiment_words: Mapped[list | None] = mapped_column(JSON)
    urgency: Mapped[int | None]
    urgency_reasons: Mapped[list | None] = mapped_column(JSON)
    corrected_label: Mapped[str | None] = mapped_column(String(10))  # staff correction of sentiment_label
    corrected_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    corrected_at: Mapped[datetime | None]
    defects: Mapped[list | None] = mapped_column(JSON)  # what was wrong with it as received
    extra: Mapped[dict | None] = mapped_column(JSON)
    raw: Mapped[str | None] = mapped_column(Text)

    conversation: Mapped[Conversation] = relationship()
    user: Mapped[User | None] = relationship(foreign_keys=[user_id])
    attachments: Mapped[list[Attachment]] = relationship(order_by="Attachment.id")
    reply: Mapped[OutboundReply | None] = relationship(
        back_populates="message", foreign_keys="OutboundReply.message_id", uselist=False)


class Attachment(Base):
    __tablename__ = "attachments"
    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(500))
    content_type: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    truncated: Mapped[bool] = mapped_column(default=False)
    content_id: Mapped[str | None] = mapped_column(String(500))


class OutboundReply(Base):
    """The outbox. The row (with its idempotency key) is written before any
    network call; see inbox/outbox.py for the states."""

    __tablename__ = "outbound_replies"
    __table_args__ = (Index("ix_outbound_due", "state", "not_before"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), unique=True)
    parent_message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(String(10), default=QUEUED)
    text: Mapped[str] = mapped_column(Text)
    subject: Mapped[str | None] = mapped_column(Text)
    planned_external_id: Mapped[str | None] = mapped_column(String(500))  # e.g. our Message-ID
    attempts: Mapped[int] = mapped_column(default=0)
    not_before: Mapped[datetime] = mapped_column(default=utcnow)  # undo window, then backoff
    last_error: Mapped[str | None] = mapped_column(Text)
    error_kind: Mapped[str | None] = mapped_column(String(20))
    external_id: Mapped[str | None] = mapped_column(String(500))
    permalink: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    message: Mapped[Message] = relationship(back_populates="reply", foreign_keys=[message_id])
    parent: Mapped[Message | None] = relationship(foreign_keys=[parent_message_id])
    conversation: Mapped[Conversation] = relationship()
    account: Mapped[Account] = relationship()
    user: Mapped[User | None] = relationship()


class Tag(Base):
    __tablename__ = "tags"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)


class ConversationTag(Base):
    __tablename__ = "conversation_tags"
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True)


class CannedReply(Base):
    __tablename__ = "canned_replies"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200), unique=True)
    body: Mapped[str] = mapped_column(Text)
    kind: Mapped[str | None] = mapped_column(String(20))  # only for this channel kind; None = all
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEvent(Base):
    """Every state change staff (or the system) made, shown in the
    conversation's history and the admin log."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_conversation", "conversation_id", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict | None] = mapped_column(JSON)
    user: Mapped[User | None] = relationship()


class Change(Base):
    """One row per conversation touched by a transaction: the cheap change
    feed the web UI polls for live updates, on every web process."""

    __tablename__ = "changes"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    conversation_id: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(default=utcnow)


# --- web UI (issue 6): state every web process must share ---------------------
# Kept in the database, not in process memory, because several web processes
# (gunicorn) serve the same people.


class Presence(Base):
    """Who has a conversation open, and whether they are typing. A row is a
    heartbeat: the page refreshes it every few seconds, old rows mean gone."""

    __tablename__ = "presence"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"),
                                                 primary_key=True, index=True)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    typing_at: Mapped[datetime | None]  # last keystroke in the composer


class LoginAttempt(Base):
    """A failed sign-in, by email and by client address, for rate limiting
    that holds across web processes."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_key_at", "key", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(400))  # "email:<address>" or "ip:<address>"
    at: Mapped[datetime] = mapped_column(default=utcnow)


# --- manager reports (issue 7): rollups kept right by inbox.reports.track -------
# A 90-day report over a million messages has to read thousands of rows, not
# millions, so figures are pre-aggregated per day as messages arrive. The
# definitions live in inbox/reports/contributions.py; these tables only hold
# their results.


class ReportCount(Base):
    """One additive counter of one figure for one span of days.

    `metric` names the figure; `bucket` is its sub-key (a response-time
    bucket, an activity gap in days, a sentiment label, a backlog age
    bucket). Each contribution is stored in three cells: 0 its account and
    agent, 1 its account for all agents (agent_id -1), 2 its agent for all
    accounts (account_id 0), so an unfiltered report reads pre-summed rows,
    each side in one key range. Histograms are also kept per 4, 16 and 64
    aligned days (`span`), so a long period reads a dozen spans, not every
    day. agent_id 0 is "unassigned", -2 "sent outside Replydesk".
    """

    __tablename__ = "report_counts"
    # Clustered by the key on SQLite: a report reads ranges of it, counters included.
    __table_args__ = {"sqlite_with_rowid": False}
    metric: Mapped[str] = mapped_column(String(16), primary_key=True)
    cell: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    span: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # days
    day: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # first day (ordinal, report tz)
    account_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    agent_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    n: Mapped[int] = mapped_column(Integer, default=0)  # negative for backlog deltas
    total: Mapped[int] = mapped_column(BigInteger, default=0)  # sum of seconds, for histogram means


class ReportConversation(Base):
    """What one conversation last contributed to `report_counts` (so a change
    subtracts exactly that), and its first-response SLA for the breach list.

    No foreign key: when a conversation is deleted this row must outlive it,
    so the next rebuild can take its contribution back out.
    """

    __tablename__ = "report_conversations"
    __table_args__ = (
        # The newest breaches of a period: an ordered walk of the index, not a sort.
        Index("ix_report_conversations_sla", "sla_state", "first_inbound_at"),
        Index("ix_report_conversations_due", "sla_state", "sla_due_at"),
    )
    conversation_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    account_id: Mapped[int] = mapped_column(Integer)
    agent_id: Mapped[int] = mapped_column(Integer, default=0)  # who the SLA result is credited to
    first_day: Mapped[int | None] = mapped_column(Integer)
    sla_state: Mapped[str | None] = mapped_column(String(8))  # hit | missed | open (no response yet)
    first_inbound_at: Mapped[datetime | None]
    sla_due_at: Mapped[datetime | None]
    first_response_at: Mapped[datetime | None]
    counts: Mapped[list | None] = mapped_column(JSON)  # [[metric, agent_id, day, bucket, n, total], ...]


class ReportDirty(Base):
    """Conversations whose report contribution must be recomputed. Writers
    only add a row (cheap, in their own transaction); `catch_up` recomputes
    and removes them in batches, so ingest never pays for the rollups."""

    __tablename__ = "report_dirty"
    conversation_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)


class ReportSettings(Base):
    """The SLA targets, business hours and time zone the rollups were built
    with (one row), shared by every process that writes messages."""

    __tablename__ = "report_settings"
    id: Mapped[int] = mapped_column(primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    settings: Mapped[dict] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


# Indexes of the inbox list (inbox/inbox_list.py): each sort walks one in
# order, and the counts are read from an index alone.
Index("ix_conversations_last", Conversation.last_message_at)
Index("ix_conversations_status_urgency", Conversation.status, Conversation.urgency)
Index("ix_conversations_counts", Conversation.status, Conversation.account_id, Conversation.assignee_id,
      Conversation.awaiting_reply, Conversation.merged_into_id)
Index("ix_conversations_status_assignee_last", Conversation.status, Conversation.assignee_id,
      Conversation.last_message_at)

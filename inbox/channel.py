"""The contract between channels (collectors/) and the inbox.

A channel turns what its API returns into `InboundItem`s grouped in a
`Batch` together with the cursor values that batch advances to; the inbox
stores items and cursors in one transaction. To reply, the outbox hands the
channel a `ReplyRequest` and gets a `SentRef` back.

Failures cross this boundary only as the four `ChannelError` kinds below, so
the worker and the UI can act on them without knowing the channel's library.
This module lives in `inbox` (not `collectors`) because the inbox must speak
the contract without importing any channel.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Values of InboundItem.auto: machine-sent mail that must never count as a
# customer waiting for an answer.
AUTO_REPLY = "auto_reply"
BOUNCE = "bounce"


@dataclass(slots=True)
class Attachment:
    filename: str
    content_type: str
    size: int  # bytes of the original part, even when `content` was capped
    content: bytes | None = None  # None or truncated when over the size cap
    truncated: bool = False
    content_id: str | None = None  # for inline images (cid:)


@dataclass(slots=True)
class InboundItem:
    """One message as a channel saw it, normalised.

    `external_id` is unique per account (a tweet id, a Reddit fullname, an
    email Message-ID). Threading uses, in this order: any of `references`
    or `parent_external_id` already stored for the account, then
    `thread_key`, then (only when `thread_by_subject`) the subject within the
    same contact and a time window.
    """

    external_id: str
    created_at: datetime  # timezone-aware UTC
    text: str
    author_id: str  # stable id of the author on this channel (X user id, e-mail address, ...)
    author_handle: str = ""  # what people see: @name, u/name, an address
    author_name: str = ""
    author_reach: int | None = None  # followers / karma, for urgency
    thread_key: str | None = None  # X conversation_id, Reddit submission, ...
    parent_external_id: str | None = None
    references: tuple[str, ...] = ()
    thread_by_subject: bool = False
    subject: str | None = None
    new_text: str | None = None  # text without quoted history/signature
    html: str | None = None  # already sanitised by the channel
    permalink: str | None = None
    lang: str | None = None
    from_self: bool = False  # posted by the account itself (our outbound)
    auto: str | None = None  # AUTO_REPLY | BOUNCE | None
    defects: list[str] = field(default_factory=list)  # what was wrong with it
    attachments: list[Attachment] = field(default_factory=list)
    # Channel-specific data the channel needs again to reply (e.g. an email's
    # Reply-To, mailbox and UID); stored as JSON.
    extra: dict[str, Any] = field(default_factory=dict)
    raw: str | None = None  # the original payload (JSON text or the RFC 822 source)
    # Sentiment computed ahead (sentiment.Scored), e.g. by a parser process;
    # ingest uses it when it came from the scorer ingest would use.
    scored: Any = None

    @property
    def from_customer(self) -> bool:
        """Written by a customer: not our own, not a bounce or auto-reply.
        Only these wait for a reply, reopen a conversation and get sentiment."""
        return not self.from_self and self.auto is None

    def replace(self, **changes: Any) -> "InboundItem":
        return dataclasses.replace(self, **changes)


@dataclass(slots=True)
class Batch:
    """Items plus the cursor values they advance to, stored atomically.

    `cursors` maps a cursor key of the account (a mailbox, "mentions",
    "search:<query>") to its new value. `after_commit` runs once the batch is
    durably stored, e.g. to mark Reddit inbox items read.
    """

    items: list[InboundItem] = field(default_factory=list)
    cursors: dict[str, str] = field(default_factory=dict)
    after_commit: Callable[[], None] | None = None
    progress: tuple[int, int] | None = None  # (done, total) for long first syncs
    note: str | None = None  # e.g. "UIDVALIDITY changed: resynced INBOX"


@dataclass(slots=True)
class ReplyRequest:
    """What the outbox asks a channel to post."""

    reply_id: int
    idempotency_key: str
    account: str
    text: str
    html: str | None = None
    subject: str | None = None
    # Our own external id decided before sending when the channel allows it
    # (email: the Message-ID), so a crash can be reconciled by looking for it.
    external_id: str | None = None
    # The message being answered.
    parent_external_id: str | None = None
    parent_author_id: str | None = None
    parent_author_handle: str | None = None
    parent_subject: str | None = None
    parent_text: str | None = None
    parent_created_at: datetime | None = None
    parent_extra: dict[str, Any] = field(default_factory=dict)
    references: tuple[str, ...] = ()  # the thread's external ids, oldest first
    thread_key: str | None = None
    agent_name: str | None = None


@dataclass(slots=True)
class SentRef:
    external_id: str
    permalink: str | None = None
    created_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class ChannelError(Exception):
    """Base of the four failure kinds. `str(err)` is shown to staff: it must
    say what happened and what to do, and never contain a secret."""

    kind = "error"


class RateLimited(ChannelError):
    kind = "rate_limited"

    def __init__(self, message: str, reset_at: datetime | None = None):
        super().__init__(message)
        self.reset_at = reset_at


class AuthFailed(ChannelError):
    """Credentials refused: the account is unhealthy until someone acts."""

    kind = "auth_failed"


class Rejected(ChannelError):
    """The channel refused this request for good (too long, deleted parent,
    locked thread): do not retry."""

    kind = "rejected"


class Transient(ChannelError):
    """Timeouts, 5xx, dropped connections: retry with backoff."""

    kind = "transient"

"""Conversation fields derived from its messages, as DESIGN.md defines them.

One pure function serves ingest, the outbox and merges, so "awaiting reply"
and "first response" mean the same thing everywhere:

- a *customer message* is inbound and not an auto-reply or a bounce;
- a *response* is an outbound message that was delivered (it has its
  external id); queued or failed replies and internal notes are neither;
- *awaiting reply*: the last customer message has no response after it
  (and the conversation is not spam);
- *first response*: the first response at or after the first customer message.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from typing import NamedTuple


class Fact(NamedTuple):
    """What derive needs to know of one message."""

    direction: str  # in | out | note
    auto: str | None
    created_at: datetime
    delivered: bool  # outbound only: posted on the channel
    urgency: int | None
    sentiment: str | None  # a person's correction if there is one, else the scorer's label
    preview: str | None
    confidence: float | None = None  # the scorer's, None once a person corrected the label


@dataclass(slots=True)
class Derived:
    first_inbound_at: datetime | None = None
    last_inbound_at: datetime | None = None
    first_response_at: datetime | None = None
    last_outbound_at: datetime | None = None
    last_message_at: datetime | None = None
    awaiting_reply: bool = False
    awaiting_since: datetime | None = None
    urgency: int = 0
    sentiment: str | None = None
    sentiment_confidence: float | None = None
    preview: str | None = None
    message_count: int = 0

    def as_dict(self) -> dict:
        return dict(zip(self.__slots__, _values(self)))

    def values(self) -> tuple:
        """The fields in the order of `__slots__`."""
        return _values(self)


_values = attrgetter(*Derived.__slots__)


def is_customer(f: Fact) -> bool:
    return f.direction == "in" and f.auto is None


def is_response(f: Fact) -> bool:
    return f.direction == "out" and f.delivered


def derive(facts: list[Fact], *, spam: bool = False) -> Derived:
    """`facts` in any order; ties on time keep their given order."""
    return extend(Derived(), facts, spam=spam)


def extend(d: Derived, facts: list[Fact], *, spam: bool = False) -> Derived:
    """`d` (derived from earlier messages) updated with `facts`, which must
    all be at or after `d.last_message_at`: ingest's common case, where a
    new message follows the conversation instead of reordering it. Folding
    keeps a batch's cost independent of how long the conversation is."""
    d = Derived(*_values(d))
    waiting = d.last_inbound_at is not None and (d.last_outbound_at is None or d.last_inbound_at > d.last_outbound_at)
    for f in sorted(facts, key=lambda f: f.created_at):
        if f.direction == "note":
            continue
        d.message_count += 1
        d.last_message_at = f.created_at
        if is_customer(f):
            if d.first_inbound_at is None:
                d.first_inbound_at = f.created_at
            d.last_inbound_at = f.created_at
            d.sentiment, d.sentiment_confidence, d.preview = f.sentiment, f.confidence, f.preview
            # Urgency is that of the customer's latest run of messages: the
            # highest since our last response (kept once we respond).
            d.urgency = max(d.urgency, f.urgency or 0) if waiting else (f.urgency or 0)
            if not waiting:
                d.awaiting_since = f.created_at
            waiting = True
        elif is_response(f):
            d.last_outbound_at = f.created_at
            if d.first_inbound_at is not None and d.first_response_at is None:
                d.first_response_at = f.created_at
            waiting = False
            d.awaiting_since = None
    d.awaiting_reply = waiting and not spam
    if not d.awaiting_reply:
        d.awaiting_since = None
    return d


def preview_of(text: str | None, limit: int = 200) -> str:
    """First non-empty line, shortened: what the inbox list shows."""
    for line in (text or "").splitlines():
        line = line.strip()
        if line:
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return ""

"""The inbox list: one indexed SQL query per page, paged by keyset.

Filters combine with AND. Each sort walks an index in order and stops after
a page, so the cost does not grow with the size of the inbox:

- newest:  last_message_at, id  (ix_conversations_status_last / _last)
- urgency: urgency, id          (ix_conversations_urgency)
- waiting: awaiting_since, id   (ix_conversations_awaiting); only conversations
  awaiting a reply have a waiting time, so this sort implies that filter.

The cursor of the next page is the sort key of the last row, as text; a
page never skips or repeats a row while rows are added (offsets would).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone

from sqlalchemy import and_, exists, false, func, select, tuple_
from sqlalchemy.orm import Session, aliased

from inbox import search
from inbox.models import (
    CLOSED, OPEN, PENDING, SNOOZED, STATUSES, Account, Contact, Conversation, ConversationTag, Message, Tag, User,
)

PAGE = 50
SORTS = ("newest", "urgency", "waiting")
SENTIMENTS = ("negative", "neutral", "positive", "unknown")
UNSURE = "unsure"  # a sentiment filter of its own: the labels worth a person's look
# Below even odds a label is more likely wrong than right. The default
# scorer's confidence is calibrated (sentiment/train.py), so this reads as
# said: on its dev set 35 % of labels fall below, and 47 % of those are right.
UNSURE_BELOW = 0.5
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
COUNT_CAP = 10_000
TAG_DRIVE = 3000  # up to this many tagged conversations, the tag's index leads  # "10,000+": counting every closed conversation is not worth the time


class BadFilter(ValueError):
    """A filter value from a URL that makes no sense; the message says which."""


@dataclass(frozen=True, slots=True)
class ListFilters:
    status: str | None = OPEN  # None: any status
    account_id: int | None = None
    kind: str | None = None
    assignee: str | None = None  # "mine" | "unassigned"
    awaiting: bool = False
    sentiment: str | None = None
    urgency_min: int | None = None
    tag: str | None = None
    q: str = ""
    sort: str = "newest"

    def validate(self) -> "ListFilters":
        if self.status is not None and self.status not in STATUSES:
            raise BadFilter(f"Unknown status {self.status!r}.")
        if self.assignee not in (None, "mine", "unassigned"):
            raise BadFilter(f"Unknown assignee filter {self.assignee!r}.")
        if self.sentiment is not None and self.sentiment not in (*SENTIMENTS, UNSURE):
            raise BadFilter(f"Unknown sentiment {self.sentiment!r}.")
        if self.sort not in SORTS:
            raise BadFilter(f"Unknown sort {self.sort!r}.")
        return self

    def but(self, **changes) -> "ListFilters":
        return replace(self, **changes)


@dataclass(slots=True)
class Row:
    id: int
    account: str
    kind: str
    author: str
    subject: str | None
    preview: str | None
    status: str
    sentiment: str | None
    sentiment_confidence: float | None
    urgency: int
    awaiting_reply: bool
    awaiting_since: datetime | None
    last_message_at: datetime | None
    assignee: str | None
    assignee_id: int | None
    message_count: int
    snoozed_until: datetime | None


@dataclass(slots=True)
class Page:
    rows: list[Row]
    next_cursor: str | None
    search_capped: bool = False  # the search matched more messages than it looks at
    filters: ListFilters = field(default_factory=ListFilters)


def scope(account_id: int | None, kind: str | None) -> list:
    """Conditions for the account and channel filters: the part of a list's
    filter that the counts beside it follow."""
    c = Conversation
    where = []
    if account_id:
        where.append(c.account_id == account_id)
    if kind:
        where.append(c.account_id.in_(select(Account.id).where(Account.kind == kind).scalar_subquery()))
    return where


def conditions(session: Session, f: ListFilters, user_id: int | None, message_ids: list[int] | None) -> list:
    """The WHERE conditions of the list `f` shows (live updates test changed
    conversations against the same conditions)."""
    c = Conversation
    where = [c.merged_into_id.is_(None)]
    if f.status:
        where.append(c.status == f.status)
    where += scope(f.account_id, f.kind)
    if f.assignee == "mine":
        where.append(c.assignee_id == (user_id or -1))
    elif f.assignee == "unassigned":
        where.append(c.assignee_id.is_(None))
    if f.awaiting or f.sort == "waiting":
        where.append(c.awaiting_reply.is_(True))
    if f.sentiment == UNSURE:  # the scorer's guess, not a person's correction (no confidence) nor "unknown"
        where += [c.sentiment_confidence < UNSURE_BELOW, c.sentiment != "unknown"]
    elif f.sentiment:
        where.append(c.sentiment == f.sentiment)
    if f.urgency_min:
        where.append(c.urgency >= f.urgency_min)
    if f.tag:
        where.append(_tagged(session, f.tag))
    if message_ids is not None:
        where.append(c.id.in_(select(Message.conversation_id).where(Message.id.in_(message_ids))))
    return where


def _tagged(session: Session, name: str):
    """A tag on a few conversations drives the query from the tag's index;
    a tag on many is checked row by row while walking the sort's index
    (sorting thousands of tagged rows would cost more). One capped count
    tells which."""
    tag_id = session.scalar(select(Tag.id).where(Tag.name == name.strip().lower()))
    if tag_id is None:
        return false()
    few = select(ConversationTag.conversation_id).where(ConversationTag.tag_id == tag_id)
    n = session.scalar(select(func.count()).select_from(few.limit(TAG_DRIVE + 1).subquery()))
    if n <= TAG_DRIVE:
        return Conversation.id.in_(few)
    return exists().where(ConversationTag.conversation_id == Conversation.id, ConversationTag.tag_id == tag_id)


def _sort(f: ListFilters):
    """(key columns, descending?) of the sort."""
    c = Conversation
    if f.sort == "urgency":
        return (c.urgency, c.id), True
    if f.sort == "waiting":
        return (c.awaiting_since, c.id), False
    return (c.last_message_at, c.id), True


def encode_cursor(f: ListFilters, row: Row) -> str:
    """Sort key and id of the last row, URL-safe ("<key>_<id>"; times as
    microseconds since the epoch)."""
    if f.sort == "urgency":
        return f"{row.urgency}_{row.id}"
    at = row.awaiting_since if f.sort == "waiting" else row.last_message_at
    micros = (at - EPOCH) // timedelta(microseconds=1) if at else 0
    return f"{micros}_{row.id}"


def _decode_cursor(f: ListFilters, cursor: str):
    try:
        first, _, ident = cursor.partition("_")
        key = int(first) if f.sort == "urgency" else EPOCH + timedelta(microseconds=int(first))
        return key, int(ident)
    except (ValueError, OverflowError):
        raise BadFilter("That page link is out of date; start from the first page.") from None


def list_conversations(session: Session, f: ListFilters, *, user_id: int | None, after: str | None = None,
                       limit: int = PAGE) -> Page:
    """One page of the inbox. `after` is the cursor of the previous page."""
    f.validate()
    c = Conversation
    assignee = aliased(User)
    cols, desc = _sort(f)
    # The search runs once: its newest matching message ids (at most
    # MATCH_LIMIT) go into the list query, and one more tells it was capped.
    message_ids, capped = None, False
    ids = search.matching_messages(session.get_bind().dialect.name, f.q, search.MATCH_LIMIT + 1)
    if ids is not None:
        message_ids = list(session.scalars(ids))
        capped = len(message_ids) > search.MATCH_LIMIT
        message_ids = message_ids[:search.MATCH_LIMIT]
    where = conditions(session, f, user_id, message_ids)
    if after:
        key = tuple_(*cols)
        value = tuple_(*_decode_cursor(f, after))
        where.append(key < value if desc else key > value)
    q = (select(c.id, Account.name, Account.kind, Contact.name, c.subject, c.preview, c.status, c.sentiment,
                c.urgency, c.awaiting_reply, c.awaiting_since, c.last_message_at, assignee.name, assignee.email,
                c.assignee_id, c.message_count, c.snoozed_until, c.sentiment_confidence)
         .join(Account, Account.id == c.account_id)
         .outerjoin(Contact, Contact.id == c.contact_id)
         .outerjoin(assignee, assignee.id == c.assignee_id)
         .where(and_(*where))
         .order_by(*(col.desc() if desc else col.asc() for col in cols))
         .limit(limit + 1))
    rows = [Row(id=r[0], account=r[1], kind=r[2], author=r[3] or "", subject=r[4], preview=r[5], status=r[6],
                sentiment=r[7], urgency=r[8] or 0, awaiting_reply=bool(r[9]), awaiting_since=r[10],
                last_message_at=r[11], assignee=r[12] or r[13], assignee_id=r[14], message_count=r[15],
                snoozed_until=r[16], sentiment_confidence=r[17])
            for r in session.execute(q)]
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor(f, rows[-1]) if more and rows else None, capped, f)


@dataclass(slots=True)
class Counts:
    """How many conversations each quick filter would show (closed: capped)."""

    open: int = 0
    pending: int = 0
    snoozed: int = 0
    closed: int = 0
    closed_capped: bool = False
    mine: int = 0  # open or pending, assigned to me
    unassigned: int = 0  # open or pending
    awaiting: int = 0  # open or pending, awaiting a reply
    by_account: dict[int, int] = field(default_factory=dict)  # open, per account


def counts(session: Session, *, user_id: int | None, account_id: int | None = None, kind: str | None = None) -> Counts:
    """Counts for the filter bar. Each is a count over a range of one index
    (ix_conversations_counts, _status_assignee_last), never a table scan;
    closed conversations, the bulk of the table, are counted up to a cap."""
    c = Conversation
    # No merged_into_id test for open, pending and snoozed: a merged
    # conversation is closed (workflow.merge), and leaving the column out
    # keeps these counts inside the indexes.
    within = scope(account_id, kind)
    out = Counts()
    # One pass over the open, pending and snoozed conversations gives every
    # count but closed (three passes before: most of the time of a counts
    # reload under load). No user: nobody's "mine" (the web UI shares these
    # counts between agents and adds each agent's own with count_mine).
    q = select(c.status, c.account_id, func.count(), func.count().filter(c.assignee_id.is_(None)),
               func.count().filter(c.awaiting_reply.is_(True)),
               func.count().filter(c.assignee_id == (user_id or -1)))
    for status, acc, n, unassigned, awaiting, mine in session.execute(
            q.where(c.status.in_((OPEN, PENDING, SNOOZED)), *within).group_by(c.status, c.account_id)):
        setattr(out, status, getattr(out, status) + n)
        if status == OPEN:
            out.by_account[acc] = n
        if status != SNOOZED:
            out.unassigned += unassigned
            out.awaiting += awaiting
            out.mine += mine  # 0 with no user: no assignee has id -1
    closed = select(c.id).where(c.status == CLOSED, c.merged_into_id.is_(None), *within).limit(COUNT_CAP + 1).subquery()
    n = session.scalar(select(func.count()).select_from(closed)) or 0
    out.closed, out.closed_capped = min(n, COUNT_CAP), n > COUNT_CAP
    return out


def count_mine(session: Session, *, user_id: int | None, account_id: int | None = None,
               kind: str | None = None) -> int:
    """The one count that differs from agent to agent: open or pending,
    assigned to `user_id`."""
    c = Conversation
    return session.scalar(select(func.count()).select_from(c).where(
        c.status.in_((OPEN, PENDING)), c.assignee_id == (user_id or -1), *scope(account_id, kind))) or 0


def accounts(session: Session) -> list[tuple[int, str, str]]:
    """(id, name, kind) of every account, for the filter menu."""
    return [tuple(r) for r in session.execute(select(Account.id, Account.name, Account.kind).order_by(Account.name))]


def tag_names(session: Session) -> list[str]:
    return list(session.scalars(select(Tag.name).order_by(Tag.name)))

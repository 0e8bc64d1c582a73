"""Storing a channel's batch: dedupe, threading, contacts, tagging, cursor.

Everything of one batch (messages, conversations, contacts and the cursor
it advances to) is written in the caller's transaction, so a crash leaves
either all of it or none of it. Work is done per batch, not per item: one
query finds the duplicates, one the known threads, one the contacts, and the
writes are executemany statements. That is what makes thousands of items a
second possible on SQLite.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

import sentiment
from inbox import reports
from inbox.channel import Batch, InboundItem
from inbox.derive import Derived, Fact, derive, extend, preview_of
from inbox.models import (
    CLOSED, INBOUND, OPEN, OUTBOUND, Account, Attachment, Change, Contact, ContactIdentity,
    Conversation, Cursor, Message, utcnow,
)
from inbox.subjects import subject_key

log = logging.getLogger(__name__)

# Identities are shared between kinds that name people the same way.
NAMESPACE = {"maildir": "email"}
SUBJECT_WINDOW = timedelta(days=30)  # last-resort subject threading looks back this far
REPEAT_WINDOW = timedelta(hours=24)
SENTIMENT_CHARS = 2000
CHUNK = 500  # bound for IN (...) lists


@dataclass(slots=True)
class IngestResult:
    new: int = 0
    duplicates: int = 0
    flagged: int = 0  # stored, but something was wrong with them (defects)
    outbound: int = 0  # our own messages the channel handed back
    conversations: set[int] = field(default_factory=set)

    def add(self, other: "IngestResult") -> None:
        self.new += other.new
        self.duplicates += other.duplicates
        self.flagged += other.flagged
        self.outbound += other.outbound
        self.conversations |= other.conversations


class _NewConversation:
    """A conversation this batch creates; its id is known after the insert."""

    __slots__ = ("thread_key", "contact_id", "subject", "subject_key", "account_id", "id", "closed")

    def __init__(self, account_id: int, thread_key: str, contact_id: int | None, subject: str | None,
                 closed: bool = False):
        self.account_id = account_id
        self.closed = closed
        self.thread_key = thread_key
        self.contact_id = contact_id
        self.subject = subject
        self.subject_key = subject_key(subject)
        self.id: int | None = None


def namespace(kind: str) -> str:
    return NAMESPACE.get(kind, kind)


def _chunks(seq: Sequence, n: int = CHUNK) -> Iterable[Sequence]:
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


def store_batch(session: Session, account: Account, batch: Batch) -> IngestResult:
    """Store `batch` for `account` inside the caller's transaction."""
    result = IngestResult()
    items = _unique(batch.items, result)
    existing = _existing_ids(session, account.id, [i.external_id for i in items])
    fresh = [i for i in items if i.external_id not in existing]
    result.duplicates += len(items) - len(fresh)
    if fresh:
        _store_new(session, account, sorted(fresh, key=lambda i: i.created_at), result)
    _store_cursors(session, account.id, batch.cursors)
    return result


def _unique(items: list[InboundItem], result: IngestResult) -> list[InboundItem]:
    seen: set[str] = set()
    out = []
    for item in items:
        if item.external_id in seen:
            result.duplicates += 1
            continue
        seen.add(item.external_id)
        out.append(item)
    return out


def _existing_ids(session: Session, account_id: int, ids: list[str]) -> set[str]:
    found: set[str] = set()
    for part in _chunks(ids):
        found.update(session.scalars(
            select(Message.external_id).where(Message.account_id == account_id, Message.external_id.in_(part))))
    return found


def _store_new(session: Session, account: Account, items: list[InboundItem], result: IngestResult) -> None:
    ns = namespace(account.kind)
    contacts = _contacts(session, ns, [i for i in items if not i.from_self])
    by_ref = _known_refs(session, account.id, items)
    by_key = _known_keys(session, account.id, items)
    conv_of: list[int | _NewConversation] = []
    new_convs: list[_NewConversation] = []
    reopen: set[int] = set()

    for item in items:
        contact_id = None if item.from_self else contacts[item.author_id][0]
        conv = _thread(session, account.id, item, contact_id, by_ref, by_key, new_convs)
        if conv is None:
            key = item.thread_key or (item.references[0] if item.references else None) or item.external_id
            # A thread we start ourselves (our reply to something never
            # collected, sent from the channel's own app) is kept, so the
            # customer's answer joins it, but it is no work for anyone yet:
            # it starts closed and their first message opens it.
            conv = _NewConversation(account.id, key, contact_id, item.subject, closed=item.from_self)
            new_convs.append(conv)
            by_key[key] = conv
        elif isinstance(conv, _NewConversation):
            if conv.contact_id is None:
                conv.contact_id = contact_id
            if not item.from_self and item.auto is None:
                conv.closed = False
        by_ref[item.external_id] = conv
        conv_of.append(conv)
        if isinstance(conv, int) and not item.from_self and item.auto is None:
            reopen.add(conv)

    assessments = _assess(account, items, contacts)
    _insert_conversations(session, new_convs)
    conv_ids = [c if isinstance(c, int) else c.id for c in conv_of]
    _insert_messages(session, account, items, conv_ids, contacts, assessments)

    touched = sorted(set(conv_ids))
    new_facts: dict[int, list[Fact]] = {cid: [] for cid in touched}
    for item, cid, a in zip(items, conv_ids, assessments):
        customer = not item.from_self and item.auto is None
        new_facts[cid].append(Fact(OUTBOUND if item.from_self else INBOUND, item.auto, item.created_at,
                                   item.from_self, a.urgency if a else None, a.label if a else None,
                                   preview_of(item.new_text or item.text) if customer else None))
    _refresh(session, touched, reopen, new_facts, fresh={c.id for c in new_convs})
    _link_contacts(session, items, conv_ids, contacts)
    session.execute(insert(Change.__table__), [{"conversation_id": cid, "at": utcnow()} for cid in touched])

    result.new += len(items)
    result.flagged += sum(1 for i in items if i.defects)
    result.outbound += sum(1 for i in items if i.from_self)
    result.conversations.update(touched)


def _known_refs(session: Session, account_id: int, items: list[InboundItem]) -> dict[str, int | _NewConversation]:
    """external id -> conversation for every id the batch refers to."""
    refs = {r for i in items for r in (i.parent_external_id, *i.references) if r}
    found: dict[str, int | _NewConversation] = {}
    for part in _chunks(sorted(refs)):
        rows = session.execute(select(Message.external_id, Message.conversation_id).where(
            Message.account_id == account_id, Message.external_id.in_(part)))
        found.update({ext: conv for ext, conv in rows})
    return _follow_merges(session, found)


def _known_keys(session: Session, account_id: int, items: list[InboundItem]) -> dict[str, int | _NewConversation]:
    keys = {k for i in items for k in _keys(i) if k}
    found: dict[str, int | _NewConversation] = {}
    for part in _chunks(sorted(keys)):
        rows = session.execute(select(Conversation.thread_key, Conversation.id).where(
            Conversation.account_id == account_id, Conversation.thread_key.in_(part)))
        found.update({key: conv for key, conv in rows})
    return _follow_merges(session, found)


def _keys(item: InboundItem) -> tuple[str | None, ...]:
    """Thread keys an item may belong under. Its own id too: a reply that
    arrived first opened the thread under the id of the message it answers
    (its References root), and this may be that message."""
    return item.thread_key, item.references[0] if item.references else None, item.external_id


def _follow_merges(session: Session, found: dict) -> dict:
    """A merged conversation's messages moved to the one it was merged into;
    its thread key still points at the old row, so follow the link."""
    ids = {v for v in found.values() if isinstance(v, int)}
    if not ids:
        return found
    merged = dict(session.execute(select(Conversation.id, Conversation.merged_into_id).where(
        Conversation.id.in_(ids), Conversation.merged_into_id.is_not(None))).all())
    if not merged:
        return found
    return {k: merged.get(v, v) if isinstance(v, int) else v for k, v in found.items()}


def _thread(session: Session, account_id: int, item: InboundItem, contact_id: int | None,
            by_ref: dict, by_key: dict, new_convs: list[_NewConversation]) -> int | _NewConversation | None:
    # Nearest ancestor first: the parent, then References from newest to oldest.
    for ref in (item.parent_external_id, *reversed(item.references)):
        if ref and ref in by_ref:
            return by_ref[ref]
    for key in _keys(item):
        if key and key in by_key:
            return by_key[key]
    if not (item.thread_by_subject and contact_id is not None and item.auto is None):
        return None
    key = subject_key(item.subject)
    if key is None:
        return None
    for conv in reversed(new_convs):
        if conv.contact_id == contact_id and conv.subject_key == key:
            return conv
    return session.scalar(
        select(Conversation.id).where(
            Conversation.account_id == account_id, Conversation.contact_id == contact_id,
            Conversation.subject_key == key, Conversation.merged_into_id.is_(None),
            Conversation.last_message_at >= item.created_at - SUBJECT_WINDOW)
        .order_by(Conversation.last_message_at.desc()).limit(1))


def _contacts(session: Session, ns: str, items: list[InboundItem]) -> dict[str, list]:
    """author_id -> [contact_id, last_inbound_at], creating contacts for new people."""
    authors: dict[str, InboundItem] = {}
    for item in items:
        authors.setdefault(item.author_id, item)
    out: dict[str, list] = {}
    ids = sorted(authors)
    for part in _chunks(ids):
        rows = session.execute(
            select(ContactIdentity.author_id, ContactIdentity.contact_id, Contact.last_inbound_at)
            .join(Contact, Contact.id == ContactIdentity.contact_id)
            .where(ContactIdentity.namespace == ns, ContactIdentity.author_id.in_(part)))
        out.update({a: [cid, last] for a, cid, last in rows})
    missing = [a for a in ids if a not in out]
    if missing:
        # Plain executemany, then one query back by the natural key: RETURNING
        # with ordered rows would make SQLite insert one row per statement.
        now = utcnow()
        origin = {a: f"{ns}:{a}"[:340] for a in missing}
        session.execute(insert(Contact.__table__), [
            {"name": authors[a].author_name or authors[a].author_handle or a, "origin": origin[a], "created_at": now}
            for a in missing])
        new_ids: dict[str, int] = {}
        for part in _chunks(missing):
            rows = session.execute(select(Contact.origin, Contact.id).where(Contact.origin.in_([origin[a] for a in part])))
            new_ids.update(rows.all())
        session.execute(insert(ContactIdentity.__table__), [
            {"contact_id": new_ids[origin[a]], "namespace": ns, "author_id": a,
             "handle": authors[a].author_handle or a, "name": authors[a].author_name, "reach": authors[a].author_reach}
            for a in missing])
        out.update({a: [new_ids[origin[a]], None] for a in missing})
    return out


def _assess(account: Account, items: list[InboundItem], contacts: dict[str, list]):
    """Sentiment and urgency for customer messages, in one batch call."""
    picked, texts, langs, contexts = [], [], [], []
    last_seen = {a: v[1] for a, v in contacts.items()}
    for n, item in enumerate(items):
        if item.from_self or item.auto is not None:
            continue
        prev = last_seen.get(item.author_id)
        repeat = prev is not None and timedelta(0) < item.created_at - prev <= REPEAT_WINDOW
        if prev is None or item.created_at > prev:
            last_seen[item.author_id] = item.created_at
        picked.append(n)
        texts.append((item.new_text or item.text or "")[:SENTIMENT_CHARS])
        langs.append(item.lang)
        contexts.append({"reach": item.author_reach, "repeat_contact": repeat,
                         "channel": account.kind, "subject": item.subject})
    out: list = [None] * len(items)
    if picked:
        for n, a in zip(picked, sentiment.analyze_many(texts, langs=langs, contexts=contexts)):
            out[n] = a
    return out


def _insert_conversations(session: Session, convs: list[_NewConversation]) -> None:
    if not convs:
        return
    now = utcnow()
    account_id = convs[0].account_id
    session.execute(insert(Conversation.__table__), [
        {"account_id": c.account_id, "thread_key": c.thread_key[:500], "contact_id": c.contact_id,
         "subject": c.subject, "subject_key": c.subject_key, "status": CLOSED if c.closed else OPEN,
         "closed_at": now if c.closed else None, "created_at": now, "updated_at": now}
        for c in convs])
    by_key = {c.thread_key[:500]: c for c in convs}
    for part in _chunks(list(by_key)):
        for key, cid in session.execute(select(Conversation.thread_key, Conversation.id).where(
                Conversation.account_id == account_id, Conversation.thread_key.in_(part))):
            by_key[key].id = cid


def _insert_messages(session: Session, account: Account, items: list[InboundItem], conv_ids: list[int],
                     contacts: dict[str, list], assessments: list) -> None:
    now = utcnow()
    rows = []
    for item, conv_id, a in zip(items, conv_ids, assessments):
        rows.append({
            "conversation_id": conv_id, "account_id": account.id, "external_id": item.external_id[:500],
            "direction": OUTBOUND if item.from_self else INBOUND, "auto": item.auto,
            "contact_id": None if item.from_self else contacts[item.author_id][0],
            "author_id": item.author_id, "author_handle": item.author_handle, "author_name": item.author_name,
            "author_reach": item.author_reach, "subject": item.subject, "text": item.text or "",
            "new_text": item.new_text, "html": item.html, "lang": item.lang or (a.lang if a else None),
            "permalink": item.permalink, "parent_external_id": item.parent_external_id,
            "refs": list(item.references) or None, "created_at": item.created_at, "stored_at": now,
            "sentiment_label": a.label if a else None, "sentiment_score": a.score if a else None,
            "sentiment_confidence": a.confidence if a else None, "sentiment_words": list(a.words) if a else None,
            "urgency": a.urgency if a else None, "urgency_reasons": list(a.reasons) if a else None,
            "defects": item.defects or None, "extra": item.extra or None, "raw": item.raw,
        })
    # Core inserts of the tables: one executemany, where the ORM's bulk path
    # would split rows into groups by which values are None.
    with_files = [n for n, item in enumerate(items) if item.attachments]
    session.execute(insert(Message.__table__), rows)
    if not with_files:
        return
    wanted = [items[n].external_id[:500] for n in with_files]
    ids: dict[str, int] = {}
    for part in _chunks(wanted):
        ids.update(session.execute(select(Message.external_id, Message.id).where(
            Message.account_id == account.id, Message.external_id.in_(part))).all())
    session.execute(insert(Attachment.__table__), [
        {"message_id": ids[items[n].external_id[:500]], "filename": att.filename[:500],
         "content_type": att.content_type[:200], "size": att.size, "content": att.content,
         "truncated": att.truncated, "content_id": att.content_id}
        for n in with_files for att in items[n].attachments])


def _facts(session: Session, conv_ids: Sequence[int]) -> dict[int, list[Fact]]:
    facts: dict[int, list[Fact]] = {cid: [] for cid in conv_ids}
    for part in _chunks(list(conv_ids)):
        rows = session.execute(
            select(Message.conversation_id, Message.direction, Message.auto, Message.created_at,
                   Message.external_id.is_not(None), Message.urgency, Message.sentiment_label,
                   Message.new_text, Message.text)
            .where(Message.conversation_id.in_(part)).order_by(Message.created_at, Message.id))
        for cid, direction, auto, at, delivered, urg, label, new_text, text in rows:
            preview = preview_of(new_text or text) if direction == INBOUND and auto is None else None
            facts[cid].append(Fact(direction, auto, at, bool(delivered), urg, label, preview))
    return facts


def refresh_conversations(session: Session, conv_ids: Sequence[int], reopen: Iterable[int] = ()) -> None:
    """Recompute the derived fields of these conversations from their
    messages (see inbox.derive). `reopen`: conversations that got a new
    customer message, so a closed, pending or snoozed one opens again."""
    _refresh(session, conv_ids, set(reopen))


def _refresh(session: Session, conv_ids: Sequence[int], reopen: set[int],
             new_facts: dict[int, list[Fact]] | None = None, fresh: set[int] = frozenset()) -> None:
    """Write the derived fields of `conv_ids`. With `new_facts` (what this
    batch added), a conversation the new messages simply follow is extended
    from its stored fields; only one they reorder is recomputed from all
    its messages. So a batch costs the same in a thread of 5 or of 5,000."""
    if not conv_ids:
        return
    derived: dict[int, Derived] = {}
    state: dict[int, tuple[str, bool]] = {}
    cols = [getattr(Conversation, f) for f in Derived.__slots__]
    for part in _chunks(list(conv_ids)):
        for row in session.execute(select(Conversation.id, Conversation.status, Conversation.spam, *cols)
                                   .where(Conversation.id.in_(part))):
            cid, status, spam, *values = row
            state[cid] = (status, spam)
            added = (new_facts or {}).get(cid)
            if cid in fresh:
                derived[cid] = derive(added, spam=spam)
            elif added is not None and not spam and (values[4] is None or min(f.created_at for f in added) >= values[4]):
                derived[cid] = extend(Derived(*values), added)
    stale = [cid for cid in conv_ids if cid not in derived]
    if stale:
        for cid, facts in _facts(session, stale).items():
            derived[cid] = derive(facts, spam=state[cid][1])
    now = utcnow()
    fields = [*Derived.__slots__, "updated_at"]
    plain, reopened = [], []
    for cid in conv_ids:
        status, spam = state[cid]
        row = {"b_id": cid, "updated_at": now, **derived[cid].as_dict()}
        (reopened if cid in reopen and status != OPEN and not spam else plain).append(row)
    # Core table, not the ORM entity: an executemany with its own WHERE
    # (the ORM would want primary keys in every row dict).
    table = Conversation.__table__
    stmt = update(table).where(table.c.id == bindparam("b_id"))
    if plain:
        session.execute(stmt.values({f: bindparam(f) for f in fields}), plain)
    if reopened:
        values = {f: bindparam(f) for f in fields} | {"status": OPEN, "snoozed_until": None, "closed_at": None}
        session.execute(stmt.values(values), reopened)
    reports.mark(session, conv_ids)  # report rollups follow every change of derived fields


def _link_contacts(session: Session, items: list[InboundItem], conv_ids: list[int], contacts: dict[str, list]) -> None:
    """Remember when each person last wrote (for repeat-contact urgency) and
    give conversations started by us their customer once one writes."""
    latest: dict[int, datetime] = {}
    first_contact: dict[int, int] = {}
    for item, conv_id in zip(items, conv_ids):
        if item.from_self or item.auto is not None:
            continue
        cid, prev = contacts[item.author_id]
        if (prev is None or item.created_at > prev) and item.created_at > latest.get(cid, item.created_at - timedelta(1)):
            latest[cid] = item.created_at
        first_contact.setdefault(conv_id, cid)
    if latest:
        table = Contact.__table__
        session.execute(update(table).where(table.c.id == bindparam("b_id")).values(last_inbound_at=bindparam("at")),
                        [{"b_id": cid, "at": at} for cid, at in latest.items()])
    if first_contact:
        table = Conversation.__table__
        session.execute(update(table).where(table.c.id == bindparam("b_id"), table.c.contact_id.is_(None))
                        .values(contact_id=bindparam("cid")),
                        [{"b_id": conv, "cid": cid} for conv, cid in first_contact.items()])


def _store_cursors(session: Session, account_id: int, cursors: dict[str, str]) -> None:
    if not cursors:
        return
    now = utcnow()
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert
    stmt = upsert(Cursor)
    stmt = stmt.on_conflict_do_update(index_elements=[Cursor.account_id, Cursor.key],
                                      set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at})
    session.execute(stmt, [{"account_id": account_id, "key": k, "value": v, "updated_at": now}
                           for k, v in cursors.items()])


def load_cursors(session: Session, account_id: int) -> dict[str, str]:
    return dict(session.execute(select(Cursor.key, Cursor.value).where(Cursor.account_id == account_id)).all())

"""Storing a channel's batch: dedupe, threading, contacts, tagging, cursor.

Everything of one batch (messages, conversations, contacts and the cursor
it advances to) is written in the caller's transaction, so a crash leaves
either all of it or none of it. Work is done per batch, not per item, in a
fixed number of statements whatever the batch size: one query finds which
of the batch's ids are stored and the conversations of every id it refers
to, one the known thread keys, one merged conversations, one (email) the
conversations a subject may continue; contacts, conversations and
messages are multi-row INSERTs.

A conversation's derived fields (inbox/derive.py) are computed in Python
from what the batch knows: a new one's before it is inserted, so it is
written once; an existing one's by extending its stored fields with the
new messages. Only a conversation the batch reorders (a message older than
its last one) is recomputed from all its messages.

The statements go through inbox.bulk, plain SQL without SQLAlchemy's
per-row work: that is what makes thousands of items a second possible on
SQLite, where storing a message (FTS5 trigger included) costs less than
SQLAlchemy spends preparing its parameters.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

import sentiment
from inbox import reports
from inbox.bulk import CHUNK, Bulk, json_text, time_from_db
from inbox.channel import Batch, InboundItem
from inbox.derive import Derived, Fact, derive, extend, preview_of
from inbox.models import (
    CLOSED, INBOUND, OPEN, OUTBOUND, Account, Attachment, Change, Contact, ContactIdentity,
    Conversation, Cursor, Message, utcnow,
)
from inbox.subjects import subject_key
from inbox.tagging import sentiment_text

log = logging.getLogger(__name__)

# Identities are shared between kinds that name people the same way.
NAMESPACE = {"maildir": "email"}
SUBJECT_WINDOW = timedelta(days=30)  # last-resort subject threading looks back this far
REPEAT_WINDOW = timedelta(hours=24)
ID_CHARS = 500  # external ids and thread keys are stored (and so looked up) this long

CONVERSATIONS = Conversation.__table__
MESSAGES = Message.__table__
CONTACTS = Contact.__table__
IDENTITIES = ContactIdentity.__table__
ATTACHMENTS = Attachment.__table__
CHANGES = Change.__table__
DERIVED = Derived.__slots__
TIMES = [n for n, f in enumerate(DERIVED) if f.endswith(("_at", "_since"))]  # positions of the time fields
LAST, AWAITING = DERIVED.index("last_message_at"), DERIVED.index("awaiting_reply")
# Derived fields by how _refresh writes them: indexed ones that seldom change
# with a new message (each group set only when one of it changed), the rest always.
SELDOM = tuple(tuple(DERIVED.index(f) for f in group)
               for group in (("awaiting_reply", "awaiting_since"), ("urgency",), ("first_inbound_at",)))
ALWAYS = tuple(n for n in range(len(DERIVED)) if not any(n in group for group in SELDOM))


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
        self.thread_key = thread_key[:ID_CHARS]
        self.contact_id = contact_id
        self.subject = subject
        self.subject_key = subject_key(subject)
        self.id: int | None = None


def namespace(kind: str) -> str:
    return NAMESPACE.get(kind, kind)


def _ext(item: InboundItem) -> str:
    return item.external_id[:ID_CHARS]


def store_batch(session: Session, account: Account, batch: Batch) -> IngestResult:
    """Store `batch` for `account` inside the caller's transaction."""
    result = IngestResult()
    items = _unique(batch.items, result)
    if items:
        bulk = Bulk(session)
        stored = _stored(bulk, account.id, items)
        fresh = [i for i in items if _ext(i) not in stored]
        result.duplicates += len(items) - len(fresh)
        if fresh:
            # Re-fetched items cost this one query: no sentiment, no writes.
            _store_new(session, bulk, account, sorted(fresh, key=lambda i: i.created_at), stored, result)
    _store_cursors(session, account.id, batch.cursors)
    return result


def _unique(items: list[InboundItem], result: IngestResult) -> list[InboundItem]:
    seen: set[str] = set()
    out = []
    for item in items:
        ext = _ext(item)
        if ext in seen:
            result.duplicates += 1
            continue
        seen.add(ext)
        out.append(item)
    return out


def _stored(bulk: Bulk, account_id: int, items: list[InboundItem]) -> dict[str, int]:
    """external id -> conversation, for the batch's own ids (the stored
    ones are duplicates) and every id its items refer to (threading)."""
    ids = {_ext(i) for i in items}
    ids.update(r[:ID_CHARS] for i in items for r in (i.parent_external_id, *i.references) if r)
    return dict(bulk.select_in("SELECT external_id, conversation_id FROM messages "
                               "WHERE account_id = ? AND external_id IN ({in})", (account_id,), sorted(ids)))


def _store_new(session: Session, bulk: Bulk, account: Account, items: list[InboundItem],
               stored: dict[str, int], result: IngestResult) -> None:
    ns = namespace(account.kind)
    contacts = _contacts(bulk, ns, [i for i in items if not i.from_self])
    by_ref: dict[str, int | _NewConversation] = dict(stored)
    by_key = _known_keys(bulk, account.id, items)
    _follow_merges(bulk, by_ref, by_key)
    by_subject = _subject_candidates(bulk, account.id, items, contacts)
    conv_of: list[int | _NewConversation] = []
    new_convs: list[_NewConversation] = []
    reopen: set[int] = set()

    for item in items:
        contact_id = None if item.from_self else contacts[item.author_id][0]
        conv = _thread(item, contact_id, by_ref, by_key, by_subject, new_convs)
        if conv is None:
            key = (item.thread_key or (item.references[0] if item.references else None) or item.external_id)
            # A thread we start ourselves (our reply to something never
            # collected, sent from the channel's own app) is kept, so the
            # customer's answer joins it, but it is no work for anyone yet:
            # it starts closed and their first message opens it.
            conv = _NewConversation(account.id, key, contact_id, item.subject, closed=item.from_self)
            new_convs.append(conv)
            by_key[conv.thread_key] = conv
        elif isinstance(conv, _NewConversation):
            if conv.contact_id is None:
                conv.contact_id = contact_id
            if item.from_customer:
                conv.closed = False
        by_ref[_ext(item)] = conv
        conv_of.append(conv)
        if isinstance(conv, int) and item.from_customer:
            reopen.add(conv)

    assessments = _assess(account, items, contacts)
    added: dict[int | _NewConversation, list[Fact]] = {}
    for item, conv, a in zip(items, conv_of, assessments):
        customer = item.from_customer
        added.setdefault(conv, []).append(Fact(
            OUTBOUND if item.from_self else INBOUND, item.auto, item.created_at, item.from_self,
            a.urgency if a else None, a.label if a else None,
            preview_of(item.new_text or item.text) if customer else None, a.confidence if a else None))
    _insert_conversations(bulk, new_convs, added)
    conv_ids = [c if isinstance(c, int) else c.id for c in conv_of]
    _insert_messages(bulk, account, items, conv_ids, contacts, assessments)
    _refresh(bulk, [c for c in added if isinstance(c, int)], reopen, added)

    touched = sorted(set(conv_ids))
    reports.mark(session, touched)  # report rollups follow every change of derived fields
    _link_contacts(bulk, items, conv_of, contacts)
    now = bulk.time(utcnow())
    bulk.insert_values(CHANGES, ("conversation_id", "at"), [(cid, now) for cid in touched])

    result.new += len(items)
    result.flagged += sum(1 for i in items if i.defects)
    result.outbound += sum(1 for i in items if i.from_self)
    result.conversations.update(touched)


def _known_keys(bulk: Bulk, account_id: int, items: list[InboundItem]) -> dict[str, int | _NewConversation]:
    keys = {k[:ID_CHARS] for i in items for k in _keys(i) if k}
    return dict(bulk.select_in("SELECT thread_key, id FROM conversations WHERE account_id = ? AND thread_key IN ({in})",
                               (account_id,), sorted(keys)))


def _keys(item: InboundItem) -> tuple[str | None, ...]:
    """Thread keys an item may belong under. Its own id too: a reply that
    arrived first opened the thread under the id of the message it answers
    (its References root), and this may be that message."""
    return item.thread_key, item.references[0] if item.references else None, item.external_id


def _follow_merges(bulk: Bulk, *found: dict) -> None:
    """A merged conversation's messages moved to the one it was merged into;
    its thread key still points at the old row, so follow the link."""
    ids = sorted({v for f in found for v in f.values() if isinstance(v, int)})
    if not ids:
        return
    merged = dict(bulk.select_in("SELECT id, merged_into_id FROM conversations "
                                 "WHERE merged_into_id IS NOT NULL AND id IN ({in})", (), ids))
    if merged:
        for f in found:
            for k, v in f.items():
                if isinstance(v, int) and v in merged:
                    f[k] = merged[v]


def _subject_candidates(bulk: Bulk, account_id: int, items: list[InboundItem],
                        contacts: dict[str, list]) -> dict[tuple[int, str], tuple[datetime, int]]:
    """(contact, subject key) -> (last message time, id) of the stored
    conversation a subject-threaded item may continue: the most recent one
    of that person with that subject (`_thread` checks the time window)."""
    pairs: set[tuple[int, str]] = set()
    since = None
    for item in items:
        if item.thread_by_subject and item.from_customer:
            key = subject_key(item.subject)
            if key is not None:
                pairs.add((contacts[item.author_id][0], key))
                since = item.created_at if since is None else min(since, item.created_at)
    best: dict[tuple[int, str], tuple[datetime, int]] = {}
    ordered = sorted(pairs)
    for i in range(0, len(ordered), CHUNK):
        part = ordered[i:i + CHUNK]
        people = sorted({c for c, _ in part})
        keys = sorted({k for _, k in part})
        sql = ("SELECT contact_id, subject_key, last_message_at, id FROM conversations "
               "WHERE account_id = ? AND merged_into_id IS NULL AND last_message_at >= ? "
               f"AND contact_id IN ({', '.join('?' * len(people))}) AND subject_key IN ({', '.join('?' * len(keys))})")
        for contact, key, last, cid in bulk.execute(sql, (account_id, bulk.time(since - SUBJECT_WINDOW), *people, *keys)):
            pair, found = (contact, key), (time_from_db(last), cid)
            if pair in pairs and (pair not in best or found > best[pair]):
                best[pair] = found
    return best


def _thread(item: InboundItem, contact_id: int | None, by_ref: dict, by_key: dict,
            by_subject: dict, new_convs: list[_NewConversation]) -> int | _NewConversation | None:
    # Nearest ancestor first: the parent, then References from newest to oldest.
    for ref in (item.parent_external_id, *reversed(item.references)):
        if ref and ref[:ID_CHARS] in by_ref:
            return by_ref[ref[:ID_CHARS]]
    for key in _keys(item):
        if key and key[:ID_CHARS] in by_key:
            return by_key[key[:ID_CHARS]]
    if not (item.thread_by_subject and contact_id is not None and item.auto is None):
        return None
    key = subject_key(item.subject)
    if key is None:
        return None
    for conv in reversed(new_convs):
        if conv.contact_id == contact_id and conv.subject_key == key:
            return conv
    found = by_subject.get((contact_id, key))
    if found is not None and found[0] >= item.created_at - SUBJECT_WINDOW:
        return found[1]
    return None


def _contacts(bulk: Bulk, ns: str, items: list[InboundItem]) -> dict[str, list]:
    """author_id -> [contact_id, last_inbound_at], creating contacts for new people."""
    authors: dict[str, InboundItem] = {}
    for item in items:
        authors.setdefault(item.author_id, item)
    ids = sorted(authors)
    rows = bulk.select_in("SELECT i.author_id, i.contact_id, c.last_inbound_at FROM contact_identities i "
                          "JOIN contacts c ON c.id = i.contact_id WHERE i.namespace = ? AND i.author_id IN ({in})",
                          (ns,), ids)
    out: dict[str, list] = {a: [cid, time_from_db(last)] for a, cid, last in rows}
    missing = [a for a in ids if a not in out]
    if missing:
        # `origin` is the contact's natural key: RETURNING it with the id
        # maps rows back whatever order the database returns them in.
        now = utcnow()
        origin = {a: f"{ns}:{a}"[:340] for a in missing}
        new_ids = dict(bulk.insert(CONTACTS, [
            {"name": authors[a].author_name or authors[a].author_handle or a, "origin": origin[a],
             "last_inbound_at": None, "created_at": now} for a in missing], returning=("origin", "id")))
        bulk.insert(IDENTITIES, [
            {"contact_id": new_ids[origin[a]], "namespace": ns, "author_id": a,
             "handle": authors[a].author_handle or a, "name": authors[a].author_name, "reach": authors[a].author_reach}
            for a in missing])
        out.update({a: [new_ids[origin[a]], None] for a in missing})
    return out


def _assess(account: Account, items: list[InboundItem], contacts: dict[str, list]):
    """Sentiment and urgency for customer messages, in one batch call."""
    picked, texts, langs, contexts, scored = [], [], [], [], []
    last_seen = {a: v[1] for a, v in contacts.items()}
    for n, item in enumerate(items):
        if not item.from_customer:
            continue
        prev = last_seen.get(item.author_id)
        repeat = prev is not None and timedelta(0) < item.created_at - prev <= REPEAT_WINDOW
        if prev is None or item.created_at > prev:
            last_seen[item.author_id] = item.created_at
        picked.append(n)
        texts.append(sentiment_text(item))
        langs.append(item.lang)
        scored.append(item.scored)
        contexts.append({"reach": item.author_reach, "repeat_contact": repeat,
                         "channel": account.kind, "subject": item.subject})
    out: list = [None] * len(items)
    if picked:
        for n, a in zip(picked, sentiment.analyze_many(texts, langs=langs, contexts=contexts, scored=scored)):
            out[n] = a
    return out


def _insert_conversations(bulk: Bulk, convs: list[_NewConversation],
                          added: dict[int | _NewConversation, list[Fact]]) -> None:
    """New conversations, their derived fields computed from the batch
    (nothing else is stored for them yet), so each is written once."""
    if not convs:
        return
    now = utcnow()
    rows = [{"account_id": c.account_id, "thread_key": c.thread_key, "contact_id": c.contact_id,
             "subject": c.subject, "subject_key": c.subject_key, "status": CLOSED if c.closed else OPEN,
             "closed_at": now if c.closed else None, "created_at": now, "updated_at": now,
             **derive(added[c]).as_dict()} for c in convs]
    by_key = {c.thread_key: c for c in convs}
    for key, cid in bulk.insert(CONVERSATIONS, rows, returning=("thread_key", "id")):
        by_key[key].id = cid


MESSAGE_COLUMNS = (
    "conversation_id", "account_id", "external_id", "direction", "auto", "contact_id", "user_id", "author_id",
    "author_handle", "author_name", "author_reach", "subject", "text", "new_text", "html", "lang", "permalink",
    "parent_external_id", "refs", "created_at", "stored_at", "sentiment_label", "sentiment_score",
    "sentiment_confidence", "sentiment_words", "urgency", "urgency_reasons", "defects", "extra", "raw")


def _insert_messages(bulk: Bulk, account: Account, items: list[InboundItem], conv_ids: list[int],
                     contacts: dict[str, list], assessments: list) -> None:
    # Rows in the database's form, built here rather than through
    # Bulk.insert's per-value conversion: this is the widest, busiest table.
    time, js = bulk.time, json_text
    now = time(utcnow())
    rows = []
    for item, conv_id, a in zip(items, conv_ids, assessments):
        ours = item.from_self
        rows.append((
            conv_id, account.id, _ext(item), OUTBOUND if ours else INBOUND, item.auto,
            None if ours else contacts[item.author_id][0], None, item.author_id, item.author_handle,
            item.author_name, item.author_reach, item.subject, item.text or "", item.new_text, item.html,
            item.lang or (a.lang if a else None), item.permalink, item.parent_external_id,
            js(list(item.references)) if item.references else "null", time(item.created_at), now,
            *((a.label, a.score, a.confidence, js(list(a.words)), a.urgency, js(list(a.reasons))) if a else
              (None, None, None, "null", None, "null")),
            js(item.defects) if item.defects else "null", js(item.extra) if item.extra else "null", item.raw))
    with_files = [n for n, item in enumerate(items) if item.attachments]
    ids = dict(bulk.insert_values(MESSAGES, MESSAGE_COLUMNS, rows,
                                  returning=("external_id", "id") if with_files else ()))
    if with_files:
        bulk.insert(ATTACHMENTS, [
            {"message_id": ids[_ext(items[n])], "filename": att.filename[:500],
             "content_type": att.content_type[:200], "size": att.size, "content": att.content,
             "truncated": att.truncated, "content_id": att.content_id}
            for n in with_files for att in items[n].attachments])


def _facts(bulk: Bulk, conv_ids: Sequence[int]) -> dict[int, list[Fact]]:
    """Every message of these conversations as derive() sees it, except that
    a customer message's `preview` is its whole text: only the last one's
    becomes the conversation's preview (see _recompute)."""
    facts: dict[int, list[Fact]] = {cid: [] for cid in conv_ids}
    rows = bulk.select_in(
        "SELECT conversation_id, direction, auto, created_at, external_id IS NOT NULL, urgency, "
        "COALESCE(corrected_label, sentiment_label), "
        f"CASE WHEN direction = '{INBOUND}' AND auto IS NULL THEN COALESCE(NULLIF(new_text, ''), text) END, "
        "CASE WHEN corrected_label IS NULL THEN sentiment_confidence END "
        "FROM messages WHERE conversation_id IN ({in}) ORDER BY conversation_id, created_at, id", (), conv_ids)
    for cid, direction, auto, at, delivered, urg, label, text, confidence in rows:
        facts[cid].append(Fact(direction, auto, time_from_db(at), bool(delivered), urg, label, text, confidence))
    return facts


def _recompute(facts: list[Fact], spam: bool) -> Derived:
    d = derive(facts, spam=spam)
    if d.preview is not None:
        d.preview = preview_of(d.preview)
    return d


def refresh_conversations(session: Session, conv_ids: Sequence[int], reopen: Iterable[int] = ()) -> None:
    """Recompute the derived fields of these conversations from their
    messages (see inbox.derive). `reopen`: conversations that got a new
    customer message, so a closed, pending or snoozed one opens again."""
    if not conv_ids:
        return
    session.flush()  # plain SQL below: the ORM's pending changes must be in the database first
    _refresh(Bulk(session), list(dict.fromkeys(conv_ids)), set(reopen))
    reports.mark(session, conv_ids)  # report rollups follow every change of derived fields


def _refresh(bulk: Bulk, conv_ids: Sequence[int], reopen: set[int],
             new_facts: dict | None = None) -> None:
    """Write the derived fields of stored conversations `conv_ids`. With
    `new_facts` (what this batch added), a conversation the new messages
    simply follow is extended from its stored fields; only one they reorder
    is recomputed from all its messages. So a batch costs the same in a
    thread of 5 or of 5,000."""
    if not conv_ids:
        return
    derived: dict[int, Derived] = {}
    state: dict[int, tuple[str, bool, tuple]] = {}
    rows = bulk.select_in(f"SELECT id, status, spam, {', '.join(DERIVED)} FROM conversations WHERE id IN ({{in}})",
                          (), conv_ids)
    for cid, status, spam, *values in rows:
        spam = bool(spam)
        state[cid] = (status, spam, tuple(values))  # values as stored, to write only what changes
        added = new_facts.get(cid) if new_facts else None
        last = time_from_db(values[LAST])
        if added is not None and not spam and (last is None or min(f.created_at for f in added) >= last):
            for n in TIMES:
                values[n] = time_from_db(values[n])
            values[AWAITING] = bool(values[AWAITING])
            derived[cid] = extend(Derived(*values), added)
    stale = [cid for cid in conv_ids if cid not in derived and cid in state]
    if stale:
        for cid, facts in _facts(bulk, stale).items():
            derived[cid] = _recompute(facts, state[cid][1])
    # An UPDATE that sets a column rewrites every index on it, even to the
    # same value. The indexed fields that seldom change when a message is
    # added are set only when they did: rows are grouped by which of them
    # changed (a few statements per batch, not one per combination).
    now = bulk.time(utcnow())
    time = bulk.time
    groups: dict[tuple[tuple[int, ...], bool], list[tuple]] = {}
    for cid in conv_ids:
        if cid not in state:
            continue  # deleted meanwhile
        status, spam, stored = state[cid]
        new = list(derived[cid].values())
        for n in TIMES:
            new[n] = time(new[n])
        columns = ALWAYS + tuple(n for group in SELDOM for n in group if any(new[k] != stored[k] for k in group))
        reopened = cid in reopen and status != OPEN and not spam
        groups.setdefault((columns, reopened), []).append((*(new[n] for n in columns), now, cid))
    for (columns, reopened), part in groups.items():
        bulk.update(CONVERSATIONS, [*(DERIVED[n] for n in columns), "updated_at"], part, converted=True,
                    fixed={"status": OPEN, "snoozed_until": None, "closed_at": None} if reopened else None)


def _link_contacts(bulk: Bulk, items: list[InboundItem], conv_of: list, contacts: dict[str, list]) -> None:
    """Remember when each person last wrote (for repeat-contact urgency) and
    give conversations started by us their customer once one writes."""
    latest: dict[int, datetime] = {}
    first_contact: dict[int, int] = {}
    for item, conv in zip(items, conv_of):
        if not item.from_customer:
            continue
        cid, prev = contacts[item.author_id]
        if (prev is None or item.created_at > prev) and item.created_at > latest.get(cid, item.created_at - timedelta(1)):
            latest[cid] = item.created_at
        if isinstance(conv, int):  # a new conversation was given its contact when it was inserted
            first_contact.setdefault(conv, cid)
    bulk.update(CONTACTS, ["last_inbound_at"], [(at, cid) for cid, at in latest.items()])
    bulk.update(CONVERSATIONS, ["contact_id"], [(cid, conv) for conv, cid in first_contact.items()],
                where="contact_id IS NULL")


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

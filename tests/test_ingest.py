"""Ingest on SQLite and PostgreSQL: idempotency, threading, contacts,
conversation fields and cursor atomicity."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DatabaseError

from inbox.channel import AUTO_REPLY, Attachment, Batch, InboundItem
from inbox.ingest import load_cursors, store_batch
from inbox.models import Attachment as AttachmentRow
from inbox.models import Change, Contact, Conversation, Message

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)


def item(ext: str, minutes: int = 0, **kw) -> InboundItem:
    kw.setdefault("text", f"Message {ext}: my order never arrived")
    kw.setdefault("author_id", "u1")
    kw.setdefault("author_handle", "@customer")
    return InboundItem(external_id=ext, created_at=T0 + timedelta(minutes=minutes), **kw)


def ingest(factory, account, items, cursors=None):
    with factory.begin() as s:
        return store_batch(s, s.merge(account), Batch(items=items, cursors=cursors or {}))


def count(factory, model) -> int:
    with factory() as s:
        return s.scalar(select(func.count()).select_from(model))


def conversations(factory) -> list[Conversation]:
    with factory() as s:
        return list(s.scalars(select(Conversation).order_by(Conversation.id)))


def test_same_items_twice_are_stored_once(factory, make_account):
    acc = make_account()
    first = ingest(factory, acc, [item("1"), item("2", 1), item("1")])
    assert (first.new, first.duplicates) == (2, 1)
    again = ingest(factory, acc, [item("1"), item("2", 1)])
    assert (again.new, again.duplicates) == (0, 2)
    assert count(factory, Message) == 2


def test_same_external_id_on_two_accounts_is_two_messages(factory, make_account):
    a, b = make_account("a"), make_account("b")
    ingest(factory, a, [item("1")])
    ingest(factory, b, [item("1")])
    assert count(factory, Message) == 2


def test_threads_by_key_and_parent(factory, make_account):
    acc = make_account()
    ingest(factory, acc, [item("1", thread_key="conv-A"), item("2", 1, thread_key="conv-B")])
    # A reply without a thread key finds its conversation through its parent.
    ingest(factory, acc, [item("3", 2, parent_external_id="1", author_id="u2")])
    convs = conversations(factory)
    assert [c.thread_key for c in convs] == ["conv-A", "conv-B"]
    with factory() as s:
        parent_conv = s.scalar(select(Message.conversation_id).where(Message.external_id == "1"))
        assert s.scalar(select(Message.conversation_id).where(Message.external_id == "3")) == parent_conv


def test_threads_within_one_batch_even_out_of_order(factory, make_account):
    acc = make_account()
    # The child arrives first in the batch but is newer: ingest sorts by time.
    ingest(factory, acc, [item("child", 5, references=("root",)), item("root", 0)])
    assert len(conversations(factory)) == 1


def test_original_arriving_after_its_reply_joins_it(factory, make_account):
    acc = make_account("mail", "email")
    ingest(factory, acc, [item("reply", 10, references=("original",), author_id="x@example.com")])
    ingest(factory, acc, [item("original", 0, author_id="x@example.com")])
    assert len(conversations(factory)) == 1
    assert conversations(factory)[0].message_count == 2


def test_references_root_groups_when_root_is_unknown(factory, make_account):
    acc = make_account("mail", "email")
    ingest(factory, acc, [item("a", 0, references=("never-seen",), author_id="x@example.com"),
                          item("b", 1, references=("never-seen", "other"), author_id="y@example.com")])
    assert len(conversations(factory)) == 1


def test_subject_is_last_resort_same_contact_within_window(factory, make_account):
    acc = make_account("mail", "email")
    mail = dict(thread_by_subject=True, author_id="ann@example.com")
    ingest(factory, acc, [item("m1", 0, subject="Broken kettle", **mail)])
    # A client that drops References: same person, same subject -> same thread.
    ingest(factory, acc, [item("m2", 60, subject="RE: Broken kettle", **mail)])
    # Someone else with the same subject is someone else's conversation.
    ingest(factory, acc, [item("m3", 61, subject="Re: Broken kettle", thread_by_subject=True,
                                author_id="bob@example.com")])
    # The same person much later starts a new conversation.
    ingest(factory, acc, [item("m4", 60 * 24 * 45, subject="Broken kettle", **mail)])
    # Subjects too short to mean anything never thread.
    ingest(factory, acc, [item("m5", 70, subject="Hi", **mail), item("m6", 71, subject="hi", **mail)])
    with factory() as s:
        conv = dict(s.execute(select(Message.external_id, Message.conversation_id)).all())
    assert conv["m1"] == conv["m2"]
    assert len({conv["m1"], conv["m3"], conv["m4"]}) == 3
    assert conv["m5"] != conv["m6"]


def test_contacts_are_linked_and_reused(factory, make_account):
    acc = make_account()
    ingest(factory, acc, [item("1", author_id="u9", author_name="Nina Novak", author_reach=1200)])
    ingest(factory, acc, [item("2", 1, author_id="u9", thread_key="other")])
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Contact)) == 1
        contact = s.scalar(select(Contact))
        assert contact.name == "Nina Novak"
        assert contact.identities[0].reach == 1200
        assert {c.contact_id for c in s.scalars(select(Conversation))} == {contact.id}


def test_email_contacts_shared_between_email_and_maildir(factory, make_account):
    a, b = make_account("mail", "email"), make_account("drop", "maildir")
    ingest(factory, a, [item("1", author_id="ann@example.com")])
    ingest(factory, b, [item("2", author_id="ann@example.com")])
    assert count(factory, Contact) == 1


def test_conversation_fields_follow_the_definitions(factory, make_account):
    acc = make_account()
    ingest(factory, acc, [item("1", 0, thread_key="t", text="Where is my refund?"),
                          item("2", 10, thread_key="t", text="Hello??")])
    c = conversations(factory)[0]
    assert c.awaiting_reply and c.awaiting_since == T0
    assert (c.first_inbound_at, c.last_inbound_at) == (T0, T0 + timedelta(minutes=10))
    assert c.first_response_at is None and c.message_count == 2
    assert c.preview == "Hello??"
    assert c.sentiment in ("negative", "neutral", "positive", "unknown")
    with factory() as s:  # the last customer message's label and confidence
        last = s.scalar(select(Message).where(Message.external_id == "2"))
        assert (c.sentiment, c.sentiment_confidence) == (last.sentiment_label, last.sentiment_confidence)
        assert 0.0 < c.sentiment_confidence <= 1.0

    # Our own reply, seen by the channel (posted from the native app).
    ingest(factory, acc, [item("3", 30, thread_key="t", from_self=True, author_id="brand")])
    c = conversations(factory)[0]
    assert not c.awaiting_reply and c.awaiting_since is None
    assert c.first_response_at == T0 + timedelta(minutes=30)
    assert c.last_outbound_at == T0 + timedelta(minutes=30)
    with factory() as s:
        assert s.scalar(select(Message.direction).where(Message.external_id == "3")) == "out"

    # An older customer message arriving late does not make it wait again.
    ingest(factory, acc, [item("0", -5, thread_key="t")])
    c = conversations(factory)[0]
    assert not c.awaiting_reply
    assert c.first_inbound_at == T0 - timedelta(minutes=5)
    assert c.first_response_at == T0 + timedelta(minutes=30)


def test_auto_replies_never_await_a_reply(factory, make_account):
    acc = make_account("mail", "email")
    ingest(factory, acc, [item("ooo", 0, auto=AUTO_REPLY, text="I am out of office")])
    c = conversations(factory)[0]
    assert not c.awaiting_reply and c.first_inbound_at is None
    with factory() as s:
        assert s.scalar(select(Message.sentiment_label)) is None  # not a customer message


def test_new_customer_message_reopens(factory, make_account):
    acc = make_account()
    ingest(factory, acc, [item("1", thread_key="t")])
    with factory.begin() as s:
        s.scalar(select(Conversation)).status = "closed"
    ingest(factory, acc, [item("2", 5, thread_key="t")])
    assert conversations(factory)[0].status == "open"


def test_attachments_and_defects_are_kept(factory, make_account):
    acc = make_account("mail", "email")
    att = Attachment("invoice.pdf", "application/pdf", 3, b"%PD")
    r = ingest(factory, acc, [item("1", attachments=[att], defects=["missing boundary"])])
    assert r.flagged == 1
    with factory() as s:
        row = s.scalar(select(AttachmentRow))
        assert (row.filename, row.size, row.content) == ("invoice.pdf", 3, b"%PD")
        assert s.scalar(select(Message.defects)) == ["missing boundary"]


def test_cursor_is_stored_with_the_items(factory, make_account):
    acc = make_account()
    ingest(factory, acc, [item("1")], cursors={"mentions": "1"})
    ingest(factory, acc, [], cursors={"mentions": "5", "search:acme": "4"})
    with factory() as s:
        assert load_cursors(s, acc.id) == {"mentions": "5", "search:acme": "4"}


def test_failure_mid_batch_leaves_database_as_before(factory, make_account, engine):
    acc = make_account()
    ingest(factory, acc, [item("1")], cursors={"mentions": "1"})
    # A real database error in the middle of the batch: a trigger refuses one row.
    with engine.begin() as c:
        if engine.dialect.name == "sqlite":
            c.execute(text("CREATE TRIGGER refuse BEFORE INSERT ON messages WHEN NEW.text = 'boom' "
                           "BEGIN SELECT RAISE(ABORT, 'refused by test trigger'); END"))
        else:
            c.execute(text("CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN IF NEW.text = 'boom' THEN "
                           "RAISE EXCEPTION 'refused by test trigger'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"))
            c.execute(text("CREATE TRIGGER refuse BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION refuse()"))
    before = (count(factory, Message), count(factory, Conversation), count(factory, Contact), count(factory, Change))
    with pytest.raises(DatabaseError):
        ingest(factory, acc, [item("2", 1, author_id="new-person"), item("3", 2, text="boom"), item("4", 3)],
               cursors={"mentions": "4"})
    after = (count(factory, Message), count(factory, Conversation), count(factory, Contact), count(factory, Change))
    assert after == before
    with factory() as s:
        assert load_cursors(s, acc.id) == {"mentions": "1"}


def test_every_touched_conversation_is_announced(factory, make_account):
    acc = make_account()
    r = ingest(factory, acc, [item("1", thread_key="a"), item("2", thread_key="b")])
    with factory() as s:
        assert set(s.scalars(select(Change.conversation_id))) == r.conversations


def test_a_thread_we_start_is_closed_until_the_customer_writes(factory, make_account):
    acc = make_account()
    r = ingest(factory, acc, [item("brand-1", thread_key="t", from_self=True, author_id="brand",
                                   text="@nina here is the tracking link")])
    assert r.new == 1 and r.outbound == 1
    c = conversations(factory)[0]
    assert (c.status, c.awaiting_reply, c.first_inbound_at) == ("closed", False, None)
    ingest(factory, acc, [item("2", 5, thread_key="t", text="thanks, still nothing though")])
    c = conversations(factory)[0]
    assert (c.status, c.awaiting_reply) == ("open", True)


def test_extending_a_conversation_equals_recomputing_it(factory, make_account):
    from inbox.ingest import refresh_conversations

    acc = make_account()
    steps = [[item("1", 0, thread_key="t", text="I want a refund, charged twice")],
             [item("2", 5, thread_key="t", text="hello??")],
             [item("3", 9, thread_key="t", from_self=True, author_id="brand")],
             [item("4", 12, thread_key="t", text="thanks!"), item("5", 12, thread_key="t", text="one more thing")],
             [item("6", 20, thread_key="t", from_self=True, author_id="brand"),
              item("7", 21, thread_key="t", text="still broken")]]
    fields = ("first_inbound_at", "last_inbound_at", "first_response_at", "last_outbound_at", "last_message_at",
              "awaiting_reply", "awaiting_since", "urgency", "sentiment", "sentiment_confidence", "preview",
              "message_count")
    for batch in steps:
        ingest(factory, acc, batch)
        c = conversations(factory)[0]
        extended = {f: getattr(c, f) for f in fields}
        with factory.begin() as s:
            refresh_conversations(s, [c.id])
        c = conversations(factory)[0]
        assert extended == {f: getattr(c, f) for f in fields}
    assert c.awaiting_since == T0 + timedelta(minutes=21) and c.message_count == 7


# --- the plain-SQL path (inbox.bulk) stores what the ORM would ----------------


def test_bulk_values_are_stored_as_sqlalchemy_stores_them(engine, factory):
    """Times and JSON written by inbox.bulk read back through the ORM equal,
    and on SQLite are the very text SQLAlchemy writes (text comparisons of
    times must order them)."""
    from datetime import timedelta as td

    from inbox.bulk import Bulk, time_from_db
    from inbox.models import Account, Cursor, UTCDateTime

    when = [datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc), datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=timezone.utc),
            datetime(2026, 3, 1, 13, 30, 0, 250, tzinfo=timezone(td(hours=1, minutes=30)))]
    orm = UTCDateTime().dialect_impl(engine.dialect).bind_processor(engine.dialect)  # what SQLAlchemy hands the driver
    with factory.begin() as s:
        b = Bulk(s)
        for t in when:
            assert b.time(t) == orm(t)
            assert time_from_db(b.execute("SELECT ?", (b.time(t),))[0][0]) == t
        with pytest.raises(ValueError):
            b.time(datetime(2026, 1, 1))
        acc = Account(name="a", kind="x")
        s.add(acc)
        s.flush()
        # Model defaults fill what a row leaves out (here updated_at).
        b.insert(Cursor.__table__, [{"account_id": acc.id, "key": "k", "value": "v"}])
        b.insert(Change.__table__, [{"conversation_id": 7, "at": when[2]}])
    with factory() as s:
        assert s.scalar(select(Cursor.updated_at)) is not None
        assert s.scalar(select(Change.at)) == when[2]
        assert s.scalar(select(Change.at).where(Change.at > when[0])) == when[2]


def test_stored_rows_equal_what_the_orm_writes(factory, make_account, engine):
    """A message stored by ingest has the same column values, JSON `null`s
    included, as the ORM writes for the same data."""
    acc = make_account("mail", "email")
    ingest(factory, acc, [item("1", subject="Kettle", defects=["bad date"], extra={"uid": 5},
                                references=("r0",), new_text="my kettle"),
                          item("2", 5, from_self=True, author_id="brand", references=("1",))])
    with factory.begin() as s:
        for m in s.scalars(select(Message).order_by(Message.id)).all():
            s.add(Message(**{c.key: getattr(m, c.key) for c in Message.__table__.columns
                             if c.key not in ("id", "external_id", "refs")},
                          references=m.references, external_id=f"copy-{m.external_id}"))
    cols = [c.name for c in Message.__table__.columns if c.name not in ("id", "external_id")]
    as_text = "CAST({} AS TEXT)" if engine.dialect.name == "postgresql" else "{}"
    with engine.connect() as c:
        rows = c.execute(text(f"SELECT {', '.join(as_text.format(n) for n in cols)} FROM messages ORDER BY id")).all()
    assert rows[:2] == rows[2:]
    assert "null" in rows[1]  # JSON null, as SQLAlchemy writes None to a JSON column


def _shuffled_threads(n_threads: int, seed: int) -> list[InboundItem]:
    """Threads of 1-6 messages, customers and our replies, some auto-replies,
    handed over interleaved and out of order, as a busy channel does."""
    import random

    rng = random.Random(seed)
    out = []
    for t in range(n_threads):
        parent = None
        for k in range(rng.randint(1, 6)):
            ours = k % 2 == 1 and rng.random() < 0.6
            ext = f"t{t}-{k}"
            out.append(item(ext, t % 50 + 3 * k, thread_key=f"th{t}", parent_external_id=parent,
                            from_self=ours, author_id="brand" if ours else f"person{t % 700}",
                            auto=AUTO_REPLY if not ours and rng.random() < 0.05 else None,
                            text=rng.choice(["\\n\\n  where is my parcel??", "thanks, works now", "refund me now!",
                                             "still broken\\nsecond line"])))
            parent = ext
    rng.shuffle(out)
    return out


def test_batches_in_any_order_give_the_fields_a_recompute_gives(factory, make_account):
    """Every conversation field written by ingest (new conversations derived
    from the batch, stored ones extended or recomputed when reordered)
    equals a recompute from all its messages; 700 people exceed the IN-list
    chunk and a batch of 1,200 needs several INSERT statements."""
    from inbox.ingest import refresh_conversations

    acc = make_account()
    items = _shuffled_threads(900, seed=3)
    for i in range(0, len(items), 1200):
        r = ingest(factory, acc, items[i:i + 1200] + items[max(0, i - 40):i])  # with re-fetched items
        assert r.duplicates == min(i, 40)
    fields = ("first_inbound_at", "last_inbound_at", "first_response_at", "last_outbound_at", "last_message_at",
              "awaiting_reply", "awaiting_since", "urgency", "sentiment", "sentiment_confidence", "preview",
              "message_count", "status",
              "contact_id")
    before = {c.id: {f: getattr(c, f) for f in fields} for c in conversations(factory)}
    assert len(before) == 900 and count(factory, Message) == len(items)
    with factory.begin() as s:
        refresh_conversations(s, list(before))
    after = {c.id: {f: getattr(c, f) for f in fields} for c in conversations(factory)}
    assert before == after
    with factory() as s:
        # Each message's contact is its author's (contacts created in bulk map back right).
        wrong = s.execute(text(
            "SELECT count(*) FROM messages m JOIN contact_identities i ON i.contact_id = m.contact_id "
            "WHERE i.author_id <> m.author_id")).scalar()
        assert wrong == 0
        assert s.scalar(select(func.count()).select_from(Contact)) == 700
        assert s.scalar(select(func.count()).where(Message.contact_id.is_(None), Message.direction == "in")) == 0


def test_preview_is_the_first_line_of_the_last_customer_message_after_a_reorder(factory, make_account):
    acc = make_account()
    ingest(factory, acc, [item("1", 0, thread_key="t", text="first"), item("3", 10, thread_key="t", text="\n\n latest \nmore")])
    ingest(factory, acc, [item("2", 5, thread_key="t", text="older, arrived late")])  # reorders: recomputed
    c = conversations(factory)[0]
    assert (c.preview, c.message_count, c.last_inbound_at) == ("latest", 3, T0 + timedelta(minutes=10))


def test_subject_threading_picks_the_latest_conversation_in_one_batch(factory, make_account):
    acc = make_account("mail", "email")
    mail = dict(thread_by_subject=True, author_id="ann@example.com")
    # Two conversations with the same subject (a new mail is not threaded by subject).
    ingest(factory, acc, [item("a1", 0, subject="Broken kettle", author_id="ann@example.com")])
    ingest(factory, acc, [item("b1", 60, subject="Broken kettle", author_id="ann@example.com")])
    # One batch: two follow-ups without References, and one from someone else.
    ingest(factory, acc, [item("a2", 120, subject="Re: Broken kettle", **mail),
                          item("x1", 121, subject="Re: Broken kettle", thread_by_subject=True, author_id="bob@example.com"),
                          item("a3", 122, subject="RE: broken  kettle", **mail)])
    with factory() as s:
        conv = dict(s.execute(select(Message.external_id, Message.conversation_id)).all())
    assert conv["a2"] == conv["a3"] == conv["b1"] != conv["a1"]
    assert conv["x1"] not in (conv["a1"], conv["b1"])


def test_very_long_external_ids_are_still_stored_once(factory, make_account):
    acc = make_account("mail", "email")
    long_id = "<" + "x" * 700 + "@example.com>"
    ingest(factory, acc, [item(long_id, author_id="ann@example.com")])
    again = ingest(factory, acc, [item(long_id, author_id="ann@example.com"),
                                  item("reply", 5, references=(long_id,), author_id="ann@example.com")])
    assert (again.new, again.duplicates) == (1, 1)
    assert len(conversations(factory)) == 1

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
              "awaiting_reply", "awaiting_since", "urgency", "sentiment", "preview", "message_count")
    for batch in steps:
        ingest(factory, acc, batch)
        c = conversations(factory)[0]
        extended = {f: getattr(c, f) for f in fields}
        with factory.begin() as s:
            refresh_conversations(s, [c.id])
        c = conversations(factory)[0]
        assert extended == {f: getattr(c, f) for f in fields}
    assert c.awaiting_since == T0 + timedelta(minutes=21) and c.message_count == 7

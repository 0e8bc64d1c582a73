"""Workflow transitions on both databases: assignment, status, snooze,
tags, notes, merge, canned replies, queueing and undoing replies."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from inbox import workflow as wf
from inbox.channel import Batch, InboundItem
from inbox.ingest import store_batch
from inbox.models import AuditEvent, Conversation, Message, OutboundReply, Tag, utcnow

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)


def seed(factory, account, *items):
    with factory.begin() as s:
        store_batch(s, s.merge(account), Batch(items=list(items)))


def mention(ext, minutes=0, **kw):
    kw.setdefault("text", "@acme my order never arrived")
    kw.setdefault("author_id", "u1")
    kw.setdefault("author_name", "Nina Novak")
    kw.setdefault("author_handle", "@nina")
    return InboundItem(external_id=ext, created_at=T0 + timedelta(minutes=minutes), **kw)


@pytest.fixture
def conv_id(factory, make_account):
    acc = make_account()
    seed(factory, acc, mention("1", thread_key="t1"))
    with factory() as s:
        return s.scalar(select(Conversation.id))


def actions(factory, cid):
    with factory() as s:
        return [a for a in s.scalars(select(AuditEvent.action).where(AuditEvent.conversation_id == cid)
                                     .order_by(AuditEvent.id))]


def test_assign_and_unassign_are_audited(factory, conv_id, make_user):
    ada = make_user()
    with factory.begin() as s:
        conv = s.get(Conversation, conv_id)
        wf.assign(s, conv, s.merge(ada), by=s.merge(ada))
        wf.assign(s, conv, s.merge(ada), by=s.merge(ada))  # no-op: not audited twice
    with factory.begin() as s:
        assert s.get(Conversation, conv_id).assignee_id == ada.id
        wf.assign(s, s.get(Conversation, conv_id), None, by=s.merge(ada))
    assert actions(factory, conv_id) == ["assign", "unassign"]


def test_status_close_snooze_and_wake(factory, conv_id, make_user):
    ada = make_user()
    with factory.begin() as s:
        conv = s.get(Conversation, conv_id)
        wf.set_status(s, conv, "closed", by=s.merge(ada))
        assert conv.closed_at is not None
        with pytest.raises(wf.WorkflowError, match="future"):
            wf.set_status(s, conv, "snoozed", by=s.merge(ada), snooze_until=utcnow() - timedelta(minutes=1))
        with pytest.raises(wf.WorkflowError, match="Unknown status"):
            wf.set_status(s, conv, "archived", by=s.merge(ada))
        wf.set_status(s, conv, "snoozed", by=s.merge(ada), snooze_until=utcnow() + timedelta(hours=2))
    with factory.begin() as s:
        assert wf.wake_snoozed(s) == 0
        assert wf.wake_snoozed(s, now=utcnow() + timedelta(hours=3)) == 1
    with factory() as s:
        conv = s.get(Conversation, conv_id)
        assert (conv.status, conv.snoozed_until, conv.closed_at) == ("open", None, None)


def test_spam_never_awaits_reply(factory, conv_id, make_user):
    ada = make_user()
    with factory.begin() as s:
        wf.set_status(s, s.get(Conversation, conv_id), "closed", by=s.merge(ada), spam=True)
    with factory() as s:
        assert not s.get(Conversation, conv_id).awaiting_reply


def test_tags_and_notes(factory, conv_id, make_user):
    ada = make_user()
    with factory.begin() as s:
        conv = s.get(Conversation, conv_id)
        wf.add_tag(s, conv, " Refund ", by=s.merge(ada))
        wf.add_tag(s, conv, "refund", by=s.merge(ada))
        with pytest.raises(wf.WorkflowError):
            wf.add_tag(s, conv, "<script>", by=s.merge(ada))
        note = wf.add_note(s, conv, "Customer is a VIP", by=s.merge(ada))
        assert note.direction == "note"
    with factory.begin() as s:
        conv = s.get(Conversation, conv_id)
        assert [t.name for t in conv.tags] == ["refund"]
        assert conv.awaiting_reply  # a note is not a response
        wf.remove_tag(s, conv, "refund", by=s.merge(ada))
    with factory() as s:
        assert s.get(Conversation, conv_id).tags == []
        assert s.scalar(select(func.count()).select_from(Tag)) == 1
    assert actions(factory, conv_id) == ["tag_added", "note", "tag_removed"]


def test_merge_moves_messages_and_later_items_follow(factory, make_account, make_user):
    acc, ada = make_account(), make_user()
    seed(factory, acc, mention("1", 0, thread_key="a"), mention("2", 5, thread_key="b"))
    with factory.begin() as s:
        a, b = s.scalars(select(Conversation).order_by(Conversation.id)).all()
        wf.merge(s, b, a, by=s.merge(ada))
        with pytest.raises(wf.WorkflowError):
            wf.merge(s, a, a, by=s.merge(ada))
        a_id, b_id = a.id, b.id
    # A later message in the merged-away thread lands in the surviving one.
    seed(factory, acc, mention("3", 10, thread_key="b"))
    with factory() as s:
        assert set(s.scalars(select(Message.conversation_id))) == {a_id}
        a = s.get(Conversation, a_id)
        assert a.message_count == 3 and a.last_inbound_at == T0 + timedelta(minutes=10)
        assert s.get(Conversation, b_id).merged_into_id == a_id


def test_merge_refuses_different_accounts(factory, make_account, make_user):
    x, r, ada = make_account("x", "x"), make_account("r", "reddit"), make_user()
    seed(factory, x, mention("1", thread_key="a"))
    seed(factory, r, mention("t1_1", thread_key="t3_a"))
    with factory.begin() as s:
        a, b = s.scalars(select(Conversation).order_by(Conversation.id)).all()
        with pytest.raises(wf.WorkflowError, match="same account"):
            wf.merge(s, a, b, by=s.merge(ada))


def test_canned_replies_render_placeholders(factory, make_user):
    ada = make_user(name="Ada Lovelace")
    with factory.begin() as s:
        with pytest.raises(wf.WorkflowError, match="Unknown placeholder"):
            wf.save_canned(s, "Bad", "Hi {frist_name}", by=s.merge(ada))
        c = wf.save_canned(s, "Sorry", "Hi {first_name}, {agent_first_name} here. Sorry!", by=s.merge(ada))
        body = c.body
    text = wf.render_canned(body, customer_name="Nina Novak", handle="@nina", agent=ada)
    assert text == "Hi Nina, Ada here. Sorry!"
    assert wf.render_canned("Hi {first_name}", handle="u/throwaway123") == "Hi throwaway123"


def test_queue_reply_checks_length_and_is_idempotent(factory, conv_id, make_user):
    ada = make_user()
    with factory.begin() as s:
        conv = s.get(Conversation, conv_id)
        with pytest.raises(wf.WorkflowError, match="Too long for x"):
            wf.queue_reply(s, conv, "😀" * 141, by=s.merge(ada))  # 282 weighted
        with pytest.raises(wf.WorkflowError, match="empty"):
            wf.queue_reply(s, conv, "   ", by=s.merge(ada))
        r1 = wf.queue_reply(s, conv, "😀" * 140, by=s.merge(ada), idempotency_key="draft-1", undo_seconds=10)
        r2 = wf.queue_reply(s, conv, "😀" * 140, by=s.merge(ada), idempotency_key="draft-1", undo_seconds=10)
        assert r1.id == r2.id
        assert r1.not_before >= utcnow() + timedelta(seconds=9)
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(OutboundReply)) == 1
        conv = s.get(Conversation, conv_id)
        assert conv.awaiting_reply  # queued is not answered yet


def test_second_reply_by_colleague_within_a_minute_needs_confirmation(factory, conv_id, make_user):
    ada, bob = make_user(), make_user("bob@example.com", name="Bob Builder")
    with factory.begin() as s:
        wf.queue_reply(s, s.get(Conversation, conv_id), "On it!", by=s.merge(ada))
    with factory.begin() as s:  # the same agent adding to their own reply is no collision
        wf.queue_reply(s, s.get(Conversation, conv_id), "PS: tracking link sent", by=s.merge(ada))
    with factory.begin() as s:
        with pytest.raises(wf.Collision, match="Ada Agent replied to this message"):
            wf.queue_reply(s, s.get(Conversation, conv_id), "Looking into it", by=s.merge(bob))
        wf.queue_reply(s, s.get(Conversation, conv_id), "Looking into it", by=s.merge(bob), confirm_collision=True)


def test_undo_within_window_removes_reply(factory, conv_id, make_user):
    ada = make_user()
    with factory.begin() as s:
        r = wf.queue_reply(s, s.get(Conversation, conv_id), "Oops wrong customer", by=s.merge(ada), undo_seconds=10)
    with factory.begin() as s:
        assert wf.undo_reply(s, s.get(OutboundReply, r.id), by=s.merge(ada)) == "Oops wrong customer"
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(OutboundReply)) == 0
        assert s.scalar(select(func.count()).select_from(Message).where(Message.direction == "out")) == 0
    assert "reply_undone" in actions(factory, conv_id)


def test_old_change_feed_rows_are_pruned(factory, conv_id):
    from inbox.models import Change

    with factory.begin() as s:
        s.add(Change(conversation_id=conv_id, at=utcnow() - timedelta(days=2)))
    with factory.begin() as s:
        assert wf.prune_changes(s) == 1
        assert s.scalar(select(func.count()).select_from(Change)) >= 1  # the recent ones stay

"""Outbox states and exactly-once delivery, on both databases.

The channel here is a small in-memory one that records what it was asked
to post: these tests are about the outbox's bookkeeping. The same paths
run against the real channels and their servers in tests/email,
tests/social and the crash tests.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from collectors.base import Channel
from collectors.runner import send_due
from inbox import outbox
from inbox import workflow as wf
from inbox.channel import AuthFailed, Batch, InboundItem, RateLimited, Rejected, SentRef, Transient
from inbox.config import AccountConfig
from inbox.ingest import store_batch
from inbox.models import Account, Conversation, Message, OutboundReply, utcnow

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)


class RecordingChannel(Channel):
    kind = "x"
    title = "Recording"
    settings = []

    def __init__(self, name="acme-x"):
        super().__init__(AccountConfig(name=name, kind="x", enabled=True, sla_minutes=None, settings={}))
        self.posted: list[tuple[str, str]] = []  # (external id, text) as the channel holds them
        self.failures: list[Exception] = []  # raised by the next send() calls, in order
        self.post_then_fail = False  # post, then lose the answer (timeout after the write)
        self.sends = 0
        self.lookups = 0

    def send(self, reply):
        self.sends += 1
        if self.post_then_fail:
            self.post_then_fail = False
            self.posted.append((f"p{len(self.posted) + 1}", reply.text))
            raise Transient("read timed out")
        if self.failures:
            raise self.failures.pop(0)
        ext = f"p{len(self.posted) + 1}"
        self.posted.append((ext, reply.text))
        return SentRef(ext, permalink=f"https://example.test/{ext}")

    def find_sent(self, reply):
        self.lookups += 1
        for ext, text in self.posted:
            if text == reply.text:
                return SentRef(ext)
        return None


@pytest.fixture
def setup(factory, make_account, make_user):
    acc, ada = make_account(), make_user()
    with factory.begin() as s:
        store_batch(s, s.merge(acc), Batch(items=[InboundItem(
            external_id="m1", created_at=T0, text="where is my order", author_id="u1", thread_key="t")]))
        conv = s.scalar(select(Conversation))
    return conv.id, ada


def queue(factory, conv_id, user, text="Sorry! Sending a new one today.", undo=0):
    with factory.begin() as s:
        return wf.queue_reply(s, s.get(Conversation, conv_id), text, by=s.merge(user), undo_seconds=undo).id


def reply_row(factory, rid) -> OutboundReply:
    with factory() as s:
        return s.get(OutboundReply, rid)


def test_sent_once_and_conversation_answered(factory, setup):
    conv_id, ada = setup
    ch = RecordingChannel()
    rid = queue(factory, conv_id, ada)
    assert send_due({"acme-x": ch}, factory).sent == 1
    assert send_due({"acme-x": ch}, factory).sent == 0  # nothing left
    assert ch.sends == 1
    r = reply_row(factory, rid)
    assert (r.state, r.external_id, r.attempts) == ("sent", "p1", 1)
    with factory() as s:
        conv = s.get(Conversation, conv_id)
        assert not conv.awaiting_reply and conv.first_response_at == r.sent_at
        assert s.get(Message, r.message_id).external_id == "p1"


def test_undo_window_is_respected(factory, setup):
    conv_id, ada = setup
    ch = RecordingChannel()
    queue(factory, conv_id, ada, undo=60)
    assert send_due({"acme-x": ch}, factory).sent == 0
    assert ch.sends == 0


def test_transient_failure_retries_after_checking(factory, setup):
    conv_id, ada = setup
    ch = RecordingChannel()
    ch.failures = [Transient("503 from the API")]
    rid = queue(factory, conv_id, ada)
    res = send_due({"acme-x": ch}, factory)
    assert (res.sent, res.retried) == (0, 1)
    r = reply_row(factory, rid)
    assert r.state == "queued" and r.error_kind == "transient" and "503" in r.last_error
    assert r.not_before > utcnow()
    with factory.begin() as s:  # let the backoff pass
        s.execute(update(OutboundReply).values(not_before=utcnow()))
    assert send_due({"acme-x": ch}, factory).sent == 1
    assert ch.lookups == 1  # looked before resending
    assert len(ch.posted) == 1


def test_timeout_after_posting_is_not_posted_twice(factory, setup):
    conv_id, ada = setup
    ch = RecordingChannel()
    ch.post_then_fail = True
    rid = queue(factory, conv_id, ada)
    send_due({"acme-x": ch}, factory)
    with factory.begin() as s:
        s.execute(update(OutboundReply).values(not_before=utcnow()))
    res = send_due({"acme-x": ch}, factory)
    assert res.reconciled == 1 and ch.sends == 1
    assert len(ch.posted) == 1
    assert reply_row(factory, rid).state == "sent"


@pytest.mark.parametrize("err, health", [(Rejected("parent tweet was deleted"), "ok"),
                                         (AuthFailed("401 Unauthorized"), "auth_failed")])
def test_final_failures_are_not_retried(factory, setup, err, health):
    conv_id, ada = setup
    ch = RecordingChannel()
    ch.failures = [err]
    rid = queue(factory, conv_id, ada)
    assert send_due({"acme-x": ch}, factory).failed == 1
    r = reply_row(factory, rid)
    assert r.state == "failed" and r.last_error == str(err)
    with factory() as s:
        assert s.scalar(select(Account.health)) == health
    # The agent retries after fixing the cause.
    with factory.begin() as s:
        wf.retry_reply(s, s.get(OutboundReply, rid), by=s.merge(ada))
    assert send_due({"acme-x": ch}, factory).sent == 1


def test_rate_limit_waits_for_reset_without_using_an_attempt(factory, setup):
    conv_id, ada = setup
    ch = RecordingChannel()
    reset = utcnow() + timedelta(minutes=3)
    ch.failures = [RateLimited("429 Too Many Requests", reset_at=reset)]
    rid = queue(factory, conv_id, ada)
    send_due({"acme-x": ch}, factory)
    r = reply_row(factory, rid)
    assert r.state == "queued" and r.attempts == 0 and r.not_before >= reset


def test_gives_up_after_max_attempts(factory, setup):
    conv_id, ada = setup
    ch = RecordingChannel()
    ch.failures = [Transient("timeout")] * 3
    rid = queue(factory, conv_id, ada)
    for _ in range(3):
        send_due({"acme-x": ch}, factory, max_attempts=3)
        with factory.begin() as s:
            s.execute(update(OutboundReply).values(not_before=utcnow()))
    r = reply_row(factory, rid)
    assert (r.state, r.attempts) == ("failed", 3)
    assert ch.posted == []


def _crash_while_sending(factory, rid, claimed_by):
    """What a sender killed between its network call and recording the
    result leaves behind: the row in `sending`, claimed by a dead process."""
    with factory.begin() as s:
        s.execute(update(OutboundReply).where(OutboundReply.id == rid).values(
            state="sending", attempts=1, claimed_by=claimed_by, claimed_at=utcnow()))


def test_crash_after_posting_is_reconciled_not_resent(factory, setup):
    conv_id, ada = setup
    ch = RecordingChannel()
    rid = queue(factory, conv_id, ada)
    ch.posted.append(("p1", "Sorry! Sending a new one today."))  # it did reach the channel
    _crash_while_sending(factory, rid, "elsewhere:1:0")
    with factory.begin() as s:  # another host's claim: trusted until it is stale
        s.execute(update(OutboundReply).values(claimed_at=utcnow() - outbox.STALE_AFTER - timedelta(seconds=1)))
    res = send_due({"acme-x": ch}, factory)
    assert (res.reconciled, res.sent, ch.sends) == (1, 0, 0)
    assert reply_row(factory, rid).external_id == "p1"


def test_crash_before_posting_is_sent_once(factory, setup):
    import socket

    conv_id, ada = setup
    ch = RecordingChannel()
    rid = queue(factory, conv_id, ada)
    _crash_while_sending(factory, rid, f"{socket.gethostname()}:999999:0")  # no such process here
    send_due({"acme-x": ch}, factory)  # reconciles: not found -> queued again
    send_due({"acme-x": ch}, factory)
    assert ch.sends == 1 and len(ch.posted) == 1
    assert reply_row(factory, rid).state == "sent"


def test_live_claim_is_left_alone(factory, setup):
    conv_id, ada = setup
    ch = RecordingChannel()
    rid = queue(factory, conv_id, ada)
    _crash_while_sending(factory, rid, outbox.worker_id())  # ourselves: still working on it
    assert send_due({"acme-x": ch}, factory).reconciled == 0
    assert ch.lookups == 0 and reply_row(factory, rid).state == "sending"


def test_our_reply_handed_back_before_it_was_recorded(factory, setup):
    """A search matches our own reply and ingest stores it before the sender
    records the result: the two rows become one message."""
    conv_id, ada = setup
    ch = RecordingChannel()
    rid = queue(factory, conv_id, ada)
    with factory.begin() as s:
        acc = s.scalar(select(Account))
        store_batch(s, acc, Batch(items=[InboundItem(
            external_id="p1", created_at=utcnow(), text="Sorry! Sending a new one today.", author_id="brand",
            thread_key="t", from_self=True)]))
    send_due({"acme-x": ch}, factory)
    with factory() as s:
        assert [m.external_id for m in s.scalars(select(Message).where(Message.direction == "out"))] == ["p1"]
        assert s.get(OutboundReply, rid).state == "sent"

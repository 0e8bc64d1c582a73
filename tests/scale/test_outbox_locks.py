"""The outbox's answers to "is its claimer gone?" and "could the channel
say?", on both databases.

On PostgreSQL a claim is proven alive by the claimer's advisory lock on the
reply (collectors/locks.py), on any host and at any age; a free lock means
the claimer is gone and the reply is reconciled at once, not after
STALE_AFTER. When the channel cannot tell whether a reply was posted, the
reply is never resent blindly and never left stuck.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from collectors.locks import WorkerLocks
from collectors.runner import send_due
from inbox import outbox
from inbox.channel import RateLimited, SentRef, Transient
from inbox.models import OutboundReply, utcnow
from tests.test_outbox import RecordingChannel, queue, reply_row, setup  # noqa: F401  (fixture)

TEXT = "Sorry! Sending a new one today."
# Advisory locks exist on PostgreSQL only: these tests run once, there.
postgres_only = pytest.mark.parametrize("db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)],
                                        indirect=True)


class LookupFails(RecordingChannel):
    """A channel whose look-ups fail the next `lookup_errors` times."""

    def __init__(self):
        super().__init__()
        self.lookup_errors: list[Exception] = []

    def find_sent(self, reply):
        if self.lookup_errors:
            self.lookups += 1
            raise self.lookup_errors.pop(0)
        return super().find_sent(reply)


def _left_sending(factory, rid, claimed_by="elsewhere:1:0", age=timedelta(0)):
    with factory.begin() as s:
        s.execute(update(OutboundReply).where(OutboundReply.id == rid).values(
            state="sending", attempts=1, claimed_by=claimed_by, claimed_at=utcnow() - age))


def _due_now(factory):
    with factory.begin() as s:
        s.execute(update(OutboundReply).values(not_before=utcnow()))


def test_rate_limited_lookup_still_looks_before_the_next_attempt(factory, setup):
    """Posted, answer lost; the look before the retry is rate limited; the
    retry after it must look again, not post a second time."""
    conv_id, ada = setup
    ch = LookupFails()
    ch.post_then_fail = True
    rid = queue(factory, conv_id, ada, TEXT)
    send_due({"acme-x": ch}, factory)  # posted, then "read timed out"
    ch.lookup_errors = [RateLimited("429 on the timeline", reset_at=utcnow() + timedelta(seconds=30))]
    _due_now(factory)
    send_due({"acme-x": ch}, factory)
    r = reply_row(factory, rid)
    assert (r.state, r.error_kind) == ("queued", "transient")
    assert r.not_before >= utcnow() + timedelta(seconds=25)  # waits for the reset
    _due_now(factory)
    res = send_due({"acme-x": ch}, factory)
    assert res.reconciled == 1 and ch.sends == 1 and len(ch.posted) == 1
    assert reply_row(factory, rid).state == "sent"


def test_reconcile_that_cannot_tell_is_retried_later_not_stuck(factory, setup):
    conv_id, ada = setup
    ch = LookupFails()
    rid = queue(factory, conv_id, ada, TEXT)
    ch.posted.append(("p1", TEXT))  # it did go out before the crash
    _left_sending(factory, rid, age=outbox.STALE_AFTER + timedelta(seconds=1))
    ch.lookup_errors = [Transient("503 on the timeline")]
    assert send_due({"acme-x": ch}, factory).reconciled == 0
    r = reply_row(factory, rid)
    assert r.state == "sending" and r.claimed_by is None and "Could not check" in r.last_error
    assert send_due({"acme-x": ch}, factory).reconciled == 0 and ch.lookups == 1  # waits before asking again
    _due_now(factory)
    assert send_due({"acme-x": ch}, factory).reconciled == 1
    assert ch.sends == 0 and reply_row(factory, rid).external_id == "p1"


def test_stale_replies_of_accounts_without_a_channel_here_are_left_alone(factory, setup, make_account):
    conv_id, ada = setup
    rid = queue(factory, conv_id, ada, TEXT)
    _left_sending(factory, rid, age=outbox.STALE_AFTER + timedelta(seconds=1))
    other = make_account("acme-reddit", kind="reddit")
    with factory.begin() as s:
        assert outbox.stale_sending(s, account_ids=[other.id]) == []
    assert reply_row(factory, rid).claimed_by == "elsewhere:1:0"


@postgres_only
def test_a_held_claim_is_alive_at_any_age_and_a_free_one_is_reconciled_at_once(factory, setup):
    conv_id, ada = setup
    ch = RecordingChannel()
    rid = queue(factory, conv_id, ada, TEXT)
    other = WorkerLocks(factory)  # another worker, on another host for all we know
    try:
        assert other.hold_reply(rid)
        _left_sending(factory, rid, claimed_by="other-host:42:0", age=timedelta(hours=1))
        assert send_due({"acme-x": ch}, factory).reconciled == 0
        assert ch.lookups == 0 and reply_row(factory, rid).state == "sending"
        ch.posted.append(("p1", TEXT))  # its post went out, then the worker died
    finally:
        other.release_all()  # the session ends: PostgreSQL drops its locks
    _left_sending(factory, rid, claimed_by="other-host:42:0")  # claimed a moment ago
    res = send_due({"acme-x": ch}, factory)
    assert (res.reconciled, ch.sends) == (1, 0)
    assert reply_row(factory, rid).state == "sent"


@postgres_only
def test_a_claim_is_held_before_it_commits(factory, setup):
    """No moment exists where a reply is `sending` and its lock is free."""
    conv_id, ada = setup
    rid = queue(factory, conv_id, ada, TEXT)
    mine, other = WorkerLocks(factory), WorkerLocks(factory)
    try:
        with factory.begin() as s:
            assert outbox.claim(s, hold=mine.hold_reply) == [rid]
            assert not other.hold_reply(rid)  # still uncommitted, already held
        with factory.begin() as s:
            assert outbox.stale_sending(s, hold=other.hold_reply) == []
        mine.release_reply(rid)
        # (claims by this test's own process count as alive; `mine` stands for another process)
        _left_sending(factory, rid, claimed_by="other-host:7:0")
        with factory.begin() as s:
            assert outbox.stale_sending(s, hold=other.hold_reply) == [rid]
    finally:
        mine.release_all()
        other.release_all()


@postgres_only
def test_a_one_off_sender_is_not_counted_among_the_workers(factory, setup):
    """`replydesk send --once` holds replies; counting it as a worker would
    shrink the real workers' fair shares of the accounts."""
    from sqlalchemy import text

    from collectors.locks import WORKER_SPACE

    conv_id, ada = setup
    rid = queue(factory, conv_id, ada, TEXT)
    sender, worker = WorkerLocks(factory), WorkerLocks(factory)

    def workers() -> int:
        with factory() as s:
            return s.scalar(text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2 AND granted "
                "AND classid::bigint = :space AND database = (SELECT oid FROM pg_database "
                "WHERE datname = current_database())"), {"space": WORKER_SPACE})
    try:
        assert sender.hold_reply(rid) and workers() == 0
        worker.want(["acme-x"])
        worker.heartbeat()
        assert workers() == 1 and worker.held("acme-x")
    finally:
        sender.release_all()
        worker.release_all()


class RecordsNothing(RecordingChannel):
    """Posts, then hands back an id the database cannot take: recording the
    outcome fails the way a database going away mid-pass would."""

    def send(self, reply):
        super().send(reply)
        return SentRef("9" * 600)


@postgres_only
def test_a_reply_whose_outcome_could_not_be_recorded_is_let_go_not_stuck(factory, setup):
    from sqlalchemy.exc import DBAPIError

    conv_id, ada = setup
    ch = RecordsNothing()
    rid = queue(factory, conv_id, ada, TEXT)
    with pytest.raises(DBAPIError):
        send_due({"acme-x": ch}, factory)
    r = reply_row(factory, rid)
    assert (r.state, r.claimed_by) == ("sending", None)  # any pass may now reconcile it
    ch2 = RecordingChannel()
    ch2.posted = ch.posted
    assert send_due({"acme-x": ch2}, factory).reconciled == 1  # found, not sent again
    assert ch.sends + ch2.sends == 1

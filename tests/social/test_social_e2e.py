"""From the stand-in APIs through the channels, the runner and ingest into
the database (SQLite and PostgreSQL), and replies back out through the outbox."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from collectors.runner import poll_once, send_due
from inbox import workflow
from inbox.models import Account, Conversation, Message, OutboundReply, utcnow


def count(factory, model, **where) -> int:
    with factory() as s:
        q = select(func.count()).select_from(model)
        for k, v in where.items():
            q = q.where(getattr(model, k) == v)
        return s.scalar(q)


def queue(factory, user, external_id: str, text: str) -> int:
    with factory.begin() as s:
        parent = s.scalar(select(Message).where(Message.external_id == external_id))
        conv = s.get(Conversation, parent.conversation_id)
        return workflow.queue_reply(s, conv, text, by=s.merge(user), parent=parent).id


def test_x_mentions_to_inbox_and_a_reply_back_exactly_once(x_api, make_x, factory, make_account, make_user):
    make_account("acme-x", "x")
    agent = make_user()
    ch = make_x(search=["acme kettle"])
    first = x_api.add_mention("ann", "my parcel is lost")
    x_api.add_mention("bob", "love the new app")
    x_api.add_tweet("cy", "is the acme kettle safe?")
    result = poll_once(ch, factory)
    assert (result.new, result.error) == (3, None)
    assert poll_once(ch, factory).new == 0  # stored once, however often it is fetched

    reply_id = queue(factory, agent, first["id"], "So sorry! Which order number? https://acme.example/track")
    x_api.fail("lost", method="POST")  # posted, but the answer never arrives
    ch_fast = make_x(search=["acme kettle"], timeout_seconds=0.5)
    assert send_due({"acme-x": ch_fast}, factory).retried == 1
    with factory.begin() as s:
        s.get(OutboundReply, reply_id).not_before = utcnow() - timedelta(seconds=1)  # skip the backoff
    assert send_due({"acme-x": ch_fast}, factory).reconciled == 1  # found, not sent again
    assert len(x_api.posted) == 1 and x_api.posted[0]["in_reply_to_tweet_id"] == first["id"]

    follow = x_api.add_tweet("ann", "@acme order #4411", reply_to=x_api.posted[0]["id"])
    result = poll_once(ch, factory)
    assert result.new == 1 and result.error is None  # our own reply came back and was known
    with factory() as s:
        conv_ids = set(s.scalars(select(Message.conversation_id).where(
            Message.external_id.in_([first["id"], x_api.posted[0]["id"], follow["id"]]))))
        assert len(conv_ids) == 1
        conv = s.get(Conversation, conv_ids.pop())
        assert conv.awaiting_reply and conv.message_count == 3
    assert count(factory, Message, external_id=x_api.posted[0]["id"]) == 1


def test_x_rate_limit_pauses_the_account_until_the_reset(x_api, make_x, factory, make_account):
    make_account("acme-x", "x")
    x_api.exhaust("/2/users/{id}/mentions", reset_in=300)
    result = poll_once(make_x(), factory)
    assert result.error.startswith("rate_limited")
    with factory() as s:
        acc = s.scalar(select(Account).where(Account.name == "acme-x"))
        assert acc.rate_limited_until is not None
    assert poll_once(make_x(), factory).skipped.startswith("rate limited until")


def test_x_revoked_credentials_make_the_account_unhealthy(x_api, make_x, factory, make_account):
    make_account("acme-x", "x")
    ch = make_x(user_id=x_api.me["id"])
    x_api.bearer_token = "revoked"
    assert poll_once(ch, factory).error.startswith("auth_failed")
    with factory() as s:
        acc = s.scalar(select(Account).where(Account.name == "acme-x"))
        assert acc.health != "ok" and "401" in acc.last_error


@pytest.fixture
def reddit_thread(reddit_api, make_account, make_user):
    """The account in the database, an agent, and a post of the account's on Reddit."""
    make_account("acme-reddit", "reddit")
    return make_user(), reddit_api.add_submission(reddit_api.me, "acme", "Support megathread")


def test_reddit_inbox_to_conversations_and_a_markdown_reply(reddit_api, make_reddit, factory, reddit_thread):
    agent, post = reddit_thread
    c1 = reddit_api.add_comment("jane", post["name"], "my kettle leaks")
    reddit_api.add_comment("bob", post["name"], "app crashes on login")
    ch = make_reddit(subreddits=["acme"], keywords=["kettle"])
    result = poll_once(ch, factory)
    assert result.error is None and result.new == 2 and reddit_api.unread == set()
    with factory() as s:
        assert set(s.scalars(select(Conversation.thread_key))) == {post["name"]}

    queue(factory, agent, c1["name"], "Sorry Jane!\n\n* unplug it\n* [start a return](https://acme.example/r)")
    assert send_due({"acme-reddit": ch}, factory).sent == 1
    assert reddit_api.posted[0]["thing_id"] == c1["name"]
    follow = reddit_api.add_comment("jane", reddit_api.posted[0]["name"], "done, thanks")
    result = poll_once(ch, factory)
    assert result.new == 1 and result.error is None  # our reply came back (own, keyword watch) as known
    with factory() as s:
        msg = s.scalar(select(Message).where(Message.external_id == follow["name"]))
        ours = s.scalar(select(Message).where(Message.external_id == reddit_api.posted[0]["name"]))
        assert msg.conversation_id == ours.conversation_id and ours.direction == "out"
    assert count(factory, Message) == 4


def test_reddit_locked_thread_fails_the_reply_without_retrying(reddit_api, make_reddit, factory, reddit_thread):
    agent, post = reddit_thread
    c1 = reddit_api.add_comment("jane", post["name"], "hello?")
    ch = make_reddit()
    poll_once(ch, factory)
    reply_id = queue(factory, agent, c1["name"], "Hi!")
    reddit_api.lock_thread(post["name"])
    assert send_due({"acme-reddit": ch}, factory).failed == 1
    with factory() as s:
        reply = s.get(OutboundReply, reply_id)
        assert reply.state == "failed" and "locked" in reply.last_error

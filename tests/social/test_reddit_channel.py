"""The Reddit channel through praw, over HTTP, against the Reddit stand-in."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from inbox.channel import AuthFailed, RateLimited, Rejected, ReplyRequest, Transient


def drain(channel, cursors=None, commit=True):
    """One fetch as the runner does it: after each batch, its cursors are
    stored and its after-commit step runs."""
    cursors = dict(cursors or {})
    items = []
    for batch in channel.fetch(cursors):
        items += batch.items
        cursors.update(batch.cursors)
        if commit and batch.after_commit:
            batch.after_commit()
    return items, cursors


def reply(parent: str, text: str = "Sorry about that! **We're on it.**", **kw) -> ReplyRequest:
    return ReplyRequest(reply_id=1, idempotency_key="r1", account="acme-reddit", text=text,
                        parent_external_id=parent, **kw)


@pytest.fixture
def our_post(reddit_api):
    return reddit_api.add_submission(reddit_api.me, "acme", "Acme support megathread", "Ask us anything")


def test_mentions_and_replies_come_in_and_private_messages_stay_unread(reddit_api, make_reddit, our_post):
    reply_to_post = reddit_api.add_comment("jane", our_post["name"], "my kettle leaks")
    ours = reddit_api.add_comment(reddit_api.me, reply_to_post["name"], "Sorry Jane, which model?")
    reply_to_comment = reddit_api.add_comment("jane", ours["name"], "the K2")
    mention = reddit_api.add_mention("bob", "does the warranty cover this?")
    pm = reddit_api.add_message("carl", "refund", "please refund me")
    items, _ = drain(make_reddit(karma_lookups=0))
    by_id = {i.external_id: i for i in items}
    assert {i.extra.get("inbox_type") for i in items} == {"post_reply", "comment_reply", "username_mention"}
    assert set(by_id) == {reply_to_post["name"], reply_to_comment["name"], mention["name"]}
    assert reddit_api.unread == {pm["name"]}
    got = by_id[reply_to_comment["name"]]
    assert got.thread_key == our_post["name"] and got.parent_external_id == ours["name"]
    assert got.references == (our_post["name"],) and got.author_handle == "u/jane"
    assert got.permalink.endswith(f"/r/acme/comments/{our_post['id']}/acme_support_megathread/"
                                  f"{reply_to_comment['id']}/")


def test_inbox_entries_are_marked_read_only_after_they_are_stored(reddit_api, make_reddit, our_post):
    c = reddit_api.add_comment("jane", our_post["name"], "hello?")
    ch = make_reddit()
    gen = ch.fetch({})
    batch = next(gen)
    assert [i.external_id for i in batch.items] == [c["name"]]
    assert reddit_api.unread == {c["name"]}  # not yet: the worker has not stored it
    gen.close()  # the worker dies before storing
    items, _ = drain(ch)  # the next poll gets it again; ingest drops the duplicate
    assert [i.external_id for i in items] == [c["name"]]
    assert reddit_api.unread == set()
    marks = reddit_api.requests_to("POST", "/api/read_message")
    assert [m.form()["id"] for m in marks] == [c["name"]]
    assert drain(ch)[0] == []


def test_a_long_unread_inbox_pages_past_private_messages(reddit_api, make_reddit, our_post):
    names = []
    for i in range(230):
        if i % 50 == 0:
            reddit_api.add_message("spammer", "hi", f"message {i}")
        names.append(reddit_api.add_comment(f"user{i % 7}", our_post["name"], f"question {i}")["name"])
    items, _ = drain(make_reddit(karma_lookups=0))
    assert sorted(i.external_id for i in items) == sorted(names)
    assert len(reddit_api.unread) == 5  # the private messages


def test_keyword_watches_neither_skip_nor_repeat_across_restarts(reddit_api, make_reddit):
    post = reddit_api.add_submission("ann", "smarthome", "Which kettle should I buy?")
    old = reddit_api.add_comment("bob", post["name"], "the acme kettle is great")
    ch = make_reddit(subreddits=["smarthome"], keywords=["acme"], own_replies=False)
    items, cursors = drain(ch)
    assert [i.external_id for i in items] == [old["name"]]  # the post's title has no keyword
    assert set(cursors) == {"r/smarthome/comments", "r/smarthome/new"}
    hit = reddit_api.add_comment("cy", post["name"], "ACME support was quick for me")
    reddit_api.add_comment("dee", post["name"], "I use another brand")
    new_post = reddit_api.add_submission("eve", "smarthome", "Acme hub pairing fails")
    reddit_api.delete(old["name"])  # the cursor's item vanishing must not matter
    # A crash before storing: a new process starts from the old cursors and sees the same.
    for _ in range(2):
        items, later = drain(make_reddit(subreddits=["smarthome"], keywords=["acme"], own_replies=False), cursors)
        assert sorted(i.external_id for i in items) == sorted([hit["name"], new_post["name"]])
    assert drain(make_reddit(subreddits=["smarthome"], keywords=["acme"], own_replies=False), later)[0] == []


def test_our_replies_come_back_as_ours(reddit_api, make_reddit, our_post):
    c = reddit_api.add_comment("jane", our_post["name"], "hello?")
    ch = make_reddit()
    items, cursors = drain(ch)
    assert cursors["own"] == "t1_0"  # no comments of ours yet: everything after "nothing" is new
    sent = ch.send(reply(c["name"]))
    items, cursors = drain(ch, cursors)
    assert [(i.external_id, i.from_self, i.parent_external_id, i.thread_key) for i in items] == \
        [(sent.external_id, True, c["name"], our_post["name"])]


def test_the_reply_request_is_what_the_api_expects(reddit_api, make_reddit, our_post):
    c = reddit_api.add_comment("jane", our_post["name"], "hello?")
    text = "Hi Jane!\n\n* check the **fuse**\n* then [this guide](https://acme.example/fuse)"
    ref = make_reddit().send(reply(c["name"], text))
    form = reddit_api.requests_to("POST", "/api/comment")[-1].form()
    assert form == {"api_type": "json", "thing_id": c["name"], "text": text}  # Markdown as written
    assert ref.external_id == reddit_api.posted[-1]["name"] and ref.external_id.startswith("t1_")
    assert ref.permalink.endswith(f"{ref.external_id[3:]}/") and ref.created_at.tzinfo is not None
    ref = make_reddit().send(reply(our_post["name"], "Pinned: known issues"))
    assert reddit_api.posted[-1]["thing_id"] == our_post["name"]


@pytest.mark.parametrize("spoil,reason", [("lock_thread", "locked"), ("archive", "archived"),
                                          ("delete", "deleted")])
def test_locked_archived_or_deleted_targets_are_rejected_once(reddit_api, make_reddit, our_post, spoil, reason):
    c = reddit_api.add_comment("jane", our_post["name"], "hello?")
    getattr(reddit_api, spoil)(our_post["name"] if spoil != "delete" else c["name"])
    with pytest.raises(Rejected, match=reason):
        make_reddit().send(reply(c["name"]))
    assert len(reddit_api.requests_to("POST", "/api/comment")) == 1


def test_too_long_or_unreplyable_targets_are_rejected_before_sending(reddit_api, make_reddit):
    with pytest.raises(Rejected, match="10000"):
        make_reddit().send(reply("t1_abc", "x" * 10_001))
    with pytest.raises(Rejected, match="t4_"):
        make_reddit().send(reply("t4_abc"))
    assert reddit_api.requests_to("POST", "/api/comment") == []


def test_reddits_ratelimit_answer_to_a_reply_is_rate_limited(reddit_api, make_reddit, our_post):
    c = reddit_api.add_comment("jane", our_post["name"], "hello?")
    reddit_api.fail(200, path="/api/comment", body={"json": {"errors": [[
        "RATELIMIT", "Looks like you've been doing that a lot. Take a break for 5 minutes before trying again.",
        "ratelimit"]]}})
    with pytest.raises(RateLimited) as e:
        make_reddit().send(reply(c["name"]))
    assert timedelta(minutes=4) < e.value.reset_at - datetime.now(timezone.utc) <= timedelta(minutes=5)


def test_429_gives_the_reset_and_a_spent_budget_is_not_slept_through(reddit_api, make_reddit, our_post):
    reddit_api.fail(429, path="/message/unread", headers={"retry-after": "120"})
    with pytest.raises(RateLimited) as e:
        drain(make_reddit())
    assert timedelta(seconds=100) < e.value.reset_at - datetime.now(timezone.utc) <= timedelta(seconds=120)
    reddit_api.limit = reddit_api.window[0] + 1  # the next answer says: 0 left
    ch = make_reddit()
    t0 = time.monotonic()
    with pytest.raises(RateLimited):
        drain(ch)
    assert time.monotonic() - t0 < 2  # prawcore would have slept until the window's end


def test_a_revoked_token_is_renewed_but_a_changed_password_is_auth_failed(reddit_api, make_reddit, our_post):
    c = reddit_api.add_comment("jane", our_post["name"], "hello?")
    ch = make_reddit()
    drain(ch)
    reddit_api.revoke_tokens()
    ch.send(reply(c["name"]))  # praw logs in again by itself
    reddit_api.revoke_tokens()
    reddit_api.password = "changed-by-someone"
    with pytest.raises(AuthFailed, match="refused the login"):
        drain(ch)


def test_403_is_auth_failed(reddit_api, make_reddit):
    reddit_api.fail(403, path="/message/unread")
    with pytest.raises(AuthFailed, match="403"):
        drain(make_reddit())


def test_500_is_retried_by_prawcore_then_transient(reddit_api, make_reddit, our_post):
    c = reddit_api.add_comment("jane", our_post["name"], "hello?")
    reddit_api.fail(502, path="/message/unread")
    assert [i.external_id for i in drain(make_reddit())[0]] == [c["name"]]
    reddit_api.fail(500, path="/message/unread", times=3)
    with pytest.raises(Transient, match="500"):
        drain(make_reddit())


def test_a_reply_that_fails_mid_way_is_never_posted_twice(reddit_api, make_reddit, our_post):
    c = reddit_api.add_comment("jane", our_post["name"], "hello?")
    reddit_api.fail(503, path="/api/comment")
    with pytest.raises(Transient):
        make_reddit().send(reply(c["name"]))
    reddit_api.fail("timeout", path="/api/comment")
    with pytest.raises(Transient):
        make_reddit(timeout_seconds=0.5).send(reply(c["name"]))
    assert len(reddit_api.requests_to("POST", "/api/comment")) == 2  # prawcore did not repeat either


def test_timeouts_and_malformed_json_are_transient(reddit_api, make_reddit):
    reddit_api.fail("malformed", path="/message/unread")
    with pytest.raises(Transient, match="BadJSON"):
        drain(make_reddit())
    reddit_api.fail("timeout", path="/message/unread", times=3)
    with pytest.raises(Transient, match="Timeout"):
        drain(make_reddit(timeout_seconds=0.3))


def test_find_sent_is_sure_when_the_reply_is_not_there(reddit_api, make_reddit, our_post):
    c = reddit_api.add_comment("jane", our_post["name"], "hello?")
    ch = make_reddit()
    parent_at = datetime.fromtimestamp(c["created_utc"], timezone.utc)
    assert ch.find_sent(reply(c["name"], parent_created_at=parent_at)) is None
    sent = ch.send(reply(c["name"], "We fixed it.\n\nThanks!"))
    found = ch.find_sent(reply(c["name"], "We fixed it.\n\nThanks!", parent_created_at=parent_at))
    assert found.external_id == sent.external_id


def test_author_karma_is_the_reach_within_a_lookup_budget(reddit_api, make_reddit, our_post):
    reddit_api.user("famous", karma=250_000)
    reddit_api.add_comment("famous", our_post["name"], "this is broken")
    reddit_api.add_comment("nobody", our_post["name"], "me too")
    items, _ = drain(make_reddit())
    assert {i.author_name: i.author_reach for i in items} == {"famous": 250_000, "nobody": 120}
    reddit_api.requests.clear()
    reddit_api.add_comment("newbie", our_post["name"], "+1")
    reddit_api.add_comment("lurker", our_post["name"], "+1")
    items, _ = drain(make_reddit(karma_lookups=1))
    assert sorted(str(i.author_reach) for i in items) == ["120", "None"]
    assert len(reddit_api.requests_to("GET", "/about")) == 1


def test_doctor_checks_login_and_subreddits(reddit_api, make_reddit):
    reddit_api.add_submission("ann", "acme", "hi")
    ch = make_reddit(subreddits=["acme"])
    checks = ch.check()
    assert all(ok for ok, _ in checks) and "u/acme_support" in checks[0][1]
    reddit_api.password = "changed"
    reddit_api.revoke_tokens()
    ok, why = ch.check()[0]
    assert not ok and "invalid_grant" in why

"""The X channel through tweepy, over HTTP, against the X stand-in."""
from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest

from inbox.channel import AuthFailed, RateLimited, Rejected, ReplyRequest, Transient
from inbox.config import ConfigError
from tests.social.conftest import account


def drain(channel, cursors=None):
    """Run one fetch like the runner does: store cursors after each batch."""
    cursors = dict(cursors or {})
    items = []
    for batch in channel.fetch(cursors):
        items += batch.items
        cursors.update(batch.cursors)
    return items, cursors


def reply(parent: str, text: str = "Sorry about that! We're on it.", **kw) -> ReplyRequest:
    return ReplyRequest(reply_id=1, idempotency_key="r1", account="acme-x", text=text,
                        parent_external_id=parent, **kw)


def test_mentions_come_in_with_author_reach_and_language(x_api, make_x):
    x_api.user("bigfan")["public_metrics"]["followers_count"] = 250_000
    t = x_api.add_mention("bigfan", "my router & modem died <again>", lang="en")
    items, cursors = drain(make_x())
    assert [i.external_id for i in items] == [t["id"]]
    item = items[0]
    assert item.author_handle == "@bigfan" and item.author_reach == 250_000 and item.lang == "en"
    assert item.text == "@acme my router & modem died <again>" and not item.from_self
    assert item.permalink == f"https://x.com/bigfan/status/{t['id']}"
    assert item.thread_key == t["id"] and item.created_at.tzinfo == timezone.utc
    assert cursors["mentions"] == t["id"]
    assert int(cursors["own"]) > int(t["id"])  # own replies are read from now on, not backfilled
    # What tweepy asked for: the expansions and fields we rely on.
    q = x_api.requests_to("GET", r"/mentions$")[0].query
    assert set(q["expansions"].split(",")) >= {"author_id", "referenced_tweets.id"}
    assert set(q["tweet.fields"].split(",")) >= {"created_at", "conversation_id", "in_reply_to_user_id",
                                                 "referenced_tweets", "public_metrics", "lang"}
    assert "public_metrics" in q["user.fields"]


def test_pagination_fetches_every_page_and_the_cursor_moves_once_all_are_in(x_api, make_x):
    tweets = [x_api.add_mention(f"user{i % 9}", f"help {i}") for i in range(250)]
    ch = make_x()
    batches = list(ch.fetch({}))
    mention_batches = [b for b in batches if "mentions" in b.cursors]
    assert [len(b.items) for b in mention_batches] == [100, 100, 50]
    got = [i.external_id for b in mention_batches for i in b.items]
    assert sorted(got) == sorted(t["id"] for t in tweets) and len(set(got)) == 250
    # Until the last page is in, the cursor names the gap still to fetch, not a new since_id.
    assert mention_batches[0].cursors["mentions"].count(":") == 2
    assert mention_batches[-1].cursors["mentions"] == tweets[-1]["id"]
    pages = x_api.requests_to("GET", r"/mentions$")
    assert "pagination_token" not in pages[0].query and all("pagination_token" in p.query for p in pages[1:])


def test_a_restart_neither_skips_nor_repeats(x_api, make_x):
    first = [x_api.add_mention("ann", f"old {i}") for i in range(150)]
    ch = make_x()
    # The worker stores the first page and dies before the second.
    gen = ch.fetch({})
    page1 = next(gen)
    gen.close()
    stored = {i.external_id for i in page1.items}
    later = [x_api.add_mention("ann", f"new {i}") for i in range(30)]
    # A new process starts from the stored cursor: the rest of the gap, then the new ones next poll.
    items, cursors = drain(make_x(), page1.cursors)
    rest = {i.external_id for i in items}
    assert stored.isdisjoint(rest)
    assert stored | rest == {t["id"] for t in first}
    items, cursors = drain(make_x(), cursors)
    assert {i.external_id for i in items} == {t["id"] for t in later}
    assert x_api.requests_to("GET", r"/mentions$")[-1].query["since_id"] == first[-1]["id"]
    assert drain(make_x(), cursors)[0] == []


def test_search_watches_keep_their_own_cursors_and_leave_out_retweets(x_api, make_x):
    a = x_api.add_tweet("ann", "the Acme kettle leaks")
    x_api.add_tweet("rt", "", retweet_of=a["id"])
    b = x_api.add_tweet("bob", "loving #acmehelp today")
    x_api.add_tweet("cy", "unrelated")
    ch = make_x(search=["acme kettle", "#acmehelp"])
    items, cursors = drain(ch)
    by_source = {i.extra["source"]: i.external_id for i in items}
    assert by_source == {"search:acme kettle": a["id"], "search:#acmehelp": b["id"]}
    assert cursors["search:acme kettle"] == a["id"] and cursors["search:#acmehelp"] == b["id"]
    sent = [r.query["query"] for r in x_api.requests_to("GET", "search/recent")]
    assert sent == ["(acme kettle) -is:retweet", "(#acmehelp) -is:retweet"]


def test_retweets_of_mentions_are_left_out(x_api, make_x):
    m = x_api.add_mention("ann", "is the outage over?")
    x_api.add_tweet("echo", "", retweet_of=m["id"])
    assert [i.external_id for i in drain(make_x())[0]] == [m["id"]]


def test_a_conversation_groups_by_conversation_id_and_our_reply_comes_back_as_ours(x_api, make_x):
    ch = make_x()
    root = x_api.add_mention("ann", "my parcel is lost")
    items, cursors = drain(ch)
    sent = ch.send(reply(root["id"], "So sorry! Which order number?"))
    follow = x_api.add_tweet("ann", "@acme it's #4411", reply_to=sent.external_id)
    items, cursors = drain(ch, cursors)
    by_id = {i.external_id: i for i in items}
    ours, theirs = by_id[sent.external_id], by_id[follow["id"]]
    assert ours.from_self and ours.extra["source"] == "own"
    assert ours.parent_external_id == root["id"] and theirs.parent_external_id == sent.external_id
    assert ours.thread_key == theirs.thread_key == root["id"]
    assert theirs.references == (root["id"],)


def test_the_reply_request_is_what_the_api_expects(x_api, make_x):
    root = x_api.add_mention("ann", "hello?")
    ref = make_x().send(reply(root["id"], "Hi Ann & welcome"))
    post = x_api.posted[-1]
    assert post["request"] == {"text": "Hi Ann & welcome", "reply": {"in_reply_to_tweet_id": root["id"]}}
    assert post["auth"] == "user"  # OAuth 1.0a user context
    assert ref.external_id == post["id"] and ref.permalink == f"https://x.com/acme/status/{post['id']}"
    assert x_api.requests_to("POST", "/2/tweets$")[-1].headers["authorization"].startswith("OAuth ")


def test_posting_with_an_oauth2_user_token(x_api, make_x):
    root = x_api.add_mention("ann", "hello?")
    ch = make_x(consumer_key=None, consumer_secret=None, access_token=None, access_token_secret=None,
                oauth2_user_token=x_api.oauth2_user_token)
    ch.send(reply(root["id"]))
    assert x_api.requests_to("POST", "/2/tweets$")[-1].headers["authorization"] == \
        f"Bearer {x_api.oauth2_user_token}"
    drain(ch)  # reads still use the app's bearer token
    assert x_api.requests_to("GET", "/mentions$")[-1].headers["authorization"] == f"Bearer {x_api.bearer_token}"


def test_too_long_is_rejected_before_anything_is_sent(x_api, make_x):
    root = x_api.add_mention("ann", "hello?")
    with pytest.raises(Rejected, match="281 characters"):
        make_x().send(reply(root["id"], "a" * 257 + " https://example.com"))
    assert x_api.requests_to("POST", "/2/tweets$") == []


def test_a_deleted_parent_is_rejected_with_the_reason(x_api, make_x):
    root = x_api.add_mention("ann", "hello?")
    x_api.delete(root["id"])
    with pytest.raises(Rejected, match="deleted or not visible"):
        make_x().send(reply(root["id"]))


def test_find_sent_after_a_crash_and_a_duplicate_resend_returns_the_first_post(x_api, make_x):
    root = x_api.add_mention("ann", "hello?")
    ch = make_x()
    assert ch.find_sent(reply(root["id"])) is None  # certainly not posted
    first = ch.send(reply(root["id"], "We fixed it: https://status.acme.example/123"))
    found = ch.find_sent(reply(root["id"], "We fixed it: https://status.acme.example/123"))
    assert found.external_id == first.external_id
    again = ch.send(reply(root["id"], "We fixed it: https://status.acme.example/123"))
    assert again.external_id == first.external_id and len(x_api.posted) == 1


def test_429_gives_the_reset_time_and_later_calls_wait_without_asking(x_api, make_x):
    reset = int(time.time()) + 600
    x_api.fail(429, path="/mentions$", headers={"reset_in": "600"})
    x_api.add_mention("ann", "hi")
    found = x_api.add_tweet("bob", "acme kettle")
    ch = make_x(search=["acme kettle"])
    batches, error = [], None
    try:
        for b in ch.fetch({}):
            batches.append(b)
    except RateLimited as e:
        error = e
    assert error is not None and abs(error.reset_at.timestamp() - reset) <= 2
    # The search endpoint has its own window: it was still read.
    assert [i.external_id for b in batches for i in b.items] == [found["id"]]
    before = len(x_api.requests)
    with pytest.raises(RateLimited):
        list(ch.fetch({}))
    assert not x_api.requests_to("GET", "/mentions$")[1:], "no request while the window is spent"
    assert len(x_api.requests) > before  # search still asked


def test_remaining_zero_on_a_good_answer_is_honoured(x_api, make_x):
    x_api.add_mention("ann", "hi")
    ch = make_x(own_replies=False)
    x_api.limits["/2/users/{id}/mentions"] = [450, 1, int(time.time()) + 300]
    assert len(drain(ch)[0]) == 1  # this call spends the last one
    with pytest.raises(RateLimited) as e:
        drain(ch)
    assert e.value.reset_at > datetime.now(timezone.utc)


def test_401_marks_the_account_unhealthy_with_the_reason(x_api, make_x):
    ch = make_x(user_id=x_api.me["id"])
    x_api.bearer_token = "revoked-by-x"
    with pytest.raises(AuthFailed, match="401"):
        drain(ch)


def test_403_without_write_permission_is_an_auth_failure(x_api, make_x):
    root = x_api.add_mention("ann", "hi")
    x_api.fail(403, method="POST", body={"title": "Forbidden", "type": "about:blank", "status": 403,
                                          "detail": "Your client app is not configured with the "
                                                    "appropriate oauth1 app permissions for this endpoint."})
    with pytest.raises(AuthFailed, match="oauth1 app permissions"):
        make_x().send(reply(root["id"]))


def test_500_is_retried_with_backoff_then_transient(x_api, make_x):
    m = x_api.add_mention("ann", "hi")
    x_api.fail(500, path="/mentions$")
    assert [i.external_id for i in drain(make_x(own_replies=False))[0]] == [m["id"]]
    x_api.fail(503, path="/mentions$", times=2)
    with pytest.raises(Transient, match="503"):
        drain(make_x(own_replies=False))


def test_a_timeout_is_transient_and_quick(x_api, make_x):
    x_api.fail("timeout", path="/users/by/username")
    t0 = time.monotonic()
    with pytest.raises(Transient, match="did not answer"):
        drain(make_x(timeout_seconds=0.3, retries=0))
    assert time.monotonic() - t0 < 3


def test_a_post_that_times_out_is_not_retried_blindly(x_api, make_x):
    root = x_api.add_mention("ann", "hi")
    x_api.fail("timeout", method="POST")
    with pytest.raises(Transient):
        make_x(timeout_seconds=0.3).send(reply(root["id"]))
    assert len(x_api.requests_to("POST", "/2/tweets$")) == 1


def test_malformed_json_is_transient(x_api, make_x):
    x_api.fail("malformed", path="/mentions$", times=2)
    with pytest.raises(Transient, match="not JSON"):
        drain(make_x(own_replies=False))


def test_doctor_checks_reading_and_posting(x_api, make_x):
    assert all(ok for ok, _ in make_x().check())
    ch = make_x(consumer_key=None, consumer_secret=None, access_token=None, access_token_secret=None)
    checks = ch.check()
    assert checks[0][0] and not checks[1][0] and "posting credentials" in checks[1][1]


@pytest.mark.parametrize("raw,message", [
    ({"bearer_token": "t"}, "username"),
    ({"username": "acme"}, "bearer_token"),
    ({"username": "acme", "bearer_token": "t", "consumer_key": "k"}, "all four keys"),
])
def test_config_mistakes_stop_start_up_with_the_key_named(raw, message):
    from collectors.x import XChannel
    with pytest.raises(ConfigError, match=message):
        XChannel(account("x", XChannel.settings, raw))

"""The Reddit stand-in serves what PRAW's recordings show, failures included."""
from __future__ import annotations

import json
from pathlib import Path

import praw
import pytest
import requests

from tests.social.conftest import FIXTURES, recording


def recorded_children(name: str, i: int = 1) -> list[dict]:
    body = json.loads(recording("reddit", name)["interactions"][i]["response"]["body"]["string"])
    return body["data"]["children"]


def client(api) -> praw.Reddit:
    return praw.Reddit(client_id=api.client_id, client_secret=api.client_secret, username=api.me,
                       password=api.password, user_agent="replydesk-tests/1.0", oauth_url=api.url,
                       reddit_url=api.url, check_for_updates=False)


def keys_by_kind(children) -> dict[tuple, frozenset]:
    return {(c["kind"], c["data"].get("type")): frozenset(c["data"]) for c in children}


def test_inbox_entries_have_exactly_the_recorded_keys(reddit_api):
    post = reddit_api.add_submission(reddit_api.me, "acme", "Ask us anything")
    reddit_api.add_comment("jane", post["name"], "my kettle leaks")
    reddit_api.add_message("carl", "hello", "a private message")
    served = client(reddit_api).request(method="GET", path="message/unread/", params={"mark": "false"})
    recorded = keys_by_kind(recorded_children("TestInbox.test_unread.json"))
    for kind, keys in keys_by_kind(served["data"]["children"]).items():
        assert keys == recorded[kind], kind
    wrapper = json.loads(recording("reddit", "TestInbox.test_unread.json")["interactions"][1]["response"]["body"]
                         ["string"])
    assert set(served) == set(wrapper) and set(served["data"]) == set(wrapper["data"])


def test_listing_comments_and_submissions_keep_every_recorded_key(reddit_api):
    post = reddit_api.add_submission("ann", "kakapo", "Kakapo facts", "they are parrots")
    reddit_api.add_comment("bob", post["name"], "nice")
    r = client(reddit_api)
    comments = r.request(method="GET", path="r/kakapo/comments/")["data"]["children"]
    old = recorded_children("TestSubredditStreams.test_comments__with_pause.json")
    assert set(comments[0]["data"]) >= set(old[0]["data"])  # newer recordings only add keys
    posts = r.request(method="GET", path="r/kakapo/new/")["data"]["children"]
    old = recorded_children("TestSubredditListings.test_new.json")
    missing = set(old[0]["data"]) - set(posts[0]["data"])
    assert missing <= {"from", "from_id", "from_kind"}  # fields Reddit dropped since 2016


def test_reply_answer_has_the_recorded_keys_and_errors_are_reddit_lists(reddit_api):
    post = reddit_api.add_submission("ann", "acme", "Broken kettle")
    r = client(reddit_api)
    created = r.request(method="POST", path="api/comment/", data={"thing_id": post["name"], "text": "Sorry!"})
    recorded = json.loads(recording("reddit", "TestComment.test_reply.json")["interactions"][1]["response"]["body"]
                          ["string"])["json"]["data"]["things"][0]["data"]
    assert set(created["json"]["data"]["things"][0]["data"]) >= set(recorded)
    reddit_api.lock_thread(post["name"])
    with pytest.raises(praw.exceptions.RedditAPIException) as e:
        r.post("api/comment/", data={"thing_id": post["name"], "text": "Again"})
    assert e.value.items[0].error_type == "THREAD_LOCKED" and e.value.items[0].field == "parent"


def failing_interaction(path: Path) -> dict:
    cassette = json.loads(path.read_text())
    return next(i for i in reversed(cassette["interactions"]) if i["response"]["status"]["code"] != 200
                or "bad_json" in path.name or "invalid_username" in path.name)


@pytest.mark.parametrize("path", sorted((FIXTURES / "reddit" / "prawcore").glob("*.json")), ids=lambda p: p.stem)
def test_injected_failures_look_like_prawcores_recordings(reddit_api, path):
    rec = failing_interaction(path)["response"]
    status = rec["status"]["code"]
    headers = {k.lower(): v[0] for k, v in rec["headers"].items()}
    if "invalid_username" in path.name:
        got = requests.post(reddit_api.url + "/api/v1/access_token", timeout=5,
                            auth=(reddit_api.client_id, reddit_api.client_secret),
                            data={"grant_type": "password", "username": reddit_api.me, "password": "wrong"})
        assert got.status_code == 200 and set(got.json()) <= set(json.loads(rec["body"]["string"]))
        return
    reddit_api.fail("malformed" if "bad_json" in path.name else status, path="/api/v1/me")
    got = requests.get(reddit_api.url + "/api/v1/me", headers={"Authorization": f"bearer {token(reddit_api)}"},
                       timeout=5)
    assert got.status_code == status
    assert got.headers["content-type"].split(";")[0] == headers["content-type"].split(";")[0]
    for name in ("retry-after", "www-authenticate"):
        assert (name in got.headers) == (name in headers), name
    recorded_body = rec["body"]["string"]
    if status != 200 and recorded_body.startswith("{"):
        assert set(got.json()) <= set(json.loads(recorded_body)) | {"message"}
    elif status != 200 and not recorded_body.strip():
        assert got.content == b""
    if "bad_json" in path.name:  # cut short, just as recorded
        with pytest.raises(ValueError):
            json.loads(recorded_body)
        with pytest.raises(ValueError):
            got.json()


def token(api) -> str:
    return requests.post(api.url + "/api/v1/access_token", auth=(api.client_id, api.client_secret), timeout=5,
                         data={"grant_type": "password", "username": api.me, "password": api.password}
                         ).json()["access_token"]


def test_rate_limit_headers_and_the_429_when_the_budget_is_spent(reddit_api):
    reddit_api.limit = 3
    auth = {"Authorization": f"bearer {token(reddit_api)}"}
    got = [requests.get(reddit_api.url + "/api/v1/me", headers=auth, timeout=5) for _ in range(4)]
    assert [g.headers.get("x-ratelimit-remaining") for g in got[:3]] == ["2.0", "1.0", "0.0"]
    assert [g.headers.get("x-ratelimit-used") for g in got[:3]] == ["1", "2", "3"]
    assert 0 < int(got[0].headers["x-ratelimit-reset"]) <= 600
    assert got[3].status_code == 429 and 0 < int(got[3].headers["retry-after"]) <= 600


def test_after_an_item_that_left_the_listing_gives_nothing(reddit_api):
    post = reddit_api.add_submission(reddit_api.me, "acme", "Hi")
    first = reddit_api.add_comment("a", post["name"], "one")
    reddit_api.add_comment("b", post["name"], "two")
    r = client(reddit_api)
    r.post("api/read_message/", data={"id": first["name"]})
    listing = r.request(method="GET", path="message/unread/", params={"mark": "false", "after": first["name"]})
    assert listing["data"]["children"] == []

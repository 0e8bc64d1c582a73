"""The X stand-in answers like the recordings and holds both sides to the spec."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests

from collectors.standins import x_openapi
from tests.social.conftest import recording

RECORDED = ["test_client_get_users_mentions", "test_client_search_recent_tweets", "test_client_get_me",
            "test_client_create_and_delete_tweet", "test_client_get_users_tweets",
            "test_client_get_home_timeline"]


@pytest.mark.parametrize("name", RECORDED)
def test_recordings_are_valid_by_the_spec_with_wire_names(name):
    """The overlay (tweet names for post names) keeps the real payloads valid."""
    for rec in recording("x", f"{name}.decoded.json"):
        path = urlsplit(rec["uri"]).path
        assert x_openapi.check_response(rec["method"], path, rec["status"]["code"], "application/json",
                                        rec["response_body"]) == []


def get(api, path, token=None, **params):
    return requests.get(api.url + path, params=params, timeout=5,
                        headers={"Authorization": f"Bearer {token or api.bearer_token}"})


def keys(obj) -> frozenset[str]:
    return frozenset(obj)


def test_default_fields_match_the_recordings_key_for_key(x_api):
    for i in range(12):
        x_api.add_mention("jane", f"where is order {i}? Tweepy")
    mentions = get(x_api, f"/2/users/{x_api.me['id']}/mentions").json()
    rec = recording("x", "test_client_get_users_mentions.decoded.json")[0]["response_body"]
    assert keys(mentions) == keys(rec) == {"data", "meta"}
    assert {keys(t) for t in mentions["data"]} == {keys(t) for t in rec["data"]}
    assert keys(mentions["meta"]) == keys(rec["meta"])
    assert len(mentions["data"]) == 10  # the default page size, as recorded

    search = get(x_api, "/2/tweets/search/recent", query="Tweepy").json()
    rec = recording("x", "test_client_search_recent_tweets.decoded.json")[0]["response_body"]
    assert {keys(t) for t in search["data"]} == {keys(t) for t in rec["data"]}
    assert keys(search["meta"]) == keys(rec["meta"])

    me = requests.get(x_api.url + "/2/users/me", timeout=5,
                      headers={"Authorization": f"Bearer {x_api.oauth2_user_token}"}).json()
    rec = recording("x", "test_client_get_me.decoded.json")[0]["response_body"]
    assert keys(me["data"]) == keys(rec["data"])


def test_every_response_has_rate_limit_headers_and_a_spent_window_answers_429(x_api):
    r = get(x_api, f"/2/users/{x_api.me['id']}/mentions")
    assert int(r.headers["x-rate-limit-remaining"]) == int(r.headers["x-rate-limit-limit"]) - 1
    x_api.exhaust("/2/users/{id}/mentions", reset_in=120)
    r = get(x_api, f"/2/users/{x_api.me['id']}/mentions")
    assert r.status_code == 429 and r.headers["x-rate-limit-remaining"] == "0"
    assert int(r.headers["x-rate-limit-reset"]) >= int(x_api.clock()) + 119
    x_api.clock = lambda: 10 ** 10  # the window passes
    assert get(x_api, f"/2/users/{x_api.me['id']}/mentions").status_code == 200


def test_requests_that_break_the_spec_are_refused_and_recorded(x_api):
    r = get(x_api, f"/2/users/{x_api.me['id']}/mentions", since_id="yesterday", foo="1")
    assert r.status_code == 400
    assert any("since_id" in v for v in x_api.violations) and any("'foo'" in v for v in x_api.violations)
    r = requests.post(x_api.url + "/2/tweets", json={"text": "hi", "reply": {"in_reply_to_tweet_id": 5}},
                      headers={"Authorization": f"Bearer {x_api.oauth2_user_token}"}, timeout=5)
    assert r.status_code == 400 and any("body" in v for v in x_api.violations)
    x_api.violations.clear()  # seen; the fixture checks the rest of the test is clean


def test_credentials_are_checked(x_api):
    assert get(x_api, "/2/users/me", token="wrong").status_code == 401
    r = get(x_api, "/2/users/me")  # app-only bearer cannot act as a user
    assert r.status_code == 403 and "Application-Only" in r.json()["detail"]


@pytest.mark.parametrize("query,expected", [
    ("acme", {"a", "b", "c", "rt"}),
    ("acme -is:retweet", {"a", "b", "c"}),
    ('"acme cloud"', {"b"}),
    ("(kettle OR cloud) acme -is:retweet", {"b", "c"}),
    ("from:bob", {"b"}),
    ("acme -from:bob -is:retweet", {"a", "c"}),
    ("#AcmeHelp", {"c"}),
])
def test_search_understands_the_query_language_watches_use(x_api, query, expected):
    tweets = {"a": x_api.add_tweet("ann", "acme support is slow"),
              "b": x_api.add_tweet("bob", "Acme cloud is down again"),
              "c": x_api.add_tweet("cy", "my acme kettle leaks #AcmeHelp")}
    tweets["rt"] = x_api.add_tweet("dee", "", retweet_of=tweets["a"]["id"])
    found = {t["id"] for t in get(x_api, "/2/tweets/search/recent", query=query, max_results=100)
             .json().get("data", [])}
    assert found == {tweets[k]["id"] for k in expected}


def test_unknown_operators_are_refused_like_x_does(x_api):
    r = get(x_api, "/2/tweets/search/recent", query="acme bogus:op")
    assert r.status_code == 400 and "invalid operator" in r.json()["detail"]

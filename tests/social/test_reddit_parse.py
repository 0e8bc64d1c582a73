"""Pure Reddit parsing on PRAW's recorded payloads, no server."""
from __future__ import annotations

import json

from collectors.reddit_parse import id36, inbox_page, matches, thing_item, watch_page
from tests.social.conftest import recording

SITE = "https://www.reddit.com"


def body(name: str, i: int = 1):
    return json.loads(recording("reddit", name)["interactions"][i]["response"]["body"]["string"])


def test_unread_inbox_takes_replies_and_leaves_private_messages():
    payload = body("TestInbox.test_unread.json")
    page = inbox_page(payload, "<USERNAME>", SITE)
    kinds = {c["data"]["name"]: (c["kind"], c["data"].get("type")) for c in payload["data"]["children"]}
    assert {i.external_id for i in page.items} == {n for n, k in kinds.items() if k[0] == "t1"}
    assert set(page.skipped) == {n for n, k in kinds.items() if k[0] == "t4"}
    assert page.names == [c["data"]["name"] for c in payload["data"]["children"]]
    reply = next(i for i in page.items if i.external_id == "t1_myngt77")
    assert reply.thread_key == "t3_1j7g9uj"  # from `context`: inbox entries have no link_id
    assert reply.parent_external_id == "t1_mynfuan" and reply.references == ("t3_1j7g9uj",)
    assert reply.author_handle == "u/Lil_SpazTest" and reply.author_id == "t2_75u2lqkb"
    assert reply.subject == "Test post pls ignore" and reply.extra["inbox_type"] == "comment_reply"
    assert reply.permalink == SITE + "/r/Lil_SpazJoekp/comments/1j7g9uj/test_post_pls_ignore/myngt77/"
    assert reply.text == "Reply" and reply.created_at.year == 2025 and not reply.from_self
    post_reply = next(i for i in page.items if i.extra["inbox_type"] == "post_reply")
    assert post_reply.parent_external_id == post_reply.thread_key and post_reply.references == ()
    assert page.after == payload["data"]["after"]


def test_username_mentions_come_in():
    page = inbox_page(body("TestInbox.test_mentions.json"), "<USERNAME>", SITE)
    assert page.items and all(i.extra["inbox_type"] == "username_mention" for i in page.items)
    assert all(i.thread_key and i.thread_key.startswith("t3_") for i in page.items)


def test_a_subreddit_comment_listing_by_keyword_down_to_the_cursor():
    payload = body("TestSubredditStreams.test_comments__with_pause.json")
    children = payload["data"]["children"]
    everything, reached = watch_page(payload, "nobody", SITE, "r/kakapo/comments", -1, [])
    assert len(everything.items) == len(children) and not reached
    first = everything.items[0]
    assert first.thread_key == children[0]["data"]["link_id"] and first.subject == children[0]["data"]["link_title"]
    # Stop at the stored cursor: the fifth item and older were stored last time.
    cursor = children[4]["data"]["name"]
    newer, reached = watch_page(payload, "nobody", SITE, "r/kakapo/comments", id36(cursor), [])
    assert reached and [i.external_id for i in newer.items] == [c["data"]["name"] for c in children[:4]]
    word = children[0]["data"]["body"].split()[0]
    matched, _ = watch_page(payload, "nobody", SITE, "r/kakapo/comments", -1, [word])
    assert first.external_id in {i.external_id for i in matched.items}
    assert all(matches(i.text, [word]) for i in matched.items)


def test_submissions_are_their_own_thread():
    payload = body("TestSubredditListings.test_new.json")
    page, _ = watch_page(payload, "nobody", SITE, "r/askreddit/new", -1, [])
    data = payload["data"]["children"][0]["data"]
    item = page.items[0]
    assert item.external_id == data["name"] == item.thread_key and item.parent_external_id is None
    assert item.text.startswith(data["title"]) and item.subject == data["title"]
    assert item.permalink == SITE + data["permalink"]


def test_keywords_match_whole_words_and_phrases_in_any_case():
    assert matches("My ACME kettle leaks", ["acme kettle"])
    assert matches("anything at all", [])
    assert not matches("acmeville is lovely", ["acme"])
    assert matches("the #acme tag", ["acme"])


def test_ids_order_by_age_and_odd_things_do_not_break_parsing():
    assert id36("t1_k3yrfii") > id36("t1_d4y8bdp") > id36("t1_cx9lw9x")
    assert id36("garbage!") == -1
    assert thing_item({"kind": "t4", "data": {"id": "1"}}, "me", "inbox", SITE) is None
    odd = thing_item({"kind": "t1", "data": {"id": "abc", "body": None}}, "me", "inbox", SITE)
    assert odd.external_id == "t1_abc" and "no body" in odd.defects and "submission unknown" in odd.defects
    assert inbox_page("<html>", "me", SITE).items == []
    mine = thing_item({"kind": "t1", "data": {"id": "x", "author": "Acme_Support", "body": "hi",
                                              "link_id": "t3_a", "parent_id": "t3_a", "created_utc": 1}},
                      "acme_support", "own", SITE)
    assert mine.from_self

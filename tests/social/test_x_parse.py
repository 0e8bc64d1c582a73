"""Pure X parsing: recorded payloads and spec-shaped expansions, no server."""
from __future__ import annotations

import json

from collectors.x_parse import (
    StreamCursor, parse_page, same_reply_text, strip_leading_mentions, too_long, weighted_length,
)
from tests.social.conftest import recording


def recorded_body(name: str) -> dict:
    return recording("x", f"{name}.decoded.json")[0]["response_body"]


def test_recorded_mentions_page_is_read_whole_and_flagged_for_missing_fields():
    body = recorded_body("test_client_get_users_mentions")
    page = parse_page(body, own_user_id="783214", source="mentions")
    assert [i.external_id for i in page.items] == [t["id"] for t in body["data"]]
    assert page.next_token == body["meta"]["next_token"]
    assert page.newest_id == "1578516295611748353" and page.oldest_id == "1578516107798884353"
    first = page.items[0]
    assert first.text.startswith("@Twitter @TwitterSupport this is my ENTIRE feed")
    assert first.new_text.startswith("this is my ENTIRE feed")
    # Default fields only: stored anyway, with what was missing said.
    assert "no author_id" in first.defects and "no or unreadable created_at" in first.defects
    assert first.created_at.tzinfo is not None


def test_recorded_timeline_drops_retweets_and_unescapes_html():
    body = recorded_body("test_client_get_home_timeline")
    retweets = [t for t in body["data"] if t["text"].startswith("RT @")]
    assert retweets, "the recording has retweets"
    # The recording has default fields only, so mark retweets the way X does with expansions.
    for t in retweets:
        t["referenced_tweets"] = [{"type": "retweeted", "id": "1"}]
    page = parse_page(body, None, "home")
    assert page.skipped == len(retweets)
    assert len(page.items) == len(body["data"]) - len(retweets)
    texts = " ".join(i.text for i in page.items)
    assert "&amp;" not in texts and "So @alanbenlee @snowman & I are testing" in texts


def spec_shaped_page(own="100") -> dict:
    """A mentions page with expansions, shaped by the OpenAPI document."""
    return {
        "data": [
            {"id": "1003", "text": "@acme @bob still broken &gt;:(", "author_id": "200", "conversation_id": "1001",
             "created_at": "2026-11-02T09:03:00.000Z", "in_reply_to_user_id": own, "lang": "en",
             "edit_history_tweet_ids": ["1003"],
             "referenced_tweets": [{"type": "replied_to", "id": "1002"}]},
            {"id": "1002", "text": "@bob sorry! DM us", "author_id": own, "conversation_id": "1001",
             "created_at": "2026-11-02T09:02:00.000Z", "lang": "en", "edit_history_tweet_ids": ["1002"],
             "referenced_tweets": [{"type": "replied_to", "id": "1001"}]},
            {"id": "1004", "text": "cut at 280…", "author_id": "200", "conversation_id": "1004",
             "created_at": "2026-11-02T09:04:00.000Z", "lang": "de", "edit_history_tweet_ids": ["1004"],
             "note_tweet": {"text": "the whole long post " * 20}},
        ],
        "includes": {
            "users": [
                {"id": "200", "name": "Bob", "username": "bob",
                 "public_metrics": {"followers_count": 48210, "following_count": 1, "tweet_count": 9,
                                    "listed_count": 0}},
                {"id": own, "name": "Acme", "username": "acme"},
            ],
            "tweets": [{"id": "1002", "text": "@bob sorry! DM us", "author_id": own}],
        },
        "meta": {"result_count": 3, "newest_id": "1004", "oldest_id": "1002"},
    }


def test_expansions_give_author_reach_thread_parent_and_own_messages():
    page = parse_page(spec_shaped_page(), own_user_id="100", source="mentions")
    reply, ours, long_post = page.items
    assert reply.author_handle == "@bob" and reply.author_name == "Bob" and reply.author_reach == 48210
    assert reply.thread_key == ours.thread_key == "1001"  # grouped by conversation_id
    assert reply.parent_external_id == "1002" and reply.references == ("1001",)
    assert reply.text == "@acme @bob still broken >:(" and reply.new_text == "still broken >:("
    assert reply.permalink == "https://x.com/bob/status/1003"
    assert reply.extra["referenced"][0] == {"type": "replied_to", "id": "1002", "text": "@bob sorry! DM us",
                                            "author_id": "100", "author_handle": "@acme"}
    assert ours.from_self and not reply.from_self
    assert ours.references == ()  # its parent is the root itself
    assert long_post.text.startswith("the whole long post") and len(long_post.text) > 280
    assert long_post.lang == "de" and long_post.defects == []
    assert ours.lang == "en"
    raw = json.loads(reply.raw)  # raw stands alone: the tweet and what it refers to
    assert raw["data"]["id"] == "1003" and {u["id"] for u in raw["includes"]["users"]} == {"200", "100"}


def test_odd_payloads_never_raise_and_never_vanish_silently():
    assert parse_page("<html>", None, "mentions").note
    page = parse_page({"data": [{"text": "no id"}, "junk", {"id": "5"}]}, None, "search:acme")
    assert [i.external_id for i in page.items] == ["5"]
    assert "2 tweet(s) without an id" in page.note
    assert page.items[0].defects  # stored as best it can be, flagged
    assert parse_page({"meta": {"result_count": 0}}, None, "mentions").items == []


def test_weighted_length_counts_urls_23_and_emoji_cjk_2():
    assert weighted_length("hello") == 5
    assert weighted_length("see https://example.com/a/very/long/path/that/is/long") == 4 + 23
    assert weighted_length("😀") == 2 and weighted_length("日本") == 4
    assert too_long("x" * 280) is None
    assert "281 characters" in too_long("x" * 281)
    assert "284 characters" in too_long("日" * 142)


def test_reply_text_matches_through_what_x_does_to_it():
    assert same_reply_text("@bob Sorry &amp; thanks https://t.co/abc", "Sorry & thanks https://acme.example/x")
    assert not same_reply_text("@bob Sorry", "Sorry, again")
    assert strip_leading_mentions("@a @b_c  hi @d") == "hi @d"


def test_stream_cursor_records_the_gap_of_an_unfinished_catch_up():
    c = StreamCursor.decode("100")
    first = c.after_page("900", "700", more=True)
    assert first.encode() == "100:700:900"
    assert StreamCursor.decode(first.encode()) == first
    second = first.after_page("690", "500", more=True)
    assert second.encode() == "100:500:900"  # newest stays the first page's
    assert second.after_page("490", "150", more=False).encode() == "900"
    assert StreamCursor().after_page(None, None, more=False).encode() == ""
    assert StreamCursor.decode("100:500:900").after_page(None, None, more=False).encode() == "900"
    assert StreamCursor.decode("garbage") == StreamCursor()


def test_xs_no_language_codes_are_no_language():
    page = spec_shaped_page()
    for tweet, code in zip(page["data"], ["und", "qme", "pt-BR"]):
        tweet["lang"] = code
    assert [i.lang for i in parse_page(page, "100", "mentions").items] == [None, None, "pt-BR"]

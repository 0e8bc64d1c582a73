"""X API v2 payloads -> InboundItems.

Pure functions only (no tweepy, no I/O), so everything here is tested on
recorded payloads without a server. X's weighted length lives in
`inbox.reply_rules` (the inbox refuses an over-long reply before queueing
it); the channel checks again before posting.
"""
from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from inbox.channel import InboundItem
from inbox.reply_rules import weighted_length

MAX_LENGTH = 280
PUBLIC_SITE = "https://x.com"
SNOWFLAKE_EPOCH_MS = 1288834974657

# What fetch asks for: enough to thread (conversation_id, referenced_tweets,
# in_reply_to_user_id), to rank (author followers) and to show (created_at, lang).
TWEET_FIELDS = ["author_id", "conversation_id", "created_at", "in_reply_to_user_id",
                "lang", "public_metrics", "referenced_tweets", "entities", "note_tweet"]
USER_FIELDS = ["name", "username", "public_metrics", "verified", "protected"]
EXPANSIONS = ["author_id", "referenced_tweets.id", "referenced_tweets.id.author_id"]

_LEADING_MENTIONS = re.compile(r"^(?:\s*@\w{1,15})+\s*")
# X's own "languages" that say there is none: undetermined, no text, and
# q-codes (qme media only, qht hashtags only, qam mentions only, ...).
NO_LANGUAGE = re.compile(r"^(und|zxx|q[a-z]{2})$")
_URL = re.compile(r"https?://\S+")
_SPACE = re.compile(r"\s+")


def too_long(text: str, limit: int = MAX_LENGTH) -> str | None:
    """The reason `text` cannot be posted on X, or None."""
    n = weighted_length(text)
    if n > limit:
        return f"The reply is {n} characters as X counts them (links count 23, emoji 2); the limit is {limit}."
    return None


def snowflake(at: datetime) -> str:
    """The smallest tweet id X could give a tweet made at `at` (ids encode
    their creation time), usable as a since_id meaning "from now on"."""
    return str((int(at.timestamp() * 1000) - SNOWFLAKE_EPOCH_MS) << 22)


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)
    except ValueError:
        return None


def strip_leading_mentions(text: str) -> str:
    """A reply's text starts with the handles X fills in; what was said follows."""
    return _LEADING_MENTIONS.sub("", text, count=1)


def same_reply_text(posted: str, wanted: str) -> bool:
    """Whether a tweet X shows us is the reply we asked for: X escapes
    &<>, wraps links in t.co and may put the handles in front."""
    def norm(t: str) -> str:
        t = strip_leading_mentions(html.unescape(t))
        return _SPACE.sub(" ", _URL.sub("<url>", t)).strip()
    return norm(posted) == norm(wanted)


def permalink(username: str | None, tweet_id: str) -> str:
    return f"{PUBLIC_SITE}/{username or 'i/web'}/status/{tweet_id}"


def referenced(tweet: dict[str, Any], kind: str) -> str | None:
    for ref in tweet.get("referenced_tweets") or ():
        if isinstance(ref, dict) and ref.get("type") == kind:
            return str(ref.get("id"))
    return None


def is_retweet(tweet: dict[str, Any]) -> bool:
    return referenced(tweet, "retweeted") is not None


@dataclass(slots=True)
class Page:
    items: list[InboundItem]
    newest_id: str | None
    oldest_id: str | None
    next_token: str | None
    skipped: int = 0  # retweets left out
    note: str | None = None


def parse_page(payload: Any, own_user_id: str | None, source: str) -> Page:
    """One page of a tweets timeline or search (`{"data", "includes", "meta"}`).

    Never raises on odd input: a tweet that cannot be read fully is still
    returned with `defects`; one without an id cannot be stored and is
    counted in `note` instead of vanishing.
    """
    if not isinstance(payload, dict):
        return Page([], None, None, None, note=f"{source}: response was not a JSON object")
    meta = payload.get("meta") if isinstance(payload.get("meta"), dict) else {}
    includes = payload.get("includes") if isinstance(payload.get("includes"), dict) else {}
    users = {u.get("id"): u for u in includes.get("users") or () if isinstance(u, dict)}
    tweets = {t.get("id"): t for t in includes.get("tweets") or () if isinstance(t, dict)}
    data = payload.get("data") or []
    items: list[InboundItem] = []
    skipped = unreadable = 0
    for tweet in data if isinstance(data, list) else []:
        if not isinstance(tweet, dict) or not tweet.get("id"):
            unreadable += 1
            continue
        if is_retweet(tweet):
            skipped += 1
            continue
        items.append(tweet_item(tweet, users, tweets, own_user_id, source))
    note = f"{source}: {unreadable} tweet(s) without an id could not be stored" if unreadable else None
    return Page(items, _str(meta.get("newest_id")), _str(meta.get("oldest_id")),
                _str(meta.get("next_token")), skipped, note)


def tweet_item(tweet: dict[str, Any], users: dict[str, dict], tweets: dict[str, dict],
               own_user_id: str | None, source: str) -> InboundItem:
    defects: list[str] = []
    tweet_id = str(tweet["id"])
    author_id = _str(tweet.get("author_id"))
    if author_id is None:
        defects.append("no author_id")
    author = users.get(author_id) or {}
    if author_id and not author:
        defects.append("author not in includes")
    created_at = parse_time(tweet.get("created_at"))
    if created_at is None:
        defects.append("no or unreadable created_at")
        created_at = datetime.now(timezone.utc)
    # Long posts keep their full text in note_tweet; `text` is cut at 280.
    note = tweet.get("note_tweet")
    raw_text = note.get("text") if isinstance(note, dict) and note.get("text") else tweet.get("text")
    if not isinstance(raw_text, str):
        defects.append("no text")
        raw_text = ""
    text = html.unescape(raw_text)
    parent = referenced(tweet, "replied_to")
    conversation = _str(tweet.get("conversation_id")) or tweet_id
    refs = []
    for ref in tweet.get("referenced_tweets") or ():
        if not isinstance(ref, dict):
            continue
        other = tweets.get(ref.get("id")) or {}
        other_author = users.get(other.get("author_id")) or {}
        refs.append({"type": ref.get("type"), "id": _str(ref.get("id")),
                     "text": html.unescape(other.get("text") or ""),
                     "author_id": _str(other.get("author_id")),
                     "author_handle": _handle(other_author)})
    metrics = author.get("public_metrics") if isinstance(author.get("public_metrics"), dict) else {}
    followers = metrics.get("followers_count")
    extra: dict[str, Any] = {"source": source, "conversation_id": conversation}
    if tweet.get("in_reply_to_user_id"):
        extra["in_reply_to_user_id"] = str(tweet["in_reply_to_user_id"])
    if refs:
        extra["referenced"] = refs
    new_text = strip_leading_mentions(text)
    return InboundItem(
        external_id=tweet_id,
        created_at=created_at,
        text=text,
        new_text=new_text if new_text != text else None,
        author_id=author_id or "",
        author_handle=_handle(author),
        author_name=author.get("name") or "",
        author_reach=followers if isinstance(followers, int) else None,
        thread_key=conversation,
        parent_external_id=parent,
        # The conversation root lets a reply join a thread whose middle we never saw.
        references=(conversation,) if conversation not in (tweet_id, parent) else (),
        permalink=permalink(author.get("username"), tweet_id),
        lang=_lang(tweet.get("lang")),
        from_self=bool(own_user_id) and author_id == own_user_id,
        defects=defects,
        extra=extra,
        raw=json.dumps({"data": tweet, "includes": _includes_for(tweet, author, refs, users, tweets)},
                       ensure_ascii=False),
    )


def _includes_for(tweet, author, refs, users, tweets) -> dict[str, list]:
    """The part of the page's `includes` this tweet needs, so `raw` stands alone."""
    ref_tweets = [tweets[r["id"]] for r in refs if r["id"] in tweets]
    ids = {tweet.get("author_id")} | {t.get("author_id") for t in ref_tweets}
    out: dict[str, list] = {"users": [users[i] for i in ids if i in users]}
    if ref_tweets:
        out["tweets"] = ref_tweets
    return out


def _lang(code: Any) -> str | None:
    return code if isinstance(code, str) and code and not NO_LANGUAGE.match(code) else None


def _handle(user: dict[str, Any]) -> str:
    return f"@{user['username']}" if user.get("username") else ""


def _str(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


# --- cursors ---------------------------------------------------------------
# A stream's cursor is the newest tweet id stored ("since"). While a long
# catch-up is paged newest-to-oldest, the pages already stored cover
# (until, newest]; the cursor then records the gap still to fetch as
# "since:until:newest" so a restart fetches exactly the gap, then moves on.

@dataclass(slots=True, frozen=True)
class StreamCursor:
    since: str | None = None
    until: str | None = None  # set while a gap (since, until) remains
    newest: str | None = None

    @classmethod
    def decode(cls, value: str | None) -> "StreamCursor":
        if not value:
            return cls()
        parts = value.split(":")
        if len(parts) == 3 and all(p.isdigit() or p == "" for p in parts) and parts[1] and parts[2]:
            return cls(parts[0] or None, parts[1], parts[2])
        if value.isdigit():
            return cls(value)
        return cls()  # unreadable: start over (ingest is idempotent)

    def encode(self) -> str:
        if self.until:
            return f"{self.since or ''}:{self.until}:{self.newest}"
        return self.since or ""

    def after_page(self, newest_id: str | None, oldest_id: str | None, more: bool) -> "StreamCursor":
        """The cursor once this page is stored. `more`: X has older pages
        between this page and `since`."""
        newest = self.newest or newest_id
        if more and oldest_id:
            return StreamCursor(self.since, oldest_id, newest)
        return StreamCursor(newest or self.since)

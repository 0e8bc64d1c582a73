"""Reddit channel: inbox mentions and replies plus subreddit keyword watches
in; Markdown replies to the exact comment or submission out.

Talks to Reddit through praw (script-app login). Listings are read as JSON
with `Reddit.request` so the pure parser (reddit_parse) sees what Reddit
sent; replies go through praw's `reply`, which turns Reddit's error lists
into exceptions. praw's and prawcore's exceptions become `inbox.channel`
errors in `_call`. praw's session is ours (collectors/http.py): it carries
the timeout, keeps prawcore from re-posting a reply on its own, and lets us
read the `x-ratelimit-*` headers so a spent budget is reported instead of
slept through.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import praw
import prawcore
from praw.exceptions import RedditAPIException

from inbox.channel import AuthFailed, Batch, RateLimited, Rejected, ReplyRequest, SentRef, Transient
from inbox.config import AccountConfig, Setting

from .base import Channel
from .http import session
from .reddit_parse import MAX_LENGTH, id36, inbox_page, watch_page

PAGE = 100
MAX_PAGES = 10  # Reddit lists about 1,000 items back, no further
INBOX_PAGES = 100  # marking read shortens the unread listing, so the inbox can go past 1,000
REJECTIONS = {"THREAD_LOCKED": "the thread is locked", "TOO_OLD": "the thread is archived",
              "DELETED_COMMENT": "the comment was deleted", "DELETED_LINK": "the post was deleted"}


class RedditChannel(Channel):
    kind = "reddit"
    title = "Reddit"
    example_name = "acme-reddit"
    max_length = MAX_LENGTH
    default_poll_seconds = 60.0
    settings = [
        Setting("client_id", str, None, "Client id of the account's Reddit \"script\" app.", required=True,
                example="abcDEF123"),
        Setting("client_secret", str, None, "Secret of that app.", required=True, secret=True,
                example="change-me"),
        Setting("username", str, None, "The Reddit account, without u/.", required=True, example="acme_support"),
        Setting("password", str, None, "The account's password (script apps log in with it).", required=True,
                secret=True, example="change-me"),
        Setting("user_agent", str, "replydesk:customer-care-inbox:v0.1",
                "User-Agent sent to Reddit; Reddit asks for <platform>:<app>:<version> (by u/<you>)."),
        Setting("subreddits", "list[str]", [], "Subreddits watched for new posts and comments (names without r/).",
                example=["acme"]),
        Setting("keywords", "list[str]", [],
                "Words or phrases that bring a watched subreddit's posts and comments in; "
                "empty: everything in the watched subreddits.", example=["acme", "acme kettle"]),
        Setting("oauth_url", str, "https://oauth.reddit.com", "Reddit API base URL (a gateway or a local stand-in)."),
        Setting("reddit_url", str, "https://www.reddit.com", "Reddit base URL for logging in and for links."),
        Setting("poll_seconds", float, 60.0, "How often the inbox and the watched subreddits are read."),
        Setting("timeout_seconds", float, 16.0, "How long to wait for Reddit before a request counts as failed."),
        Setting("own_replies", bool, True,
                "Also read the account's own recent comments, so answers written on Reddit itself count."),
        Setting("karma_lookups", int, 25,
                "How many new authors per poll get their karma looked up (it raises urgency); 0 turns it off."),
    ]

    def __init__(self, account: AccountConfig):
        super().__init__(account)
        c = self.config
        self.me: str = c["username"]
        self.site = c["reddit_url"].rstrip("/")
        self.session = session(c["timeout_seconds"], once=("/api/comment",))
        self.session.hooks["response"].append(self._note_limits)
        self.reddit = praw.Reddit(
            client_id=c["client_id"], client_secret=c["client_secret"], username=c["username"],
            password=c["password"], user_agent=c["user_agent"], oauth_url=c["oauth_url"],
            reddit_url=c["reddit_url"], check_for_updates=False,
            ratelimit_seconds=0,  # a RATELIMIT answer comes back to us, never slept through
            requestor_kwargs={"session": self.session})
        self._spent_until: datetime | None = None
        self._karma: dict[str, int | None] = {}
        self._karma_budget = 0  # lookups left in this poll

    # --- the edge ----------------------------------------------------------
    def _note_limits(self, response, *args: Any, **kwargs: Any) -> None:
        remaining, reset = response.headers.get("x-ratelimit-remaining"), response.headers.get("x-ratelimit-reset")
        if remaining is not None and reset is not None:
            spent = float(remaining) < 1
            self._spent_until = datetime.now(timezone.utc) + timedelta(seconds=int(reset)) if spent else None

    def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self._spent_until and self._spent_until > datetime.now(timezone.utc):
            # prawcore would sleep until the window resets; the worker waits instead.
            raise RateLimited(f"Reddit request budget used up until {self._spent_until:%H:%M:%S} UTC",
                              self._spent_until)
        try:
            return fn(*args, **kwargs)
        except prawcore.TooManyRequests as e:
            raise _too_many(e.response) from None
        except prawcore.OAuthException as e:
            raise AuthFailed(f"Reddit refused the login of u/{self.me} ({e.error}). Check username, password, "
                             "client_id and client_secret, and that the app is a \"script\" app.") from None
        except (prawcore.InvalidToken, prawcore.Forbidden, prawcore.InsufficientScope) as e:
            raise AuthFailed(f"Reddit refused account u/{self.me} ({e.response.status_code} "
                             f"{_www_authenticate(e.response)}). Check the app's credentials and the "
                             "account.") from None
        except prawcore.NotFound:
            raise Rejected("Reddit has no such thing (404): deleted, private or banned") from None
        except (prawcore.ServerError, prawcore.RequestException, prawcore.BadJSON) as e:
            raise Transient(f"Reddit did not answer properly ({_describe(e)}); will retry") from None
        except prawcore.ResponseException as e:
            status = e.response.status_code
            if status == 429:  # the token endpoint's 429 comes as a plain ResponseException
                raise _too_many(e.response) from None
            if status == 401:
                raise AuthFailed(f"Reddit refused the app's credentials (401) for u/{self.me}: check client_id "
                                 "and client_secret") from None
            if status >= 500:
                raise Transient(f"Reddit answered {status}; will retry") from None
            raise Rejected(f"Reddit refused the request ({status})") from None
        except RedditAPIException as e:
            for item in e.items:
                if item.error_type == "RATELIMIT":
                    wait = _ratelimit_seconds(item.message) or 60
                    raise RateLimited(f"Reddit: {item.message}",
                                      datetime.now(timezone.utc) + timedelta(seconds=wait)) from None
            raise Rejected("Reddit refused it: " + "; ".join(
                f"{REJECTIONS.get(i.error_type, i.error_type)} ({i.message})" for i in e.items)) from None

    def _get(self, path: str, **params: Any) -> Any:
        return self._call(self.reddit.request, method="GET", path=path,
                          params={k: v for k, v in params.items() if v is not None})

    # --- fetch -------------------------------------------------------------
    def fetch(self, cursors: dict[str, str]) -> Iterator[Batch]:
        self._karma_budget = self.config["karma_lookups"]
        yield from self._inbox()
        watches = [("own", f"user/{self.me}/comments/", [])] if self.config["own_replies"] else []
        for sub in self.config["subreddits"]:
            sub = sub.removeprefix("r/")
            watches += [(f"r/{sub}/comments", f"r/{sub}/comments/", self.config["keywords"]),
                        (f"r/{sub}/new", f"r/{sub}/new/", self.config["keywords"])]
        for key, path, keywords in watches:
            batch = self._watch(key, path, cursors.get(key), keywords)
            if batch is not None:
                yield batch

    def _inbox(self) -> Iterator[Batch]:
        """Unread mentions and replies, a page at a time, each page marked read
        once stored. Paging goes on after the last entry that stays unread
        (messages, or entries a failed mark left), because Reddit answers
        nothing after an entry that left the unread listing."""
        anchor, yielded = None, set()
        for _ in range(INBOX_PAGES):
            page = inbox_page(self._get("message/unread/", mark="false", limit=PAGE, after=anchor), self.me,
                              self.site)
            fresh = [i for i in page.items if i.external_id not in yielded]
            stays = [n for n in page.names if n in page.skipped or n in yielded]
            if fresh:
                self._add_karma(fresh)
                names = [i.external_id for i in fresh]
                yielded.update(names)
                note = f"inbox: {page.unreadable} entries could not be read" if page.unreadable else None
                yield Batch(items=fresh, note=note, after_commit=lambda names=names: self._mark_read(names))
            if not page.after and not fresh:
                return
            if stays:
                anchor = stays[-1]
            elif not fresh:
                return

    def _mark_read(self, names: list[str]) -> None:
        for i in range(0, len(names), 25):
            self._call(self.reddit.post, "api/read_message/", data={"id": ",".join(names[i:i + 25])})

    def _watch(self, key: str, path: str, value: str | None, keywords: list[str]) -> Batch | None:
        """New items of one listing since its cursor (the newest fullname seen).
        Reddit ids grow with time, so "newer" is a comparison of ids, which
        holds even when the cursor's item has since been deleted. Without a
        cursor only the first page is read (a new watch does not backfill),
        and for the account's own comments only the cursor is set."""
        since = id36(value) if value else None
        items, newest, after, reached = [], None, None, False
        for pages in range(1, MAX_PAGES + 1):
            page, reached = watch_page(self._get(path, limit=PAGE, after=after), self.me, self.site, key,
                                       since if since is not None else -1, keywords)
            newest = newest or (page.names[0] if page.names else None)
            items += page.items
            after = page.after
            if reached or not after or since is None:
                break
        note = None
        if since is not None and not reached and after:
            note = f"{key}: more than {MAX_PAGES * PAGE} new items since the last poll; older ones are out of reach"
        if key == "own" and value is None:
            # The account's history before Replydesk is not ours to import; with
            # none yet, "t1_0" makes everything after it new.
            items, newest = [], newest or "t1_0"
        self._add_karma(items)
        if not items and not note and (newest is None or newest == value):
            return None
        return Batch(items=items, cursors={key: newest} if newest else {}, note=note)

    def _add_karma(self, items: list) -> None:
        for item in items:
            name = item.author_name
            if item.from_self or name == "[deleted]":
                continue
            if name not in self._karma:
                if self._karma_budget <= 0:
                    continue
                self._karma_budget -= 1
                try:
                    about = self._get(f"user/{name}/about/").get("data", {})
                    self._karma[name] = about.get("total_karma", (about.get("link_karma") or 0)
                                                  + (about.get("comment_karma") or 0))
                except (Rejected, Transient):  # suspended users have no page; the item comes in anyway
                    self._karma[name] = None
            item.author_reach = self._karma[name]

    # --- reply -------------------------------------------------------------
    def send(self, reply: ReplyRequest) -> SentRef:
        target = reply.parent_external_id or ""
        kind, _, thing_id = target.partition("_")
        if kind not in ("t1", "t3") or not thing_id:
            raise Rejected(f"Cannot reply on Reddit to {target!r}: only comments (t1_) and posts (t3_)")
        if len(reply.text) > MAX_LENGTH:
            raise Rejected(f"The reply is {len(reply.text)} characters; Reddit takes at most {MAX_LENGTH}.")
        thing = self.reddit.comment(thing_id) if kind == "t1" else self.reddit.submission(thing_id)
        comment = self._call(thing.reply, reply.text)
        if comment is None:  # Reddit made it but did not say (e.g. quarantined subreddits)
            found = self.find_sent(reply)
            if found:
                return found
            raise Transient("Reddit took the reply but returned no comment; it is looked for before any retry")
        data = vars(comment)  # what Reddit sent; reading attributes could make praw fetch more
        path = data.get("permalink") or f"/comments/{str(data.get('link_id', ''))[3:]}/_/{comment.id}/"
        created = data.get("created_utc")
        return SentRef(external_id=comment.fullname, permalink=self.site + path,
                       created_at=datetime.fromtimestamp(created, timezone.utc) if created else None)

    def find_sent(self, reply: ReplyRequest) -> SentRef | None:
        """Look through the account's newest comments for this reply. A reply
        is newer than its parent, so once the listing is older than the
        parent (or ends) it is certainly not there."""
        parent, after = reply.parent_external_id, None
        oldest_possible = reply.parent_created_at.timestamp() if reply.parent_created_at else None
        for _ in range(MAX_PAGES):
            children = (self._get(f"user/{self.me}/comments/", limit=PAGE, after=after).get("data") or {})
            for child in children.get("children") or ():
                data = child.get("data") or {}
                if data.get("parent_id") == parent and _same(data.get("body", ""), reply.text):
                    return SentRef(external_id=data["name"], permalink=self.site + data.get("permalink", ""),
                                   extra={"found_after_crash": True})
                if oldest_possible and float(data.get("created_utc") or 0) < oldest_possible:
                    return None
            after = children.get("after")
            if not after:
                return None
        raise Transient("Could not look far enough back in the account's comments to be sure")

    # --- doctor ------------------------------------------------------------
    def check(self) -> list[tuple[bool, str]]:
        try:
            me = self._call(self.reddit.user.me, use_cache=False)  # doctor asks Reddit, not a cache
        except (AuthFailed, Rejected, Transient, RateLimited) as e:
            return [(False, f"Logging in to Reddit at {self.config['oauth_url']} failed: {e}")]
        out = [(True, f"Logged in to Reddit at {self.config['oauth_url']} as u/{me}")]
        for sub in self.config["subreddits"]:
            try:
                self._get(f"r/{sub.removeprefix('r/')}/new/", limit=1)
                out.append((True, f"r/{sub} can be read"))
            except (Rejected, AuthFailed, Transient) as e:
                out.append((False, f"r/{sub} cannot be read: {e}"))
        return out

    def close(self) -> None:
        self.session.close()


def _too_many(response) -> RateLimited:
    wait = _seconds(response.headers.get("retry-after")) or _seconds(response.headers.get("x-ratelimit-reset")) or 60
    return RateLimited(f"Reddit answered 429 Too Many Requests; waiting {wait:g} s",
                       datetime.now(timezone.utc) + timedelta(seconds=wait))


def _same(posted: str, wanted: str) -> bool:
    return " ".join(posted.split()) == " ".join(wanted.split())


def _seconds(value: Any) -> float | None:
    try:
        return max(1.0, float(value))
    except (TypeError, ValueError):
        return None


def _ratelimit_seconds(message: str | None) -> int | None:
    m = re.search(r"(\d+) (minute|second|millisecond)", message or "")
    if not m:
        return None
    n = int(m.group(1))
    return n * 60 if m.group(2) == "minute" else n if m.group(2) == "second" else 1


def _www_authenticate(response) -> str:
    header = response.headers.get("www-authenticate", "")
    m = re.search(r'error="([^"]+)"', header)
    return m.group(1) if m else "forbidden"


def _describe(e: Exception) -> str:
    original = getattr(e, "original_exception", None)
    if original is not None:
        return f"{type(original).__name__}: {original}"
    response = getattr(e, "response", None)
    return f"{response.status_code} {type(e).__name__}" if response is not None else type(e).__name__

"""X (Twitter) channel: mentions and search watches in, replies in-thread out.

Talks to the X API v2 through tweepy's `Client`. tweepy fixes the API host
and sets no timeout, so the client's `requests` session is replaced by one
(collectors/http.py) that sends every request to `api_url` (the official
host, an API gateway, or the local stand-in) with our timeout. tweepy is asked for raw
`requests.Response`s so the `x-rate-limit-*` headers can be read; its
exceptions become `inbox.channel` errors in `_call`, nowhere else.
"""
from __future__ import annotations

import html
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

import requests
import tweepy

from inbox.channel import (
    AuthFailed, Batch, ChannelError, RateLimited, Rejected, ReplyRequest, SentRef, Transient,
)
from inbox.config import AccountConfig, ConfigError, Setting

from .base import Channel
from .http import session
from .x_parse import (
    EXPANSIONS, MAX_LENGTH, TWEET_FIELDS, USER_FIELDS, StreamCursor, parse_page, permalink, referenced,
    same_reply_text, snowflake, too_long,
)

TWEEPY_HOST = "https://api.twitter.com"  # where tweepy sends everything
OAUTH1_KEYS = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")
# 403 answers to a reply that are about the reply, not the credentials.
REJECTED_403 = ("duplicate content", "deleted or not visible", "not allowed because", "too long",
                "reply to this conversation")


class XChannel(Channel):
    kind = "x"
    title = "X"
    example_name = "acme-x"
    max_length = MAX_LENGTH
    default_poll_seconds = 60.0
    retry_backoff = 1.0  # seconds before the first quick retry of a failed read; doubles
    settings = [
        Setting("username", str, "", "The account's handle, without @. Give this or user_id.", example="acme"),
        Setting("user_id", str, "", "The account's numeric user id (saves a lookup at start-up)."),
        Setting("bearer_token", str, None, "App bearer token, used to read mentions and searches.", secret=True),
        Setting("consumer_key", str, None, "OAuth 1.0a consumer (API) key, to post replies.", secret=True),
        Setting("consumer_secret", str, None, "OAuth 1.0a consumer (API) secret.", secret=True),
        Setting("access_token", str, None, "OAuth 1.0a access token of the account.", secret=True),
        Setting("access_token_secret", str, None, "OAuth 1.0a access token secret.", secret=True),
        Setting("oauth2_user_token", str, None,
                "OAuth 2.0 user access token (scopes tweet.read tweet.write users.read): posts replies "
                "when the four OAuth 1.0a keys are not given, and reads when bearer_token is not.", secret=True),
        Setting("search", "list[str]", [],
                "Search queries watched besides mentions: brand names, hashtags, product names "
                "(X search syntax; retweets are left out).", example=['"Acme Cloud"', "#acmehelp"]),
        Setting("api_url", str, TWEEPY_HOST,
                "Base URL of the X API. Set it for an API gateway or a local stand-in."),
        Setting("poll_seconds", float, 60.0, "How often mentions and searches are fetched."),
        Setting("timeout_seconds", float, 30.0, "How long to wait for X before a request counts as failed."),
        Setting("retries", int, 2, "Quick retries of a read that failed with a 5xx or a timeout "
                                   "(then the poll stops and the worker tries again later)."),
        Setting("own_replies", bool, True,
                "Also read the account's own recent replies, so answers posted on X itself count."),
    ]

    def __init__(self, account: AccountConfig):
        super().__init__(account)
        c = self.config
        where = f"account {self.name!r} (kind x)"
        if not (c["username"] or c["user_id"]):
            raise ConfigError(f"{where}: set \"username\" (the handle) or \"user_id\"")
        oauth1 = all(c.get(k) for k in OAUTH1_KEYS)
        if any(c.get(k) for k in OAUTH1_KEYS) and not oauth1:
            raise ConfigError(f"{where}: OAuth 1.0a needs all four keys: {', '.join(OAUTH1_KEYS)}")
        read_token = c["bearer_token"] or c["oauth2_user_token"]
        if not (read_token or oauth1):
            raise ConfigError(f"{where}: set \"bearer_token\" (or the OAuth 1.0a keys / \"oauth2_user_token\")")
        self.session = session(c["timeout_seconds"], rewrite=(TWEEPY_HOST, c["api_url"]))
        keys = {k: c[k] for k in OAUTH1_KEYS} if oauth1 else {}
        self._reader = self._client(read_token, keys)
        self._read_user = not read_token  # OAuth 1.0a reads when there is no token
        self._writer: tweepy.Client | None = None
        if oauth1:
            self._writer, self._write_user = self._reader, True
        elif c["oauth2_user_token"]:
            self._writer, self._write_user = self._client(c["oauth2_user_token"], {}), False
        self._user_id: str | None = c["user_id"] or None
        self._handle: str | None = c["username"] or None
        self._spent: dict[str, datetime] = {}  # route -> when its rate-limit window resets

    def _client(self, bearer: str | None, keys: dict[str, str]) -> tweepy.Client:
        client = tweepy.Client(bearer_token=bearer, **keys, return_type=requests.Response)
        client.session = self.session
        return client

    # --- the edge: tweepy and requests errors -> ours --------------------
    def _call(self, route: str, fn: Callable[..., requests.Response], *args: Any,
              retry: bool = True, **params: Any) -> dict[str, Any]:
        reset_at = self._spent.get(route)
        if reset_at and reset_at > datetime.now(timezone.utc):
            raise RateLimited(f"X rate limit for {route} is used up until {reset_at:%H:%M:%S} UTC", reset_at)
        params = {k: v for k, v in params.items() if v is not None}
        attempts = 1 + (max(0, self.config["retries"]) if retry else 0)
        for attempt in range(attempts):
            try:
                response = fn(*args, **params)
                self._note_limits(route, response.headers)
                try:
                    body = response.json()
                except ValueError:
                    raise Transient(f"X answered {route} with something that is not JSON") from None
                return body if isinstance(body, dict) else {}
            except tweepy.TooManyRequests as e:
                self._note_limits(route, e.response.headers, force=True)
                raise RateLimited(f"X rate limit reached for {route}; waiting until "
                                  f"{self._spent[route]:%H:%M:%S} UTC", self._spent[route]) from None
            except tweepy.Unauthorized as e:
                raise AuthFailed(f"X refused the credentials of account {self.name!r} (401 {_reason(e)}). "
                                 "Check the tokens and keys in the config.") from None
            except tweepy.Forbidden as e:
                reason = _reason(e)
                if any(p in reason.lower() for p in REJECTED_403):
                    raise Rejected(f"X refused the reply: {reason}") from None
                raise AuthFailed(f"X forbids this for account {self.name!r} (403 {reason}). Check the app's "
                                 "permissions (read and write) and project access.") from None
            except (tweepy.BadRequest, tweepy.NotFound) as e:
                raise Rejected(f"X refused the request to {route}: {_reason(e)}") from None
            except tweepy.HTTPException as e:  # 5xx and other unexpected statuses
                error: ChannelError = Transient(f"X answered {e.response.status_code} to {route}; will retry")
            except requests.Timeout:
                error = Transient(f"X did not answer {route} within {self.config['timeout_seconds']:g} s")
            except requests.ConnectionError as e:
                error = Transient(f"Could not reach X at {self.config['api_url']}: {type(e).__name__}")
            except Transient as e:
                error = e
            if attempt + 1 < attempts:
                time.sleep(self.retry_backoff * 2 ** attempt)
        raise error

    def _note_limits(self, route: str, headers: Any, force: bool = False) -> None:
        remaining, reset = headers.get("x-rate-limit-remaining"), headers.get("x-rate-limit-reset")
        if force or remaining == "0":
            when = int(reset) if reset and reset.isdigit() else int(time.time()) + 60
            self._spent[route] = datetime.fromtimestamp(when, timezone.utc)
        elif remaining is not None:
            self._spent.pop(route, None)

    # --- who we are ------------------------------------------------------
    def _own_id(self) -> str:
        if self._user_id is None:
            body = self._call("/2/users/by/username/{username}", self._reader.get_user,
                              username=self._handle, user_auth=self._read_user)
            if not (body.get("data") or {}).get("id"):
                raise AuthFailed(f"X has no user @{self._handle} (account {self.name!r}): check \"username\"")
            self._user_id = str(body["data"]["id"])
        return self._user_id

    # --- fetch -----------------------------------------------------------
    def fetch(self, cursors: dict[str, str]) -> Iterator[Batch]:
        uid = self._own_id()
        streams: list[tuple[str, str, Callable[..., requests.Response], tuple]] = [
            ("mentions", "/2/users/{id}/mentions", self._reader.get_users_mentions, (uid,))]
        if self.config["own_replies"]:
            streams.append(("own", "/2/users/{id}/tweets", self._reader.get_users_tweets, (uid,)))
        for query in self.config["search"]:
            q = query if "is:retweet" in query else f"({query}) -is:retweet"
            streams.append((f"search:{query}", "/2/tweets/search/recent", self._reader.search_recent_tweets, (q,)))
        limited: RateLimited | None = None
        for key, route, fn, args in streams:
            try:
                yield from self._stream(key, route, fn, args, uid, cursors.get(key))
            except RateLimited as e:  # other endpoints have their own windows: go on with them
                limited = limited or e
            except Rejected as e:  # a query X refuses must not stop the other watches
                yield Batch(note=f"{key}: {e}")
        if limited:
            raise limited

    def _stream(self, key: str, route: str, fn: Callable[..., requests.Response], args: tuple,
                uid: str, value: str | None) -> Iterator[Batch]:
        cursor = StreamCursor.decode(value)
        if key == "own" and cursor.since is None:
            # Start now: the account's history before Replydesk is not ours to import.
            yield Batch(cursors={key: snowflake(datetime.now(timezone.utc))})
            return
        since, until = cursor.since, cursor.until  # fixed for this run: next_token belongs to them
        token = None
        extra = {"exclude": ["retweets"]} if key == "own" else {}
        # Recent search names its page token next_token; the timelines pagination_token.
        token_name = "next_token" if route.startswith("/2/tweets/search") else "pagination_token"
        while True:
            try:
                body = self._call(route, fn, *args, since_id=since, until_id=until, **{token_name: token},
                                  max_results=100, expansions=EXPANSIONS, tweet_fields=TWEET_FIELDS,
                                  user_fields=USER_FIELDS, user_auth=self._read_user, **extra)
            except Rejected as e:
                # Recent search refuses a since_id older than its 7 days: start the watch afresh.
                if "since_id" not in str(e) or not since or token:
                    raise
                cursor, since, until = StreamCursor(), None, None
                continue
            page = parse_page(body, uid, key)
            items = [i for i in page.items if i.parent_external_id] if key == "own" else page.items
            more = page.next_token is not None
            before, cursor = cursor, cursor.after_page(page.newest_id, page.oldest_id, more)
            if items or page.note or cursor != before:
                yield Batch(items=items, cursors={key: cursor.encode()} if cursor.encode() else {},
                            note=page.note)
            if not more:
                return
            token = page.next_token

    # --- reply -----------------------------------------------------------
    def send(self, reply: ReplyRequest) -> SentRef:
        if self._writer is None:
            raise AuthFailed(f"Account {self.name!r} has no posting credentials: set the four OAuth 1.0a keys "
                             "or oauth2_user_token")
        if not reply.parent_external_id:
            raise Rejected("An X reply needs the tweet it answers")
        reason = too_long(reply.text)
        if reason:
            raise Rejected(reason)
        try:
            # Never retried here: a timeout may have posted it; find_sent decides.
            body = self._call("/2/tweets", self._writer.create_tweet, text=reply.text,
                              in_reply_to_tweet_id=reply.parent_external_id, user_auth=self._write_user,
                              retry=False)
        except Rejected as e:
            if "duplicate" in str(e).lower():  # an earlier attempt of ours may have got through
                found = self.find_sent(reply)
                if found:
                    return found
            raise
        data = body.get("data") or {}
        if not data.get("id"):
            raise Transient("X accepted the reply but sent no id back; it will be looked for before a retry")
        return SentRef(external_id=str(data["id"]), permalink=permalink(self._handle, str(data["id"])),
                       created_at=datetime.now(timezone.utc), extra={"text": html.unescape(data.get("text", ""))})

    def find_sent(self, reply: ReplyRequest) -> SentRef | None:
        """Our replies to the parent are newer than it, so reading the account's
        tweets since the parent's id sees every one there can be."""
        parent = reply.parent_external_id
        if not parent:
            return None
        uid, token = self._own_id(), None
        while True:
            body = self._call("/2/users/{id}/tweets", self._reader.get_users_tweets, uid, since_id=parent,
                              max_results=100, pagination_token=token, exclude=["retweets"],
                              tweet_fields=["referenced_tweets", "created_at", "conversation_id"],
                              user_auth=self._read_user)
            for tweet in body.get("data") or ():
                if referenced(tweet, "replied_to") == parent and same_reply_text(tweet.get("text", ""), reply.text):
                    return SentRef(external_id=str(tweet["id"]), permalink=permalink(self._handle, str(tweet["id"])),
                                   extra={"found_after_crash": True})
            token = (body.get("meta") or {}).get("next_token")
            if not token:
                return None

    # --- doctor ----------------------------------------------------------
    def check(self) -> list[tuple[bool, str]]:
        try:
            uid = self._own_id()
        except ChannelError as e:
            return [(False, f"Reading from X at {self.config['api_url']} failed: {e}")]
        out = [(True, f"X API at {self.config['api_url']} answers; account user id {uid}")]
        if self._writer is None:
            return out + [(False, "No posting credentials: replies cannot be sent (set the four OAuth 1.0a "
                                  "keys or oauth2_user_token)")]
        try:
            me = self._call("/2/users/me", self._writer.get_me, user_auth=self._write_user).get("data") or {}
        except ChannelError as e:
            return out + [(False, f"Posting credentials refused: {e}")]
        if str(me.get("id")) != uid:
            return out + [(False, f"The posting credentials belong to @{me.get('username')}, not to user {uid}")]
        return out + [(True, f"Posting credentials work (as @{me.get('username')})")]

    def close(self) -> None:
        self.session.close()


def _reason(e: tweepy.HTTPException) -> str:
    return "; ".join(map(str, e.api_messages)) or getattr(e.response, "reason", "") or "no reason given"

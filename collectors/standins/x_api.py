"""A local stand-in for the X API v2: the endpoints Replydesk uses.

Users, tweets and the account's own posts live in memory; tests and
`replydesk demo` add mentions with `add_mention` and read what was posted
from `posted`. Payloads are shaped like the recordings in
tests/fixtures/x (default fields only unless `tweet.fields`/`user.fields`
ask for more, text HTML-escaped, `meta` with newest/oldest ids and
`next_token`) and, with `validate=True`, every request received and every
response sent is checked against the OpenAPI document (x_openapi.py);
what fails lands in `violations` and the request gets a 400.

Every response carries `x-rate-limit-*` headers from a per-endpoint window;
a spent window answers 429 until it resets. Faults: see ApiServer.fail.

Start it from the command line to poke at it: `python -m collectors.standins.x_api`.
"""
from __future__ import annotations

import bisect
import html
import re
from datetime import datetime, timezone
from typing import Any

from collectors.x_parse import snowflake
from inbox.reply_rules import weighted_length
from . import x_openapi, x_search
from .api_server import ApiServer, Fault, Reply, Request

PROBLEM = "application/problem+json"
DEFAULT_TWEET = ("id", "text", "edit_history_tweet_ids")
DEFAULT_USER = ("id", "name", "username")
LIMITS = {"/2/tweets/search/recent": 450, "/2/users/{id}/mentions": 450, "/2/users/{id}/tweets": 1500,
          "/2/tweets": 100, "/2/users/me": 75, "/2/users/by/username/{username}": 300}


class XApi(ApiServer):
    def __init__(self, *, username: str = "acme", name: str = "Acme Support", followers: int = 1200,
                 bearer_token: str = "test-bearer-token", consumer_key: str = "test-consumer-key",
                 consumer_secret: str = "test-consumer-secret", access_token: str = "test-access-token",
                 access_token_secret: str = "test-access-secret", oauth2_user_token: str = "test-oauth2-user",
                 validate: bool = True, window_seconds: int = 900, seed: int = 0, fault_rate: float = 0.0):
        super().__init__(seed=seed, fault_rate=fault_rate)
        self.bearer_token, self.oauth2_user_token = bearer_token, oauth2_user_token
        self.consumer_key, self.consumer_secret = consumer_key, consumer_secret
        self.access_token, self.access_token_secret = access_token, access_token_secret
        self.validate = validate
        self.violations: list[str] = []
        self.window_seconds = window_seconds
        self.limits: dict[str, list[int]] = {}  # route -> [limit, remaining, reset epoch]
        self.users: dict[str, dict[str, Any]] = {}
        self.tweets: dict[str, dict[str, Any]] = {}
        self.deleted: set[str] = set()
        self.posted: list[dict[str, Any]] = []  # what POST /2/tweets created, with the request
        self._ids: list[int] = []  # tweet ids, ascending
        self._last_id = 0
        self.me = self.add_user(username, name, followers)
        for method, pattern, handler in [
            ("GET", "/2/users/me", self._get_me),
            ("GET", "/2/users/by/username/{username}", self._get_user_by_name),
            ("GET", "/2/users/{id}", self._get_user),
            ("GET", "/2/users/{id}/mentions", self._mentions),
            ("GET", "/2/users/{id}/tweets", self._user_tweets),
            ("GET", "/2/tweets/search/recent", self._search),
            ("GET", "/2/tweets/{id}", self._get_tweet),
            ("POST", "/2/tweets", self._create),
        ]:
            self.route(method, pattern, handler)

    # --- admin: what tests and the demo use ------------------------------
    def add_user(self, username: str, name: str | None = None, followers: int = 0) -> dict[str, Any]:
        with self.lock:
            uid = str(10_000_000 + len(self.users) * 7919)
            user = {"id": uid, "name": name or username.capitalize(), "username": username,
                    "created_at": "2015-03-01T09:00:00.000Z", "protected": False, "verified": False,
                    "description": "",
                    "public_metrics": {"followers_count": followers, "following_count": 150, "tweet_count": 0,
                                       "listed_count": 3, "like_count": 40, "media_count": 2}}
            self.users[uid] = user
            return user

    def user(self, username: str) -> dict[str, Any]:
        """The user with this handle, made on first use."""
        with self.lock:
            for u in self.users.values():
                if u["username"].lower() == username.lower():
                    return u
            return self.add_user(username)

    def add_tweet(self, author: str, text: str, *, reply_to: str | None = None, quote: str | None = None,
                  retweet_of: str | None = None, lang: str = "en",
                  created_at: datetime | None = None) -> dict[str, Any]:
        with self.lock:
            user = self.user(author)
            when = created_at or datetime.fromtimestamp(self.clock(), timezone.utc)
            self._last_id = tid = max(self._last_id + 1, int(snowflake(when)))
            tweet: dict[str, Any] = {
                "id": str(tid), "text": text, "author_id": user["id"], "conversation_id": str(tid),
                "created_at": when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z",
                "lang": lang, "edit_history_tweet_ids": [str(tid)], "reply_settings": "everyone",
                "public_metrics": {"retweet_count": 0, "reply_count": 0, "like_count": 0, "quote_count": 0,
                                   "bookmark_count": 0, "impression_count": 0}}
            refs = []
            if reply_to:
                parent = self.tweets[reply_to]
                parent_author = self.users[parent["author_id"]]["username"]
                if not text.lower().startswith(f"@{parent_author.lower()}"):
                    # X puts the handle of the person answered in front of a reply's text.
                    tweet["text"] = f"@{parent_author} {text}"
                tweet["conversation_id"] = parent["conversation_id"]
                tweet["in_reply_to_user_id"] = parent["author_id"]
                refs.append({"type": "replied_to", "id": reply_to})
            if quote:
                refs.append({"type": "quoted", "id": quote})
            if retweet_of:
                original = self.tweets[retweet_of]
                tweet["text"] = f"RT @{self.users[original['author_id']]['username']}: {original['text']}"
                refs = [{"type": "retweeted", "id": retweet_of}]
            if refs:
                tweet["referenced_tweets"] = refs
            if weighted_length(tweet["text"]) > 280:  # a long post: `text` is cut, note_tweet has it all
                tweet["note_tweet"] = {"text": tweet["text"]}
                tweet["text"] = tweet["text"][:270] + "…"
            user["public_metrics"]["tweet_count"] += 1
            self.tweets[tweet["id"]] = tweet
            self._ids.append(tid)
            return tweet

    def add_mention(self, author: str, text: str, **kw: Any) -> dict[str, Any]:
        """A tweet by `author` that mentions the account (its handle is put in front if missing)."""
        handle = f"@{self.me['username']}"
        if handle.lower() not in text.lower():
            text = f"{handle} {text}"
        return self.add_tweet(author, text, **kw)

    def delete(self, tweet_id: str) -> None:
        with self.lock:
            self.deleted.add(tweet_id)

    def exhaust(self, route: str, reset_in: int = 60) -> None:
        """Spend the rate-limit window of `route` (a pattern such as "/2/users/{id}/mentions")."""
        with self.lock:
            self.limits[route] = [LIMITS.get(route, 300), 0, int(self.clock()) + reset_in]

    # --- request cycle hooks ---------------------------------------------
    def before(self, req: Request) -> Reply | None:
        if self.validate:
            body = req.json() if req.body else None
            problems = x_openapi.check_request(req.method, req.path, req.query, body)
            if problems:
                with self.lock:
                    self.violations.extend(problems)
                return _problem(400, "invalid-request", "Invalid Request", "; ".join(problems))
        req.state["auth"] = auth = self._auth(req)
        if auth is None:
            return Reply(401, _blank(401, "Unauthorized"), content_type=PROBLEM)
        if req.route in ("/2/tweets", "/2/users/me") and auth == "app":
            return Reply(403, _blank(403, "Unsupported Authentication",
                                     "Authenticating with OAuth 2.0 Application-Only is forbidden for this "
                                     "endpoint. Supported authentication types are [OAuth 1.0a User Context, "
                                     "OAuth 2.0 User Context]."), content_type=PROBLEM)
        if req.route and self._spend(req.route) is False:
            return Reply(429, _blank(429, "Too Many Requests"), content_type=PROBLEM)
        return None

    def fault_reply(self, req: Request, fault: Fault) -> Reply:
        status = int(fault.kind)
        if fault.body is not None:
            return Reply(status, fault.body, dict(fault.headers))
        if status == 429 and req.route:
            with self.lock:
                limit = self.limits.setdefault(req.route, [LIMITS.get(req.route, 300), 0, 0])
                limit[1], limit[2] = 0, int(self.clock()) + int(fault.headers.get("reset_in", 60))
        if status >= 500:
            body = {"type": "https://api.x.com/2/problems/internal-error", "title": "Internal Server Error",
                    "detail": "Something went wrong. Please try again later.", "status": status}
        else:
            body = _blank(status, {401: "Unauthorized", 403: "Forbidden", 429: "Too Many Requests"}.get(
                status, "Error"))
        return Reply(status, body, content_type=PROBLEM)

    def after(self, req: Request, reply: Reply) -> Reply:
        with self.lock:
            limit = self.limits.get(req.route or "")
            if limit:
                reply.headers.update({"x-rate-limit-limit": str(limit[0]), "x-rate-limit-remaining": str(limit[1]),
                                      "x-rate-limit-reset": str(limit[2])})
        if self.validate and isinstance(reply.body, (dict, list)):
            problems = x_openapi.check_response(req.method, req.path, reply.status, reply.content_type,
                                                reply.body)
            if problems:
                with self.lock:
                    self.violations.extend(problems)
        return reply

    def _auth(self, req: Request) -> str | None:
        """"app", "user" or None (refused)."""
        header = req.headers.get("authorization", "")
        if header.startswith("Bearer "):
            token = header[7:]
            return "app" if token == self.bearer_token else "user" if token == self.oauth2_user_token else None
        if header.startswith("OAuth "):
            fields = dict(re.findall(r'(\w+)="([^"]*)"', header))
            ok = fields.get("oauth_consumer_key") == self.consumer_key and \
                fields.get("oauth_token") == self.access_token and fields.get("oauth_signature")
            return "user" if ok else None
        return None

    def _spend(self, route: str) -> bool:
        now = int(self.clock())
        with self.lock:
            limit = self.limits.get(route)
            if limit is None or now >= limit[2]:
                cap = LIMITS.get(route, 300)
                limit = self.limits[route] = [cap, cap, now + self.window_seconds]
            if limit[1] <= 0:
                return False
            limit[1] -= 1
            return True

    # --- endpoints ---------------------------------------------------------
    def _get_me(self, req: Request) -> Reply:
        return Reply(200, {"data": _fields(self.me, req.query.get("user.fields"), DEFAULT_USER)})

    def _get_user_by_name(self, req: Request) -> Reply:
        name = req.params["username"]
        found = [u for u in self.users.values() if u["username"].lower() == name.lower()]
        if not found:
            return Reply(200, {"errors": [_not_found("user", "username", name)]})
        return Reply(200, {"data": _fields(found[0], req.query.get("user.fields"), DEFAULT_USER)})

    def _get_user(self, req: Request) -> Reply:
        user = self.users.get(req.params["id"])
        if not user:
            return Reply(200, {"errors": [_not_found("user", "id", req.params["id"])]})
        return Reply(200, {"data": _fields(user, req.query.get("user.fields"), DEFAULT_USER)})

    def _get_tweet(self, req: Request) -> Reply:
        tid = req.params["id"]
        if tid not in self.tweets or tid in self.deleted:
            return Reply(200, {"errors": [_not_found("tweet", "id", tid)]})
        return Reply(200, self._payload(req, [self.tweets[tid]], single=True))

    def _mentions(self, req: Request) -> Reply:
        user = self.users.get(req.params["id"])
        if not user:
            return Reply(200, {"errors": [_not_found("user", "id", req.params["id"])]})
        pattern = re.compile(rf"(?<!\w)@{re.escape(user['username'])}\b", re.I)
        return self._timeline(req, lambda t: pattern.search(t["text"]) is not None, smallest=5)

    def _user_tweets(self, req: Request) -> Reply:
        uid = req.params["id"]
        exclude = set((req.query.get("exclude") or "").split(","))
        def keep(t: dict[str, Any]) -> bool:
            kinds = {r["type"] for r in t.get("referenced_tweets", ())}
            return t["author_id"] == uid and not ("retweets" in exclude and "retweeted" in kinds) \
                and not ("replies" in exclude and "replied_to" in kinds)
        return self._timeline(req, keep, smallest=5)

    def _search(self, req: Request) -> Reply:
        try:
            match = x_search.compile_query(req.query.get("query", ""), self.users)
        except ValueError as e:
            return _problem(400, "invalid-request", "Invalid Request", str(e))
        return self._timeline(req, match, smallest=10)

    def _timeline(self, req: Request, keep, smallest: int) -> Reply:
        q = req.query
        size = max(smallest, min(100, int(q.get("max_results", 10))))
        since = int(q.get("since_id", 0))
        token = q.get("pagination_token") or q.get("next_token")
        below = _untoken(token) if token else int(q.get("until_id", 0)) or None
        page: list[dict[str, Any]] = []
        more = False
        with self.lock:
            i = bisect.bisect_left(self._ids, below) if below else len(self._ids)
            while i > 0:
                i -= 1
                tid = self._ids[i]
                if tid <= since:
                    break
                tweet = self.tweets[str(tid)]
                if str(tid) in self.deleted or not keep(tweet):
                    continue
                if len(page) == size:
                    more = True
                    break
                page.append(tweet)
        body = self._payload(req, page)
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta.update(newest_id=page[0]["id"], oldest_id=page[-1]["id"])
        if more:
            meta["next_token"] = _token(int(page[-1]["id"]))
        body["meta"] = meta
        return Reply(200, body)

    def _payload(self, req: Request, tweets: list[dict[str, Any]], single: bool = False) -> dict[str, Any]:
        q = req.query
        expansions = set(filter(None, (q.get("expansions") or "").split(",")))
        tweet_fields, user_fields = q.get("tweet.fields"), q.get("user.fields")
        included: dict[str, dict] = {}
        if "referenced_tweets.id" in expansions:
            for t in tweets:
                for ref in t.get("referenced_tweets", ()):
                    if ref["id"] in self.tweets and ref["id"] not in self.deleted:
                        included[ref["id"]] = self.tweets[ref["id"]]
        user_ids: dict[str, None] = {}
        for t in tweets:
            if "author_id" in expansions:
                user_ids[t["author_id"]] = None
            if "in_reply_to_user_id" in expansions and t.get("in_reply_to_user_id"):
                user_ids[t["in_reply_to_user_id"]] = None
        if "referenced_tweets.id.author_id" in expansions:
            user_ids.update(dict.fromkeys(t["author_id"] for t in included.values()))
        data = [_tweet(t, tweet_fields) for t in tweets]
        out: dict[str, Any] = {"data": data[0] if single else data} if data else {}
        includes: dict[str, Any] = {}
        if user_ids:
            includes["users"] = [_fields(self.users[u], user_fields, DEFAULT_USER) for u in user_ids]
        if included:
            includes["tweets"] = [_tweet(t, tweet_fields) for t in included.values()]
        if includes:
            out["includes"] = includes
        return out

    def _create(self, req: Request) -> Reply:
        body = req.json() or {}
        text = body.get("text", "")
        parent = (body.get("reply") or {}).get("in_reply_to_tweet_id")
        with self.lock:
            if parent and (parent not in self.tweets or parent in self.deleted):
                return _problem(403, "disallowed-resource", "Forbidden",
                                "You attempted to reply to a Tweet that is deleted or not visible to you.")
            if weighted_length(text) > 280:
                return _problem(400, "invalid-request", "Invalid Request", "The Tweet text is too long.")
            mine = [self.tweets[str(i)] for i in self._ids[-200:]]
            if any(t["author_id"] == self.me["id"] and _same(t["text"], text) for t in mine):
                return _problem(403, "disallowed-resource", "Forbidden",
                                "You are not allowed to create a Tweet with duplicate content.")
            tweet = self.add_tweet(self.me["username"], text, reply_to=parent)
            self.posted.append({"id": tweet["id"], "text": text, "in_reply_to_tweet_id": parent,
                                "auth": req.state.get("auth"), "request": body})
        return Reply(201, {"data": {"id": tweet["id"], "text": html.escape(tweet["text"], quote=False),
                                    "edit_history_tweet_ids": [tweet["id"]]}})


def _same(stored: str, text: str) -> bool:
    return stored == text or stored.split(" ", 1)[-1] == text


def _tweet(t: dict[str, Any], requested: str | None) -> dict[str, Any]:
    out = _fields(t, requested, DEFAULT_TWEET)
    out["text"] = html.escape(out["text"], quote=False)  # X sends &amp; &lt; &gt;
    return out


def _fields(obj: dict[str, Any], requested: str | None, default: tuple[str, ...]) -> dict[str, Any]:
    wanted = set(default) | set(filter(None, (requested or "").split(",")))
    return {k: v for k, v in obj.items() if k in wanted}


def _token(tweet_id: int) -> str:
    """An opaque-looking pagination token (base 36 of the last id served)."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while tweet_id:
        tweet_id, r = divmod(tweet_id, 36)
        out = digits[r] + out
    return "7140dibd" + out


def _untoken(token: str) -> int | None:
    try:
        return int(token.removeprefix("7140dibd"), 36)
    except ValueError:
        return None


def _blank(status: int, title: str, detail: str | None = None) -> dict[str, Any]:
    return {"title": title, "detail": detail or title, "type": "about:blank", "status": status}


def _problem(status: int, kind: str, title: str, detail: str) -> Reply:
    return Reply(status, {"type": f"https://api.x.com/2/problems/{kind}", "title": title, "detail": detail,
                          "status": status}, content_type=PROBLEM)


def _not_found(resource: str, parameter: str, value: str) -> dict[str, Any]:
    return {"type": "https://api.x.com/2/problems/resource-not-found", "title": "Not Found Error",
            "detail": f"Could not find {resource} with {parameter}: [{value}].", "resource_type": resource,
            "parameter": parameter, "value": value, "resource_id": value}


def main() -> None:  # pragma: no cover - manual poking
    api = XApi().start()
    api.add_mention("jane", "my order #1234 never arrived, can you help?")
    api.serve_until_interrupted(f"X API stand-in on {api.url}: api_url = {api.url!r}, bearer_token "
                                f"{api.bearer_token!r}, username {api.me['username']!r}; Ctrl-C stops it")


if __name__ == "__main__":
    main()

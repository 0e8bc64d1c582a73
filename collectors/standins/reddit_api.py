"""A local stand-in for the Reddit API: the endpoints Replydesk reaches through praw.

One process plays both hosts praw talks to (`reddit_url` for tokens,
`oauth_url` for the API). Users, subreddits, submissions, comments and the
account's inbox live in memory; tests and `replydesk demo` add them with
`add_submission`, `add_comment`, `add_mention` and read replies from
`posted`. Every object served is a copy of one recorded by PRAW's own
tests (reddit_templates.json) with the stand-in's values filled in, so the
keys are exactly the real ones. Listings page like Reddit's, including the
trap that `after` naming an item no longer in the listing gives nothing.

Rate-limit headers (`x-ratelimit-remaining/used/reset`) come with every API
answer; the default budget is large so that prawcore, which paces itself
from those headers, never slows a test. Faults: see ApiServer.fail; the
bodies are those of prawcore's recorded failures.
"""
from __future__ import annotations

import base64
import copy
import html
import json
import re
import secrets
from pathlib import Path
from typing import Any

from .api_server import ApiServer, Fault, Reply, Request

TEMPLATES = json.loads(Path(__file__).with_name("reddit_templates.json").read_text(encoding="utf-8"))
TOO_MANY = "<!doctype html><html><head><title>Too Many Requests</title></head><body><h1>whoa there, pardner!</h1>" \
           "<p>we're sorry, but you appear to be a bot and we've seen too many requests from you lately.</p>" \
           "</body></html>"
INBOX_SUBJECT = {"comment_reply": "comment reply", "post_reply": "post reply", "username_mention": "username mention"}


def _b36(n: int) -> str:
    digits, out = "0123456789abcdefghijklmnopqrstuvwxyz", ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out or "0"


def _html(markdown: str) -> str:
    paragraphs = "\n\n".join(f"<p>{html.escape(p)}</p>" for p in markdown.split("\n\n"))
    return f'<!-- SC_OFF --><div class="md">{paragraphs}\n</div><!-- SC_ON -->'


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")[:50] or "post"


class RedditApi(ApiServer):
    def __init__(self, *, username: str = "acme_support", password: str = "correct-horse-7",
                 client_id: str = "test-client-id", client_secret: str = "test-client-secret",
                 limit: int = 1_000_000, window_seconds: int = 600, seed: int = 0, fault_rate: float = 0.0):
        super().__init__(seed=seed, fault_rate=fault_rate)
        self.me, self.password = username, password
        self.client_id, self.client_secret = client_id, client_secret
        self.limit, self.window_seconds = limit, window_seconds
        self.window = [0, 0]  # used, reset epoch
        self.tokens: dict[str, str | None] = {}  # token -> user (None: app-only)
        self.users: dict[str, dict[str, Any]] = {}
        self.things: dict[str, dict[str, Any]] = {}  # fullname -> listing-shaped data
        self.listings: dict[tuple[str, str], list[str]] = {}  # (subreddit, "comments"|"new") -> fullnames
        self.inbox: list[str] = []  # entries of the account's inbox, oldest first
        self.inbox_data: dict[str, dict[str, Any]] = {}  # fullname -> inbox-shaped data
        self.unread: set[str] = set()
        self.posted: list[dict[str, Any]] = []  # what api/comment created, with the form sent
        self._ids = {"t1": int("k3yrfii", 36), "t3": int("1j7g9uj", 36), "t4": int("2r17c8r", 36)}
        self.user(username, karma=5400)
        for method, pattern, handler in [
            ("POST", "/api/v1/access_token", self._token),
            ("GET", "/api/v1/me", self._me),
            ("GET", "/message/unread", self._unread),
            ("POST", "/api/read_message", self._read_message),
            ("GET", "/r/{sub}/comments", lambda r: self._listing(r, self.listings.get((r.params["sub"].lower(),
                                                                                         "comments"), []))),
            ("GET", "/r/{sub}/new", lambda r: self._listing(r, self.listings.get((r.params["sub"].lower(), "new"),
                                                                                 []))),
            ("GET", "/user/{name}/about", self._about),
            ("GET", "/user/{name}/comments", self._user_comments),
            ("POST", "/api/comment", self._comment),
        ]:
            self.route(method, pattern, handler)
            self.route(method, pattern + "/", handler)  # praw asks with and without the slash

    # --- admin -----------------------------------------------------------
    def user(self, name: str, karma: int = 120) -> dict[str, Any]:
        with self.lock:
            if name.lower() not in self.users:
                self.users[name.lower()] = {"name": name, "id": _b36(1_000_003 + len(self.users) * 7919),
                                            "link_karma": karma // 3, "comment_karma": karma - karma // 3}
            return self.users[name.lower()]

    def _next(self, kind: str) -> str:
        self._ids[kind] += 1
        return _b36(self._ids[kind])

    def add_submission(self, author: str, subreddit: str, title: str, selftext: str = "",
                       created_utc: float | None = None) -> dict[str, Any]:
        with self.lock:
            sid = self._next("t3")
            d = copy.deepcopy(TEMPLATES["submission"]["data"])
            permalink = f"/r/{subreddit}/comments/{sid}/{_slug(title)}/"
            d.update(id=sid, name=f"t3_{sid}", title=title, selftext=selftext, author=author,
                     author_fullname=f"t2_{self.user(author)['id']}", subreddit=subreddit,
                     subreddit_name_prefixed=f"r/{subreddit}", subreddit_id=f"t5_{_b36(len(subreddit) * 99991)}",
                     subreddit_type="public", permalink=permalink, url=f"https://www.reddit.com{permalink}",
                     url_overridden_by_dest=None, domain=f"self.{subreddit}", is_self=True, num_comments=0,
                     selftext_html=_html(selftext) if selftext else None, created=created_utc or self.clock(),
                     created_utc=created_utc or self.clock(), locked=False, archived=False)
            self._store("t3", d, (subreddit.lower(), "new"))
            return d

    def add_comment(self, author: str, parent: str, body: str) -> dict[str, Any]:
        """A comment answering `parent` (a t1_ or t3_ fullname); the account's
        inbox gets it when it answers the account or names u/<account>."""
        with self.lock:
            up = self.things[parent]
            link = up if parent.startswith("t3_") else self.things[up["link_id"]]
            cid = self._next("t1")
            d = copy.deepcopy(TEMPLATES["comment"]["data"])
            d.update(id=cid, name=f"t1_{cid}", body=body, body_html=_html(body), author=author,
                     author_fullname=f"t2_{self.user(author)['id']}", parent_id=parent, link_id=link["name"],
                     link_title=link["title"], link_author=link["author"], link_permalink=link["url"],
                     link_url=link["url"], subreddit=link["subreddit"], subreddit_id=link["subreddit_id"],
                     subreddit_name_prefixed=link["subreddit_name_prefixed"], num_comments=link["num_comments"] + 1,
                     permalink=f"{link['permalink']}{cid}/", created=self.clock(), created_utc=self.clock(),
                     locked=False, archived=False, is_submitter=author == link["author"])
            link["num_comments"] += 1
            self._store("t1", d, (link["subreddit"].lower(), "comments"))
            if author.lower() != self.me.lower():
                if up["author"].lower() == self.me.lower():
                    self._to_inbox(d, "post_reply" if parent.startswith("t3_") else "comment_reply")
                elif re.search(rf"(?<![\w/])/?u/{re.escape(self.me)}\b", body, re.I):
                    self._to_inbox(d, "username_mention")
            return d

    def add_mention(self, author: str, text: str, subreddit: str = "acme", title: str = "Anyone else?") -> dict:
        """A comment naming u/<account> on a new submission in `subreddit`."""
        if f"u/{self.me}".lower() not in text.lower():
            text = f"u/{self.me} {text}"
        post = self.add_submission(f"{author}_op" if author != "op" else "op", subreddit, title)
        return self.add_comment(author, post["name"], text)

    def add_message(self, author: str, subject: str, body: str) -> dict[str, Any]:
        """A private message: it lands in the inbox, and Replydesk leaves it unread."""
        with self.lock:
            mid = self._next("t4")
            d = copy.deepcopy(TEMPLATES["inbox_message"]["data"])
            d.update(id=mid, name=f"t4_{mid}", author=author, author_fullname=f"t2_{self.user(author)['id']}",
                     subject=subject, body=body, body_html=_html(body), dest=self.me, new=True,
                     created=self.clock(), created_utc=self.clock())
            self.inbox.append(d["name"])
            self.inbox_data[d["name"]] = d
            self.unread.add(d["name"])
            return d

    def delete(self, fullname: str) -> None:
        with self.lock:
            self.things[fullname].update(author="[deleted]", body="[deleted]", _deleted=True)

    def lock_thread(self, fullname: str) -> None:
        self.things[fullname]["locked"] = True

    def archive(self, fullname: str) -> None:
        self.things[fullname]["archived"] = True

    def revoke_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    def _store(self, kind: str, data: dict[str, Any], listing: tuple[str, str]) -> None:
        self.things[data["name"]] = data
        self.listings.setdefault(listing, []).append(data["name"])

    def _to_inbox(self, comment: dict[str, Any], kind: str) -> None:
        d = copy.deepcopy(TEMPLATES["inbox_comment"]["data"])
        d.update({k: comment[k] for k in ("subreddit", "author_fullname", "id", "author", "parent_id", "body",
                                          "body_html", "name", "created", "created_utc", "subreddit_name_prefixed",
                                          "link_title", "num_comments")})
        d.update(type=kind, subject=INBOX_SUBJECT[kind], dest=self.me, was_comment=True,
                 context=f"{comment['permalink']}?context=3")
        self.inbox.append(d["name"])
        self.inbox_data[d["name"]] = d
        self.unread.add(d["name"])

    # --- request cycle hooks ---------------------------------------------
    def before(self, req: Request) -> Reply | None:
        if req.route and req.route.startswith("/api/v1/access_token"):
            return None
        header = req.headers.get("authorization", "")
        token = header[7:] if header.lower().startswith("bearer ") else None
        if token not in self.tokens:
            return self._unauthorized()
        req.state["user"] = self.tokens[token]
        now = int(self.clock())
        with self.lock:
            if now >= self.window[1]:
                self.window = [0, now + self.window_seconds]
            self.window[0] += 1
            if self.window[0] > self.limit:
                return Reply(429, TOO_MANY, {"retry-after": str(self.window[1] - now)}, "text/html; charset=UTF-8")
        return None

    def after(self, req: Request, reply: Reply) -> Reply:
        if req.state.get("user", False) is not False and reply.status != 429:
            used, reset = self.window
            reply.headers.update({"x-ratelimit-remaining": f"{max(0, self.limit - used):.1f}",
                                  "x-ratelimit-used": str(used),
                                  "x-ratelimit-reset": str(max(0, reset - int(self.clock())))})
        return reply

    def fault_reply(self, req: Request, fault: Fault) -> Reply:
        status = int(fault.kind)
        if fault.body is not None:
            return Reply(status, fault.body, dict(fault.headers))
        if status == 401:
            return self._unauthorized()
        if status == 429:
            return Reply(429, TOO_MANY, {"retry-after": fault.headers.get("retry-after", "4")},
                         "text/html; charset=UTF-8")
        if status >= 500:
            return Reply(status, b"", content_type="application/json; charset=UTF-8")
        return Reply(status, {"error": status})

    def _unauthorized(self) -> Reply:
        return Reply(401, {"message": "Unauthorized", "error": 401},
                     {"www-authenticate": 'Bearer realm="reddit", error="invalid_token"'})

    # --- endpoints ---------------------------------------------------------
    def _token(self, req: Request) -> Reply:
        basic = req.headers.get("authorization", "")
        try:
            cid, _, secret = base64.b64decode(basic.removeprefix("Basic ")).decode().partition(":")
        except ValueError:
            cid = secret = ""
        if (cid, secret) != (self.client_id, self.client_secret):
            return Reply(401, {"message": "Unauthorized", "error": 401})
        form = req.form()
        if form.get("grant_type") == "password":
            if form.get("username", "").lower() != self.me.lower() or form.get("password") != self.password:
                return Reply(200, {"error": "invalid_grant"})
            user: str | None = self.me
        elif form.get("grant_type") == "client_credentials":
            user = None
        else:
            return Reply(200, {"error": "unsupported_grant_type"})
        token = secrets.token_urlsafe(20)
        with self.lock:
            self.tokens[token] = user
        return Reply(200, {"access_token": token, "token_type": "bearer", "expires_in": 86400, "scope": "*"})

    def _me(self, req: Request) -> Reply:
        if not req.state["user"]:
            return Reply(403, {"error": 403}, {"www-authenticate": 'Bearer realm="reddit", error="insufficient_scope"'})
        d = copy.deepcopy(TEMPLATES["me"])
        u = self.user(self.me)
        d.update(name=u["name"], id=u["id"], link_karma=u["link_karma"], comment_karma=u["comment_karma"],
                 total_karma=u["link_karma"] + u["comment_karma"], inbox_count=len(self.unread),
                 has_mail=bool(self.unread))
        return Reply(200, d)

    def _about(self, req: Request) -> Reply:
        u = self.users.get(req.params["name"].lower())
        if not u:
            return Reply(404, {"message": "Not Found", "error": 404})
        d = copy.deepcopy(TEMPLATES["user_about"])
        d["data"].update(name=u["name"], id=u["id"], link_karma=u["link_karma"], comment_karma=u["comment_karma"],
                         total_karma=u["link_karma"] + u["comment_karma"])
        return Reply(200, d)

    def _unread(self, req: Request) -> Reply:
        with self.lock:
            names = [n for n in self.inbox if n in self.unread]
            reply = self._listing(req, names, self.inbox_data, kind_of=lambda n: n[:2])
            if req.query.get("mark", "true").lower() != "false":
                self.unread.difference_update(c["data"]["name"] for c in reply.body["data"]["children"])
        return reply

    def _read_message(self, req: Request) -> Reply:
        names = [n for n in req.form().get("id", "").split(",") if n]
        with self.lock:
            self.unread.difference_update(names)
        return Reply(200, {})

    def _user_comments(self, req: Request) -> Reply:
        name = req.params["name"].lower()
        with self.lock:
            mine = [n for n, d in self.things.items() if n.startswith("t1_") and d["author"].lower() == name]
        return self._listing(req, mine)

    def _listing(self, req: Request, names: list[str], source: dict | None = None, kind_of=None) -> Reply:
        """Newest first; `after`/`before` name an item of the listing, as on Reddit."""
        source = self.things if source is None else source
        q = req.query
        size = max(1, min(100, int(q.get("limit", 25))))
        order = list(reversed(names))
        start = 0
        if q.get("after"):
            if q["after"] not in order:
                order, start = [], 0  # Reddit gives nothing after an item it no longer lists
            else:
                start = order.index(q["after"]) + 1
        chunk = order[start:start + size]
        children = []
        for n in chunk:
            data = {k: v for k, v in source[n].items() if not k.startswith("_")}
            if source is self.inbox_data:
                data["new"] = n in self.unread
            children.append({"kind": kind_of(n) if kind_of else n[:2], "data": data})
        body = copy.deepcopy(TEMPLATES["listing"])
        body["data"].update(children=children, dist=len(children), before=None,
                            after=chunk[-1] if chunk and start + size < len(order) else None)
        return Reply(200, body)

    def _comment(self, req: Request) -> Reply:
        form = req.form()
        thing, text = form.get("thing_id", ""), form.get("text", "")
        with self.lock:
            target = self.things.get(thing)
            link = None if target is None else target if thing.startswith("t3_") else self.things[target["link_id"]]
            error = None
            if target is None or target.get("_deleted"):
                error = ["DELETED_COMMENT" if thing.startswith("t1_") else "DELETED_LINK",
                         "that comment has been deleted" if thing.startswith("t1_")
                         else "the link you are commenting on has been deleted", "parent"]
            elif link["archived"] or target.get("archived"):
                error = ["TOO_OLD", "that's a piece of history now; it's too late to reply to it", "parent"]
            elif link["locked"] or target.get("locked"):
                error = ["THREAD_LOCKED", "Comments are locked.", "parent"]
            elif not text.strip():
                error = ["NO_TEXT", "we need something here", "text"]
            elif len(text) > 10_000:
                error = ["TOO_LONG", "this is too long (max: 10000)", "text"]
            if error:
                return Reply(200, {"json": {"errors": [error]}})
            created = self.add_comment(self.me, thing, text)
            self.posted.append({"name": created["name"], "thing_id": thing, "text": text, "form": form})
        d = copy.deepcopy(TEMPLATES["reply_comment"]["data"])
        d.update({k: created[k] for k in d if k in created and not k.startswith("_")})
        return Reply(200, {"json": {"errors": [], "data": {"things": [{"kind": "t1", "data": d}]}}})


def main() -> None:  # pragma: no cover - manual poking
    api = RedditApi().start()
    post = api.add_submission(api.me, "acme", "Support megathread", "Ask us anything")
    api.add_comment("jane", post["name"], "my kettle leaks, what now?")
    api.add_mention("bob", "does the warranty cover a cracked lid?")
    api.serve_until_interrupted(
        f"Reddit stand-in on {api.url}: oauth_url = reddit_url = {api.url!r}, client_id {api.client_id!r}, "
        f"client_secret {api.client_secret!r}, username {api.me!r}, password {api.password!r}; Ctrl-C stops it")


if __name__ == "__main__":
    main()

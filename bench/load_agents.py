"""The simulated agents of bench/load.py: each a thread with its own HTTP
session that signs in, lists, filters, searches, opens conversations and
replies with 2-6 s between actions, and meanwhile does what the page's
scripts do in a browser: poll /live/changes every second, reload the list
when that says a change concerns it (at most every 1.5 s) and its counts
(at most every 5 s), or the open conversation when it changed, and send the
presence heartbeat every 4 s on an open conversation."""
from __future__ import annotations

import json
import random
import re
import threading
import time

import requests

from load_fill import PASSWORD, TAGS

LIST_EVERY = 1.5  # seconds between list reloads at most, as webui/static/replydesk.js
COUNTS_EVERY = 5.0  # and between reloads of the counts beside the list

WORDS = ["refund", "kettle", "invoice", "outage", "hacked", "courier", "charger", "portugal", "order", "blender"]
FILTERS = ["status=any", "status=closed", "assignee=mine", "assignee=unassigned", "awaiting=1", "channel=email",
           "channel=x", "channel=reddit", "sentiment=negative", "urgency=75", "sort=urgency", "sort=waiting",
           "status=any&urgency=90", "channel=x&sentiment=negative&urgency=50&assignee=unassigned&sort=urgency"]


def kind_of(method: str, path: str) -> str:
    """Request kind for the figures, from method and path."""
    p = path.split("?", 1)[0]
    q = path.split("?", 1)[1] if "?" in path else ""
    if p == "/login":
        return "sign in" if method == "POST" else "sign-in page"
    if p == "/logout":
        return "sign out"
    if p == "/live/changes":
        return "live poll"
    if p.endswith("/presence"):
        return "presence"
    if p.endswith("/reply"):
        return "reply"
    if re.fullmatch(r"/c/\d+/live", p):
        return "conversation reload"
    if re.fullmatch(r"/c/\d+", p):
        return "open conversation"
    if p == "/inbox/counts":
        return "counts"
    if p == "/" or p == "/inbox/more":
        return "search" if "q=" in q else "filter" if q else "list"
    if p.startswith("/static/"):
        return "static"
    return p


class Agent(threading.Thread):
    """One agent's browser: actions with think time, plus what the page's
    scripts do (live poll, list reload, presence)."""

    def __init__(self, n: int, base: str, live_from: int, end: float, record, seed: int, search: bool = True):
        super().__init__(daemon=True, name=f"agent{n}")
        self.n, self.base, self.live_from, self.end, self.record = n, base, live_from, end, record
        self.rng = random.Random(seed)
        self.search = search  # False: searches become filters (a diagnostic run, not the load)
        self.http = requests.Session()
        self.csrf = ""
        self.since = "0"
        self.page = "/"  # the list URL or a conversation path
        self.listing: list[int] = []
        self.shown: set[int] = set()  # the rows on the list page now (the page's script checks these)
        self.reload_at: float | None = None
        self.last_reload = 0.0
        self.counts_at: float | None = None
        self.last_counts = 0.0
        self.conv_key = ""
        self.actions = 0

    # --- HTTP -------------------------------------------------------------------
    def call(self, method: str, path: str, *, expect=(200,), **kw) -> requests.Response | None:
        t = time.perf_counter()
        try:
            r = self.http.request(method, self.base + path, timeout=30, allow_redirects=False, **kw)
        except requests.RequestException as e:
            self.record(kind_of(method, path), None, (time.perf_counter() - t) * 1000, f"{type(e).__name__}")
            return None
        ms = (time.perf_counter() - t) * 1000
        bad = None if r.status_code in expect else f"HTTP {r.status_code} on {method} {path.split('?')[0]}"
        self.record(kind_of(method, path), r.status_code, ms, bad)
        token = re.search(r'"X-CSRFToken": "([^"]+)"', r.text) if r.headers.get("content-type", "").startswith(
            "text/html") else None
        if token:
            self.csrf = token.group(1)
        return r

    def sign_in(self) -> bool:
        r = self.call("GET", "/login")
        if r is None:
            return False
        token = re.search(r'name="csrf_token" value="([^"]+)"', r.text)
        r = self.call("POST", "/login", expect=(302,), data={
            "email": f"agent{self.n}@example.com", "password": PASSWORD, "csrf_token": token.group(1) if token else ""})
        return r is not None and r.status_code == 302

    def sign_out(self) -> None:
        self.call("POST", "/logout", expect=(302,), data={"csrf_token": self.csrf})

    # --- what the agent does -------------------------------------------------------
    def open_list(self, query: str = "") -> None:
        self.page = "/" + (f"?{query}" if query else "")
        r = self.call("GET", self.page)
        self.reload_at = None
        if r is not None and r.status_code == 200:
            self.listing = [int(i) for i in re.findall(r'href="/c/(\d+)"', r.text)]
            self.shown = set(self.listing)
            self.reload_counts()  # the page loads its counts when it opens

    def open_conversation(self, cid: int) -> None:
        self.page = f"/c/{cid}"
        r = self.call("GET", self.page)
        if r is not None and r.status_code == 200:
            key = re.search(r'name="key" value="([^"]+)"', r.text)
            self.conv_key = key.group(1) if key else ""
            self.call("POST", f"/c/{cid}/presence", headers={"X-CSRFToken": self.csrf, "HX-Request": "true"})

    def reply(self) -> None:
        cid = int(self.page.rsplit("/", 1)[1])
        self.call("POST", f"/c/{cid}/reply", headers={"HX-Request": "true"}, data={
            "csrf_token": self.csrf, "key": self.conv_key, "confirm": "1",
            "text": f"Thanks for telling us, we are on it. Agent {self.n}, reply {self.actions}."})
        self.conv_key = ""  # one reply per rendering of the composer, as in the browser

    def act(self) -> None:
        self.actions += 1
        if self.actions % 50 == 0:
            self.sign_out()
            self.sign_in()
            self.open_list()
            return
        on_conv = self.page.startswith("/c/")
        live = [c for c in self.listing if c >= self.live_from]
        dice = self.rng.random()
        if on_conv and self.conv_key and int(self.page.rsplit("/", 1)[1]) >= self.live_from and dice < 0.35:
            self.reply()
        elif dice < 0.45 and self.listing:
            self.open_conversation(self.rng.choice(live or self.listing))
        elif dice < 0.65:
            self.open_list()
        elif dice < 0.85 or not self.search:
            self.open_list(self.rng.choice(FILTERS + [f"tag={self.rng.choice(TAGS)}&status=any"]))
        else:
            self.open_list(f"status=any&q={self.rng.choice(WORDS)}")

    def live_poll(self) -> None:
        """/live/changes, then what the page's script does with its answer:
        on a list, reload it when a changed conversation could be in it or is
        one of its rows, at most every LIST_EVERY seconds."""
        conv = self.page.split("/")[2] if self.page.startswith("/c/") else ""
        listing = "&list=1" + ("&" + self.page.split("?", 1)[1] if "?" in self.page else "") if not conv else ""
        r = self.call("GET", f"/live/changes?since={self.since}" + (f"&conversation={conv}" if conv else listing),
                      expect=(200, 204))
        if r is None or r.status_code != 200:
            return
        m = re.search(r"since=(\d+)", r.text)
        if m:
            self.since = m.group(1)
        events = json.loads(r.headers.get("HX-Trigger") or "{}")
        changed = events.get("rd-changed") or {}
        if not conv and changed and (changed.get("list", True)
                                     or self.shown.intersection(changed.get("conversations", []))):
            if self.reload_at is None:
                self.reload_at = max(time.monotonic(), self.last_reload + LIST_EVERY)
        if not conv and changed and changed.get("counts", True) and self.counts_at is None:
            self.counts_at = max(time.monotonic(), self.last_counts + COUNTS_EVERY)
        elif conv and "rd-conversation" in events:
            self.call("GET", f"/c/{conv}/live")

    def reload_counts(self) -> None:
        self.counts_at = None
        self.last_counts = time.monotonic()
        if self.page.startswith("/c/"):
            return
        self.call("GET", "/inbox/counts" + ("?" + self.page.split("?", 1)[1] if "?" in self.page else ""))

    def reload_list(self) -> None:
        self.reload_at = None
        self.last_reload = time.monotonic()
        if self.page.startswith("/c/"):
            return
        # As htmx asks for it: the list alone (#list), not the whole page.
        r = self.call("GET", self.page, headers={"HX-Request": "true", "HX-Target": "list"})
        if r is not None and r.status_code == 200:
            self.shown = {int(i) for i in re.findall(r'href="/c/(\d+)"', r.text)}

    def run(self) -> None:
        time.sleep(self.rng.uniform(0, 10))  # agents arrive over ten seconds
        if not self.sign_in():
            return
        self.open_list()
        next_action = time.monotonic() + self.rng.uniform(2, 6)
        next_poll = time.monotonic() + 1
        next_beat = time.monotonic() + 4
        while time.monotonic() < self.end:
            now = time.monotonic()
            if self.reload_at is not None and now >= self.reload_at:
                self.reload_list()
            if self.counts_at is not None and now >= self.counts_at:
                self.reload_counts()
            if now >= next_poll:
                self.live_poll()
                next_poll = max(now, next_poll) + 1
            if now >= next_beat and self.page.startswith("/c/"):
                self.call("POST", self.page + "/presence", headers={"X-CSRFToken": self.csrf, "HX-Request": "true"})
                next_beat = now + 4
            if now >= next_action:
                self.act()
                next_action = time.monotonic() + self.rng.uniform(2, 6)
            time.sleep(max(0.0, min(next_poll, next_action, self.reload_at or next_poll, self.counts_at or next_poll) - time.monotonic()))

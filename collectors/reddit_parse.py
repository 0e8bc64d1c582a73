"""Reddit API JSON -> InboundItems; keyword matching; ids and cursors.

Pure functions (no praw, no I/O), tested on PRAW's recorded payloads.
Items are named by Reddit fullnames (`t1_` comments, `t3_` submissions):
`thread_key` is the submission, `parent_external_id` the comment or
submission answered.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from inbox.channel import InboundItem

MAX_LENGTH = 10_000  # Reddit refuses longer comments
# Inbox entries we take in; others (private messages, mod mail) stay unread
# for people to handle on Reddit.
INBOX_TYPES = {"username_mention": "mention", "comment_reply": "comment reply", "post_reply": "post reply"}
_CONTEXT = re.compile(r"/comments/([a-z0-9]+)/")


def id36(fullname: str | None) -> int:
    """The number in a fullname ("t1_k3yrfii" -> int); -1 if unreadable.
    Reddit hands ids out in increasing order per kind, so newer is bigger."""
    try:
        return int((fullname or "").partition("_")[2] or fullname or "", 36)
    except ValueError:
        return -1


def matches(text: str, keywords: list[str]) -> bool:
    """Whether any keyword or phrase occurs as a whole word (case ignored).
    No keywords: everything matches (a brand's own subreddit)."""
    if not keywords:
        return True
    return any(re.search(rf"(?<!\w){re.escape(k.strip())}(?!\w)", text, re.I) for k in keywords if k.strip())


def when(data: dict[str, Any], defects: list[str]) -> datetime:
    try:
        return datetime.fromtimestamp(float(data["created_utc"]), timezone.utc)
    except (KeyError, TypeError, ValueError):
        defects.append("no or unreadable created_utc")
        return datetime.now(timezone.utc)


def submission_of(data: dict[str, Any]) -> str | None:
    """The submission a comment belongs to: `link_id` in listings, the
    `context` path in inbox entries."""
    if data.get("link_id"):
        return data["link_id"]
    m = _CONTEXT.search(data.get("context") or data.get("permalink") or "")
    return f"t3_{m.group(1)}" if m else None


def thing_item(thing: dict[str, Any], me: str, source: str, site: str) -> InboundItem | None:
    """A comment (t1) or submission (t3) as an item; None for other kinds."""
    kind, data = thing.get("kind"), thing.get("data")
    if kind not in ("t1", "t3") or not isinstance(data, dict) or not data.get("id"):
        return None
    defects: list[str] = []
    name = data.get("name") or f"{kind}_{data['id']}"
    author = data.get("author") or "[deleted]"
    if kind == "t3":
        title = data.get("title") or ""
        text = f"{title}\n\n{data['selftext']}" if data.get("selftext") else title
        thread, parent, subject = name, None, title
        path = data.get("permalink")
    else:
        text = data.get("body")
        if not isinstance(text, str):
            defects.append("no body")
            text = ""
        thread, parent = submission_of(data), data.get("parent_id")
        subject = data.get("link_title")
        path = data.get("permalink") or (data.get("context") or "").split("?")[0] or None
        if thread is None:
            defects.append("submission unknown")
    extra = {"source": source, "subreddit": data.get("subreddit")}
    if data.get("type") in INBOX_TYPES:
        extra["inbox_type"] = data["type"]
    return InboundItem(
        external_id=name,
        created_at=when(data, defects),
        text=text,
        author_id=data.get("author_fullname") or f"u/{author}",
        author_handle=f"u/{author}",
        author_name=author,
        thread_key=thread,
        parent_external_id=parent,
        # The submission lets a reply join a thread whose middle we never saw.
        references=(thread,) if thread and parent and parent != thread else (),
        subject=subject,
        permalink=site.rstrip("/") + path if path else None,
        from_self=author.lower() == me.lower(),
        defects=defects,
        extra=extra,
        raw=json.dumps(thing, ensure_ascii=False),
    )


@dataclass(slots=True)
class Page:
    items: list[InboundItem] = field(default_factory=list)
    names: list[str] = field(default_factory=list)  # fullnames of every child, in listing order
    after: str | None = None
    skipped: list[str] = field(default_factory=list)  # inbox entries we leave unread
    unreadable: int = 0


def listing(payload: Any) -> tuple[list[dict[str, Any]], str | None]:
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, dict):
        return [], None
    children = [c for c in data.get("children") or () if isinstance(c, dict)]
    return children, data.get("after")


def inbox_page(payload: Any, me: str, site: str) -> Page:
    children, after = listing(payload)
    page = Page(after=after)
    for child in children:
        data = child.get("data") if isinstance(child.get("data"), dict) else {}
        name = data.get("name")
        page.names.append(name)
        if child.get("kind") != "t1" or data.get("type") not in INBOX_TYPES:
            page.skipped.append(name)
            continue
        item = thing_item(child, me, "inbox", site)
        if item is None:
            page.unreadable += 1
            page.skipped.append(name)
        else:
            page.items.append(item)
    return page


def watch_page(payload: Any, me: str, site: str, source: str, since: int,
               keywords: list[str]) -> tuple[Page, bool]:
    """Items newer than `since` that match; True once the listing reached `since`."""
    children, after = listing(payload)
    page = Page(after=after)
    reached = False
    for child in children:
        data = child.get("data") if isinstance(child.get("data"), dict) else {}
        name = data.get("name") or ""
        if id36(name) <= since:
            reached = True
            break
        page.names.append(name)
        item = thing_item(child, me, source, site)
        if item is None:
            page.unreadable += 1
        elif matches(item.text, keywords):
            page.items.append(item)
    return page, reached

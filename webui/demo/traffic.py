"""Demo customers: deliver the scripted messages through the local stand-ins
of X, Reddit and the mail server, and answer back once an agent replies.

Everything goes in the way real traffic does (a tweet in the X stand-in, a
comment in the Reddit stand-in, a mail in Dovecot or the Maildir), so the
demo exercises the real collectors and senders.
"""
from __future__ import annotations

import itertools
import logging
import mailbox
import threading
import time
import tomllib
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any, Callable

from inbox.models import utcnow

log = logging.getLogger("replydesk.demo")
CONTENT = Path(__file__).with_name("content.toml")
SUPPORT_ADDRESS = "support@acme.example"


def load_content(path: Path = CONTENT) -> list[dict[str, Any]]:
    with open(path, "rb") as f:
        return tomllib.load(f)["message"]


@dataclass
class Thread:
    """One demo customer's conversation: what they wrote and where, so they
    can answer our reply in the same thread."""

    entry: dict[str, Any]
    author: str
    ref: str  # tweet id, Reddit fullname or Message-ID of their last message
    subject: str | None = None
    answered: bool = False
    followups: list[str] = field(default_factory=list)


class Traffic:
    def __init__(self, *, x_api, reddit_api, smtp, deliver_mail: Callable[[bytes], None],
                 every: float = 6.0, say: Callable[[str], None] = print):
        self.x, self.reddit, self.smtp = x_api, reddit_api, smtp
        self.deliver_mail = deliver_mail
        self.every = every
        self.say = say
        self.stop = threading.Event()
        self.threads: list[Thread] = []
        self._seen = {"x": 0, "reddit": 0, "smtp": 0}
        self._due: list[tuple[float, Callable[[], None]]] = []
        self._lock = threading.Lock()

    # --- customers write ------------------------------------------------------

    def send(self, entry: dict[str, Any], round_no: int = 0) -> Thread:
        author = entry["author"] if round_no == 0 else _again(entry["author"], round_no)
        channel = entry["channel"]
        if channel == "x":
            self.x.add_user(author, entry.get("name", author), entry.get("followers", 100))
            ref = self.x.add_mention(author, entry["text"])["id"]
            t = Thread(entry, author, ref)
        elif channel == "reddit":
            self.reddit.user(author)
            text = entry["text"]
            if "acme" not in text.lower():
                text += " (Acme)"
            sub = self.reddit.add_submission(author, entry.get("subreddit", "acme"), entry["title"], text)
            t = Thread(entry, author, sub["name"])
        else:
            msgid = make_msgid(domain=author.split("@")[-1])
            self.deliver_mail(_email(author, entry.get("name", ""), entry["subject"], entry["text"], msgid))
            t = Thread(entry, author, msgid, subject=entry["subject"])
        self.threads.append(t)
        if entry.get("then"):
            self._later(25 * max(self.every, 0.2), lambda: self._again_unanswered(t))
        return t

    def _again_unanswered(self, t: Thread) -> None:
        if t.answered:
            return
        self._follow_up(t, t.entry["then"], t.ref)

    def _follow_up(self, t: Thread, text: str, parent: str) -> None:
        channel = t.entry["channel"]
        if channel == "x":
            t.ref = self.x.add_tweet(t.author, text, reply_to=parent)["id"]
        elif channel == "reddit":
            t.ref = self.reddit.add_comment(t.author, parent, text)["name"]
        else:
            msgid = make_msgid(domain=t.author.split("@")[-1])
            subject = t.subject if (t.subject or "").lower().startswith("re:") else f"Re: {t.subject}"
            self.deliver_mail(_email(t.author, t.entry.get("name", ""), subject, text, msgid, in_reply_to=parent))
            t.ref = msgid
        self.say(f"  customer {t.author} wrote again on {channel}")

    # --- we reply: notice it where it landed -------------------------------------------

    def watch_replies(self) -> None:
        """Print what the stand-ins received and let customers answer back."""
        for post in self.x.posted[self._seen["x"]:]:
            self._seen["x"] += 1
            self.say(f"→ X stand-in received a reply tweet: {post['text'][:70]!r}")
            self._answered("x", post.get("in_reply_to_tweet_id") or "", post["id"])
        for post in self.reddit.posted[self._seen["reddit"]:]:
            self._seen["reddit"] += 1
            self.say(f"→ Reddit stand-in received a comment on {post['thing_id']}: {post['text'][:60]!r}")
            self._answered("reddit", post["thing_id"], post["name"])
        for got in self.smtp.received[self._seen["smtp"]:]:
            self._seen["smtp"] += 1
            msg = got.message
            self.say(f"→ SMTP server received a reply to {msg['To']}: {msg['Subject']!r}")
            self._answered("email", (msg["In-Reply-To"] or "").strip(), (msg["Message-ID"] or "").strip())

    def _answered(self, channel: str, parent: str, our_ref: str | None) -> None:
        for t in self.threads:
            if t.entry["channel"] == channel and t.ref == parent and not t.answered:
                t.answered = True
                later = t.entry.get("later")
                if later and our_ref:
                    self._later(4 * max(self.every, 0.5), lambda t=t, r=our_ref, x=later: self._follow_up(t, x, r))

    # --- the loop ---------------------------------------------------------------------------

    def _later(self, seconds: float, fn: Callable[[], None]) -> None:
        with self._lock:
            self._due.append((time.monotonic() + seconds, fn))

    def _run_due(self) -> None:
        now = time.monotonic()
        with self._lock:
            ready = [fn for at, fn in self._due if at <= now]
            self._due = [(at, fn) for at, fn in self._due if at > now]
        for fn in ready:
            self._safely(fn)

    @staticmethod
    def _safely(fn: Callable[[], object]) -> None:
        try:
            fn()
        except Exception as exc:  # a demo customer must never stop the demo
            log.warning("demo customer could not write: %s", exc)

    def run(self, entries: list[dict[str, Any]], *, first: int = 8) -> None:
        """Deliver `first` messages at once, then one every `every` seconds
        (starting over with new customers when the script runs out)."""
        order = itertools.cycle(range(len(entries)))
        sent = 0
        for _ in range(min(first, len(entries))):
            self._safely(lambda: self.send(entries[next(order)]))
            sent += 1
        next_at = time.monotonic() + self.every
        while not self.stop.wait(0.25):
            try:
                self.watch_replies()
                self._run_due()
                if time.monotonic() >= next_at:
                    i = next(order)
                    t = self.send(entries[i], round_no=sent // len(entries))
                    sent += 1
                    self.say(f"  new {t.entry['channel']} message from {t.author}")
                    next_at = time.monotonic() + self.every
            except Exception as exc:
                log.warning("demo traffic hiccup: %s", exc)


def _again(author: str, n: int) -> str:
    if "@" in author:
        local, domain = author.split("@", 1)
        return f"{local}{n + 1}@{domain}"
    return f"{author}{n + 1}"


def _email(address: str, name: str, subject: str, text: str, msgid: str, in_reply_to: str | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"{name} <{address}>" if name else address
    msg["To"] = f"Acme Support <{SUPPORT_ADDRESS}>"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = msgid
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    msg.set_content(text)
    return bytes(msg)


def maildir_delivery(path: Path) -> Callable[[bytes], None]:
    box = mailbox.Maildir(str(path), create=True)

    def deliver(raw: bytes) -> None:
        box.add(mailbox.MaildirMessage(raw))
    return deliver

"""What every channel module provides (one module per channel, apprise-style).

A channel class declares its facts as class attributes and implements
`fetch`, `send` and `find_sent`. It converts its library's exceptions into
the four `inbox.channel` error kinds at the edge, so nothing above it knows
tweepy, praw or imaplib.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from inbox.channel import Batch, ReplyRequest, SentRef
from inbox.config import AccountConfig, Setting


class Channel:
    kind: ClassVar[str]  # same string as the module name, config `kind` and database value
    title: ClassVar[str]  # for people: "Email", "X", "Reddit"
    example_name: ClassVar[str] = "example"  # account name used in config.example.toml
    settings: ClassVar[list[Setting]]  # the channel's own config keys
    max_length: ClassVar[int | None] = None  # reply length limit in the channel's own counting
    default_poll_seconds: ClassVar[float] = 60.0
    # True when the channel can push (IMAP IDLE): the worker then also runs
    # `listen` in its own thread beside the scheduled polls.
    pushes: ClassVar[bool] = False

    def __init__(self, account: AccountConfig):
        self.account = account
        self.name = account.name
        self.config: dict[str, Any] = account.settings

    @property
    def poll_seconds(self) -> float:
        return float(self.config.get("poll_seconds") or self.default_poll_seconds)

    def fetch(self, cursors: dict[str, str]) -> Iterator[Batch]:
        """Yield batches of new items since `cursors` (key -> value as
        stored). Each batch carries the cursor values it advances to; the
        caller stores items and cursors atomically before asking for the
        next batch, so a crash between batches loses and doubles nothing."""
        raise NotImplementedError

    def send(self, reply: ReplyRequest) -> SentRef:
        """Post `reply` in-thread; return what was posted."""
        raise NotImplementedError

    def after_sent(self, reply: ReplyRequest, ref: SentRef) -> list[str]:
        """Housekeeping once the outbox has recorded `reply` as sent (email:
        the copy in Sent, the \\Answered flag). It must never post anything;
        returns warnings for staff, never raises for what already went out."""
        return []

    def plan_external_id(self, reply: ReplyRequest) -> str | None:
        """The external id this reply will have, when the channel lets us
        choose it before sending (email: our Message-ID). It is stored before
        the network call, so `find_sent` can look for it after a crash."""
        return None

    def find_sent(self, reply: ReplyRequest) -> SentRef | None:
        """After a crash left `reply` in state sending: look on the channel
        for what we may have posted. None means it is certainly not there."""
        raise NotImplementedError

    def listen(self, wake: Callable[[], None], stop: threading.Event) -> None:
        """Push channels only: block until `stop` is set, calling `wake()`
        whenever new items may be waiting (the worker then runs `fetch` at
        once). Raise a ChannelError when pushing stops working; the worker
        falls back to polling and records it in the account's health."""
        raise NotImplementedError

    def check(self) -> list[tuple[bool, str]]:
        """For `replydesk doctor`: (ok, what was checked / what to fix)."""
        return []

    def close(self) -> None:
        """Release connections."""

    def __repr__(self) -> str:  # configs hold secrets: never show them
        return f"<{type(self).__name__} {self.name!r}>"

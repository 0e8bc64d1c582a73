"""The email channel: IMAP in (with IDLE), SMTP out, in the customer's thread.

Pure parts (parse, checks, quotes, compose) live in their own modules and
know nothing of the network; `imap` and `smtp` do the I/O and turn library
failures into the four `inbox.channel` errors.

Connections: fetching keeps one IMAP connection open between polls (a poll
with nothing new is then a single EXAMINE), sending has its own so a long
first sync never holds up a reply, and each IDLE mailbox has its own.
IMAPClient is not thread-safe, so each connection has a lock.
"""
from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime

from imapclient import IMAPClient

from collectors.base import Channel
from inbox.channel import Batch, ChannelError, ReplyRequest, Transient
from inbox.config import AccountConfig

from . import imap, smtp
from .parse import DEFAULT_ATTACHMENT_CAP
from .pool import parse_chunks
from .replies import MailReplies
from .settings import EMAIL

NOOP_AFTER_SECONDS = 60.0  # check a kept connection is still alive after this long unused


class _Connection:
    """One kept-open IMAP connection, used by one caller at a time."""

    def __init__(self, config: dict):
        self.config = config
        self.client: IMAPClient | None = None
        self.lock = threading.Lock()
        self.used_at = 0.0

    @contextlib.contextmanager
    def use(self) -> Iterator[IMAPClient]:
        with self.lock:
            if self.client is not None and time.monotonic() - self.used_at > NOOP_AFTER_SECONDS:
                try:
                    self.client.noop()
                except Exception:  # the server timed us out: start again
                    self._drop()
            if self.client is None:
                self.client = imap.connect(self.config)
            try:
                yield self.client
            except GeneratorExit:  # the caller stopped between batches: no command is in flight
                raise
            except BaseException:
                self._drop()  # unknown state after a failure: never reuse it
                raise
            finally:
                self.used_at = time.monotonic()

    def _drop(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.shutdown()

    def close(self) -> None:
        with self.lock:
            if self.client is not None:
                with contextlib.suppress(Exception):
                    self.client.logout()
            self._drop()


class EmailChannel(MailReplies, Channel):
    kind = "email"
    title = "Email"
    example_name = "support"
    settings = EMAIL
    default_poll_seconds = 60.0
    pushes = True

    def __init__(self, account: AccountConfig):
        super().__init__(account)
        self.pushes = bool(self.config.get("idle", True))
        self._fetch = _Connection(self.config)
        self._send = _Connection(self.config)
        self._sent_folder: str | None = None

    @property
    def where(self) -> str:
        c = self.config
        port = c.get("imap_port") or imap.DEFAULT_PORTS[c.get("imap_security") or "ssl"]
        return f"IMAP server {c['imap_host']}:{port}"

    @property
    def attachment_cap(self) -> int:
        return self.config.get("attachment_max_bytes") or DEFAULT_ATTACHMENT_CAP

    # -- in ------------------------------------------------------------------
    def fetch(self, cursors: dict[str, str]) -> Iterator[Batch]:
        initial_days = int(self.config.get("initial_days", 30))
        with self._fetch.use() as client:
            for mailbox in self.config.get("mailboxes") or ["INBOX"]:
                with imap.errors(f"{self.where} ({mailbox})", self.config):
                    chunks = imap.fetch_new(client, mailbox, cursors.get(mailbox), initial_days=initial_days)
                    for chunk, items in parse_chunks(chunks, lambda c: [(raw, when) for _, raw, when in c.messages],
                                                     lambda c: c.progress[1], self.own_addresses,
                                                     self.attachment_cap):
                        for item, (uid, _, _) in zip(items, chunk.messages):
                            item.defects.extend(chunk.defects(uid))
                            item.extra.update(mailbox=chunk.mailbox, uid=uid, uidvalidity=chunk.validity)
                        yield Batch(items=items, cursors={chunk.mailbox: chunk.cursor}, progress=chunk.progress,
                                    note=chunk.note)

    def listen(self, wake: Callable[[], None], stop: threading.Event) -> None:
        failures: list[ChannelError] = []
        ended = threading.Event()  # set when any mailbox's IDLE stops

        def run(mailbox: str) -> None:
            client = None
            try:
                client = imap.connect(self.config)
                with imap.errors(f"{self.where} (IDLE on {mailbox})", self.config):
                    imap.idle_mailbox(client, mailbox, wake, ended)
            except ChannelError as e:
                failures.append(e)
            except Exception as e:  # never let a listener thread die silently
                failures.append(Transient(f"IDLE on {mailbox} stopped: {type(e).__name__}: {e}"))
            finally:
                ended.set()
                if client is not None:
                    with contextlib.suppress(Exception):
                        client.logout()

        threads = [threading.Thread(target=run, args=(m,), daemon=True, name=f"idle:{self.name}:{m}")
                   for m in self.config.get("mailboxes") or ["INBOX"]]
        for t in threads:
            t.start()
        while not stop.is_set() and not ended.is_set():
            stop.wait(0.2)
        ended.set()
        for t in threads:
            t.join(timeout=10)
        if failures and not stop.is_set():
            raise failures[0]

    # -- out (hooks of MailReplies) ------------------------------------------
    def _sent(self, client: IMAPClient) -> str:
        if self._sent_folder is None:
            self._sent_folder = imap.sent_folder(client, self.config.get("sent_mailbox"))
        return self._sent_folder

    def save_copy(self, data: bytes, when: datetime) -> None:
        with self._send.use() as client, imap.errors(self.where, self.config):
            imap.save_copy(client, self._sent(client), data, when)

    def mark_answered(self, reply: ReplyRequest) -> None:
        with self._send.use() as client, imap.errors(self.where, self.config):
            imap.mark_answered(client, reply.parent_extra or {}, reply.parent_external_id)

    def has_copy(self, message_id: str) -> bool:
        with self._send.use() as client, imap.errors(self.where, self.config):
            return imap.find_message(client, self._sent(client), message_id) is not None

    # -- doctor ----------------------------------------------------------------
    def check(self) -> list[tuple[bool, str]]:
        results: list[tuple[bool, str]] = []
        try:
            with self._send.use() as client, imap.errors(self.where, self.config):
                results.append((True, f"{self.where}: login as {self.config['imap_username']!r} works"))
                for mailbox in self.config.get("mailboxes") or ["INBOX"]:
                    ok = client.folder_exists(mailbox)
                    results.append((ok, f"mailbox {mailbox!r} " + ("exists" if ok else
                                                                   "does not exist: fix `mailboxes`")))
                if self.pushes:
                    ok = client.has_capability("IDLE")
                    results.append((ok, "IDLE supported" if ok else "no IDLE on this server: set idle = false"))
                if self.config.get("save_sent", True):
                    results.append((True, f"replies are saved in {self._sent(client)!r}"))
        except ChannelError as e:
            results.append((False, str(e)))
        try:
            results.append((True, smtp.probe(self.config)))
        except ChannelError as e:
            results.append((False, str(e)))
        return results

    def close(self) -> None:
        self._fetch.close()
        self._send.close()

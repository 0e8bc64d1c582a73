"""IMAP I/O: connect, fetch new mail in batches, IDLE, save to Sent, flag.

Cursor per mailbox: "UIDVALIDITY:UID", the highest UID stored. A poll with
nothing new is one EXAMINE (its UIDNEXT says so) on a kept-open
connection. New mail is fetched with `UID FETCH <uids> (BODY.PEEK[] ...)`
in chunks of at most CHUNK messages / CHUNK_BYTES: PEEK never sets \\Seen,
and one round trip per chunk is what makes a 10,000-message first sync
fast. Each chunk becomes one Batch with the cursor it advances to.

A changed UIDVALIDITY means the server renumbered the mailbox: its UIDs
mean nothing any more, so the mailbox is read again from `initial_days`
back; ingest's uniqueness on the Message-ID keeps that from storing
anything twice.
"""
from __future__ import annotations

import contextlib
import imaplib
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from imapclient import IMAPClient
from imapclient import exceptions as imap_exc
from imapclient.imapclient import SENT, join_message_ids
from imapclient.response_parser import parse_fetch_response

from inbox.channel import AuthFailed, ChannelError, Rejected, Transient

from .fetch_response import read_bodies, read_sizes

CHUNK = 500
CHUNK_BYTES = 16 * 1024 * 1024
MAX_MESSAGE_BYTES = 50 * 1024 * 1024  # larger messages: only this much is read, and the item says so
IDLE_RENEW_SECONDS = 25 * 60  # RFC 2177: servers may drop an IDLE after 30 minutes
IDLE_CHECK_SECONDS = 0.5  # how quickly a stop request is noticed
DEFAULT_PORTS = {"ssl": 993, "starttls": 143, "none": 143}

def scrub(text: str, secrets: list[str | None]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 3:
            text = text.replace(secret, "(hidden)")
    return text


@contextlib.contextmanager
def errors(where: str, config: Mapping[str, Any]):
    """Turn imapclient/imaplib/socket failures into our four kinds."""
    secrets = [config.get("imap_password"), config.get("smtp_password")]
    try:
        yield
    except ChannelError:
        raise
    except imap_exc.LoginError as e:
        raise AuthFailed(scrub(f"{where} refused the login {config.get('imap_username')!r}: {_text(e)}. "
                               f"Check imap_username / imap_password.", secrets)) from None
    except ssl.SSLCertVerificationError as e:
        raise AuthFailed(f"{where}: its certificate is not trusted ({e.verify_message}); "
                         f"set ca_file to the server's certificate authority") from None
    except (imaplib.IMAP4.abort, socket.timeout, TimeoutError, ConnectionError, ssl.SSLError, OSError) as e:
        raise Transient(scrub(f"{where} could not be reached or dropped the connection "
                              f"({type(e).__name__}: {_text(e)})", secrets)) from None
    except (imaplib.IMAP4.error, imap_exc.IMAPClientError) as e:
        raise Transient(scrub(f"{where}: {_text(e)}", secrets)) from None


def _text(e: BaseException) -> str:
    text = e.args[0] if e.args else str(e)
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)


def connect(config: Mapping[str, Any]) -> IMAPClient:
    host = config["imap_host"]
    security = config.get("imap_security") or "ssl"
    port = config.get("imap_port") or DEFAULT_PORTS[security]
    with errors(f"IMAP server {host}:{port}", config):
        context = ssl.create_default_context(cafile=config.get("ca_file") or None)
        client = IMAPClient(host, port=port, ssl=security == "ssl", ssl_context=context,
                            timeout=float(config.get("timeout_seconds") or 30))
        quiet_imaplib(client)
        try:
            if security == "starttls":
                client.starttls(context)
            client.login(config["imap_username"], config["imap_password"])
        except BaseException:
            with contextlib.suppress(Exception):
                client.shutdown()
            raise
        return client


def quiet_imaplib(client: IMAPClient) -> None:
    """IMAPClient turns imaplib's own debug output on (level 5) and routes it
    to the "imapclient.imaplib" logger, so imaplib formats the repr() of
    every message it reads, twice, even when nobody logs it: a tenth of a
    sync's time. Off unless that logger is enabled for DEBUG."""
    imap = getattr(client, "_imap", None)
    if imap is not None and not logging.getLogger("imapclient.imaplib").isEnabledFor(logging.DEBUG):
        imap.debug = 0


def select(client: IMAPClient, mailbox: str, *, readonly: bool) -> dict:
    """SELECT/EXAMINE, telling a missing mailbox (a config mistake that only
    a person can fix) from a server hiccup."""
    try:
        return client.select_folder(mailbox, readonly=readonly)
    except imap_exc.IMAPClientError as e:
        if not isinstance(e, imaplib.IMAP4.abort) and not client.folder_exists(mailbox):
            raise AuthFailed(f"mailbox {mailbox!r} does not exist on the server: fix `mailboxes` or "
                             f"`sent_mailbox`") from None
        raise


def parse_cursor(value: str | None) -> tuple[int, int] | None:
    try:
        validity, uid = (value or "").split(":")
        return int(validity), int(uid)
    except ValueError:
        return None


def _chunks(uids: list[int], sizes: dict[int, int]) -> Iterator[list[int]]:
    chunk: list[int] = []
    total = 0
    for uid in uids:
        size = min(sizes.get(uid, 0), MAX_MESSAGE_BYTES)
        if chunk and (len(chunk) >= CHUNK or total + size > CHUNK_BYTES):
            yield chunk
            chunk, total = [], 0
        chunk.append(uid)
        total += size
    if chunk:
        yield chunk


def _search_new(client: IMAPClient, mailbox: str, cursor: tuple[int, int] | None, validity: int,
                uidnext: int | None, initial_days: int) -> tuple[list[int], bool]:
    """UIDs to fetch, and whether this is a (re)sync from `initial_days` back."""
    if cursor and cursor[0] == validity:
        last = cursor[1]
        if uidnext is not None and uidnext <= last + 1:
            return [], False
        # "N:*" always matches the last message, even below N: filter.
        return sorted(u for u in client.search(["UID", f"{last + 1}:*"]) if u > last), False
    if initial_days <= 0:
        return [], True
    since: date = (datetime.now(timezone.utc) - timedelta(days=initial_days)).date()
    return sorted(client.search(["SINCE", since])), True


@dataclass
class Fetched:
    """One chunk of raw messages and where the mailbox's cursor stands after it."""

    mailbox: str
    validity: int
    messages: list[tuple[int, bytes, datetime | None]]  # uid, source, INTERNALDATE
    cursor: str
    progress: tuple[int, int]
    note: str | None = None
    cut: dict[int, int] = field(default_factory=dict)  # uid -> real size, for messages read only in part

    def defects(self, uid: int) -> list[str]:
        if uid in self.cut:
            return [f"message of {self.cut[uid]} bytes: only the first {MAX_MESSAGE_BYTES} were read"]
        return []


def fetch_new(client: IMAPClient, mailbox: str, cursor_value: str | None, *,
              initial_days: int) -> Iterator[Fetched]:
    """The messages of `mailbox` after `cursor_value`, chunk by chunk."""
    info = select(client, mailbox, readonly=True)
    validity = int(info[b"UIDVALIDITY"])
    uidnext = int(info[b"UIDNEXT"]) if b"UIDNEXT" in info else None
    cursor = parse_cursor(cursor_value)
    uids, resync = _search_new(client, mailbox, cursor, validity, uidnext, initial_days)
    note = None
    if cursor and cursor[0] != validity:
        note = (f"UIDVALIDITY of {mailbox} changed ({cursor[0]} -> {validity}): mailbox read again from "
                f"{initial_days} days back; messages already stored are not stored twice")
    # After a (re)sync, older mail outside the window is skipped for good.
    floor = (uidnext - 1) if (resync and uidnext) else 0
    if not uids:
        if resync:
            yield Fetched(mailbox, validity, [], f"{validity}:{max(floor, 0)}", (0, 0), note)
        return
    sizes: dict[int, int] = {}
    for start in range(0, len(uids), 2000):  # IMAPClient sends plain lists; keep lines short
        sizes.update(_fetch_sizes(client, uids[start:start + 2000]))
    done = 0
    for chunk in _chunks(uids, sizes):
        messages, cut = _fetch_chunk(client, chunk, sizes)
        done += len(chunk)
        last = chunk[-1] if done < len(uids) else max(chunk[-1], floor)
        yield Fetched(mailbox, validity, messages, f"{validity}:{last}", (done, len(uids)), note, cut)
        note = None


def _fetch_chunk(client: IMAPClient, chunk: list[int], sizes: dict[int, int]):
    whole = [u for u in chunk if sizes.get(u, 0) <= MAX_MESSAGE_BYTES]
    huge = [u for u in chunk if sizes.get(u, 0) > MAX_MESSAGE_BYTES]
    fetched: dict[int, dict] = {}
    if whole:
        fetched.update(_fetch_bodies(client, whole))
    if huge:
        fetched.update(client.fetch(huge, [f"BODY.PEEK[]<0.{MAX_MESSAGE_BYTES}>", "INTERNALDATE"]))
    messages = []
    for uid in chunk:
        data = fetched.get(uid)
        if data is None:  # expunged between SEARCH and FETCH
            continue
        raw = data.get(b"BODY[]") or data.get(b"BODY[]<0>") or b""
        internal = data.get(b"INTERNALDATE")
        if isinstance(internal, datetime):
            internal = internal.astimezone(timezone.utc) if internal.tzinfo else internal.replace(tzinfo=timezone.utc)
        else:
            internal = None
        messages.append((uid, raw, internal))
    return messages, {u: sizes[u] for u in huge}


def _fetch_bodies(client: IMAPClient, uids: list[int]) -> dict[int, dict]:
    """client.fetch(uids, ["BODY.PEEK[]", "INTERNALDATE"]), the common
    response shapes read by fetch_response (faster), the rest by IMAPClient."""
    return _fetch(client, uids, "BODY.PEEK[] INTERNALDATE", lambda data: read_bodies(data, client.normalise_times))


def _fetch_sizes(client: IMAPClient, uids: list[int]) -> dict[int, int]:
    got = _fetch(client, uids, "RFC822.SIZE", read_sizes)
    return {uid: int(d.get(b"RFC822.SIZE", 0)) for uid, d in got.items()}


def _fetch(client: IMAPClient, uids: list[int], items: str, fast: Callable[[list], dict | None]) -> dict[int, dict]:
    """`UID FETCH uids (items)` through IMAPClient's imaplib connection, as
    IMAPClient.fetch does it, read by `fast` or, when it returns None, by
    IMAPClient's parser."""
    imap = getattr(client, "_imap", None)
    if not (client.use_uid and hasattr(client, "_checkok") and
            all(hasattr(imap, a) for a in ("_command", "_command_complete", "_untagged_response"))):
        return client.fetch(uids, items.split())  # another IMAPClient version
    tag = imap._command("UID", "FETCH", join_message_ids(uids), f"({items})")
    typ, data = imap._command_complete("FETCH", tag)
    client._checkok("fetch", typ, data)
    typ, data = imap._untagged_response(typ, data, "FETCH")
    data = [d for d in data if d is not None]
    got = fast(data)
    return got if got is not None else parse_fetch_response(data, client.normalise_times, True)


# -- Sent, flags -----------------------------------------------------------

def sent_folder(client: IMAPClient, configured: str | None) -> str:
    if configured:
        return configured
    found = client.find_special_folder(SENT)
    if found:
        return found
    for name in ("Sent", "Sent Items", "Sent Messages", "INBOX.Sent"):
        if client.folder_exists(name):
            return name
    raise Rejected("no Sent mailbox found (none marked \\Sent and none named Sent); set sent_mailbox")


def find_message(client: IMAPClient, folder: str, message_id: str) -> int | None:
    select(client, folder, readonly=True)
    found = client.search(["HEADER", "Message-ID", f"<{message_id}>"])
    return max(found) if found else None


def save_copy(client: IMAPClient, folder: str, data: bytes, when: datetime) -> None:
    client.append(folder, data, (b"\\Seen",), when)


def mark_answered(client: IMAPClient, extra: Mapping[str, Any], message_id: str | None) -> bool:
    """Set \\Answered on the message replied to: by its UID when the mailbox
    was not renumbered since, else found again by Message-ID."""
    mailbox = extra.get("mailbox")
    if not mailbox:
        return False
    info = select(client, mailbox, readonly=False)
    uid = extra.get("uid")
    if uid is None or int(info[b"UIDVALIDITY"]) != extra.get("uidvalidity"):
        found = client.search(["HEADER", "Message-ID", f"<{message_id}>"]) if message_id else []
        uid = max(found) if found else None
    if uid is None:
        return False
    client.add_flags([uid], [b"\\Answered"])
    return True


# -- IDLE ------------------------------------------------------------------

def idle_mailbox(client: IMAPClient, mailbox: str, wake: Callable[[], None], stop: threading.Event) -> None:
    """Wake the worker whenever `mailbox` gets new mail, until `stop`."""
    if not client.has_capability("IDLE"):
        raise Rejected(f"the IMAP server does not support IDLE; {mailbox} is polled instead")
    select(client, mailbox, readonly=True)
    wake()  # mail may have come between the last poll and now
    while not stop.is_set():
        client.idle()
        started = time.monotonic()
        quick_empty = 0
        try:
            while not stop.is_set() and time.monotonic() - started < IDLE_RENEW_SECONDS:
                t = time.monotonic()
                responses = client.idle_check(timeout=IDLE_CHECK_SECONDS)
                if any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses if isinstance(r, tuple)):
                    wake()
                if any(r and r[0] == b"BYE" for r in responses if isinstance(r, tuple)):
                    raise Transient(f"the IMAP server ended the IDLE connection for {mailbox}")
                # IMAPClient swallows end-of-file: the socket polls readable and
                # nothing comes. Twice in a row means the connection is gone.
                quick_empty = quick_empty + 1 if not responses and time.monotonic() - t < IDLE_CHECK_SECONDS / 2 \
                    else 0
                if quick_empty >= 2:
                    raise Transient(f"the IMAP connection for IDLE on {mailbox} was closed")
        finally:
            with contextlib.suppress(Exception):
                client.idle_done()

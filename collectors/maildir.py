"""The maildir channel: mail read from a local Maildir folder, replies by SMTP.

For mail a local MTA (Postfix, getmail, fetchmail, mbsync) delivers to
disk, and for `replydesk demo` where no IMAP server is at hand. Parsing and
replying are the email channel's own code (collectors.email), so a message
looks and threads the same whichever way it arrived.

Nothing in the folder is moved or renamed: the channel may share the
Maildir with a mail client. The cursor is therefore about time, not place:
a file's ctime changes whenever it is created or renamed into the folder
(and cannot be set by a program, unlike mtime), so "ctime at or after the
high-water mark" finds every new file. Names seen within the last few
seconds of the mark are kept too, so files that share a clock tick are
neither skipped nor read twice. A mail client moving a file from new/ to
cur/ gives it a new ctime; it is read again and ingest drops it as a
duplicate (same Message-ID).
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from collectors.base import Channel
from collectors.email import smtp
from collectors.email.parse import DEFAULT_ATTACHMENT_CAP
from collectors.email.pool import parse_chunks
from collectors.email.replies import MailReplies
from collectors.email.settings import MAILDIR
from inbox.channel import AuthFailed, Batch, ReplyRequest, Transient

CURSOR_KEY = "maildir"
MARGIN_NS = 5_000_000_000  # names within 5 s of the high-water mark are remembered
CHUNK = 500
SENT_FOLDER = ".Sent"  # Maildir++ subfolder: mail clients and Dovecot show it as "Sent"


def _key(name: str) -> str:
    """The unique part of a Maildir file name, without the ":2,FLAGS" info."""
    return name.split(":", 1)[0]


def load_cursor(value: str | None) -> tuple[int, dict[str, int]]:
    try:
        data = json.loads(value or "")
        return int(data["t"]), {str(k): int(v) for k, v in data["recent"].items()}
    except (ValueError, KeyError, TypeError, AttributeError):
        return 0, {}


def dump_cursor(high: int, recent: dict[str, int]) -> str:
    return json.dumps({"t": high, "recent": {k: v for k, v in recent.items() if v >= high - MARGIN_NS}},
                      separators=(",", ":"), sort_keys=True)


class MaildirChannel(MailReplies, Channel):
    kind = "maildir"
    title = "Maildir"
    example_name = "drop-folder"
    settings = MAILDIR
    default_poll_seconds = 10.0
    pushes = False

    @property
    def root(self) -> Path:
        return Path(self.config["path"]).expanduser()

    def _scan(self, high: int, recent: dict[str, int]) -> list[tuple[int, str, Path]]:
        found: dict[str, tuple[int, str, Path]] = {}
        for sub in ("new", "cur"):
            try:
                entries = list(os.scandir(self.root / sub))
            except FileNotFoundError:
                raise AuthFailed(f"{self.root / sub} does not exist: `path` must be a Maildir "
                                 f"(a folder with cur/, new/ and tmp/)") from None
            except OSError as e:
                raise Transient(f"cannot read {self.root / sub}: {e}") from None
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                try:
                    ctime = entry.stat().st_ctime_ns
                except FileNotFoundError:  # moved while we looked: the next scan sees it
                    continue
                key = _key(entry.name)
                if ctime < high - MARGIN_NS or key in recent:
                    continue
                if key not in found or found[key][0] < ctime:
                    found[key] = (ctime, key, Path(entry.path))
        return sorted(found.values())

    def _read(self, path: Path, key: str) -> bytes | None:
        try:
            return path.read_bytes()
        except FileNotFoundError:  # a mail client moved it from new/ to cur/ meanwhile
            for sub in ("cur", "new"):
                for other in (self.root / sub).glob(f"{key}*"):
                    try:
                        return other.read_bytes()
                    except OSError:
                        continue
            return None  # deleted: nothing left to keep

    def fetch(self, cursors: dict[str, str]) -> Iterator[Batch]:
        high, recent = load_cursor(cursors.get(CURSOR_KEY))
        files = self._scan(high, recent)
        chunks = [(files[i:i + CHUNK], i + min(CHUNK, len(files) - i)) for i in range(0, len(files), CHUNK)]

        def raws(chunk) -> list[tuple[bytes, datetime]]:
            found = []
            for ctime, key, path in chunk[0]:
                raw = self._read(path, key)
                if raw is not None:  # None: deleted meanwhile, nothing left to keep
                    found.append((raw, datetime.fromtimestamp(ctime / 1e9, timezone.utc)))
            return found

        for (chunk, done), items in parse_chunks(chunks, raws, lambda _: len(files), self.own_addresses,
                                                 self.config.get("attachment_max_bytes") or DEFAULT_ATTACHMENT_CAP):
            for ctime, key, _ in chunk:
                recent[key] = ctime
                high = max(high, ctime)
            yield Batch(items=items, cursors={CURSOR_KEY: dump_cursor(high, recent)}, progress=(done, len(files)))

    # -- hooks of MailReplies ------------------------------------------------
    def _sent_dir(self) -> Path:
        return self.root / SENT_FOLDER

    @staticmethod
    def _tag(message_id: str) -> str:
        return hashlib.sha256(message_id.encode()).hexdigest()[:20]

    def save_copy(self, data: bytes, when: datetime) -> None:
        # The copy's file name carries a hash of its Message-ID, so has_copy is
        # a name lookup rather than reading every file of the folder.
        from email import message_from_bytes
        message_id = str(message_from_bytes(data).get("Message-ID", "")).strip().strip("<>")
        sent = self._sent_dir()
        for sub in ("tmp", "new", "cur"):
            (sent / sub).mkdir(parents=True, exist_ok=True)
        name = f"{int(when.timestamp())}.{os.getpid()}_{time.monotonic_ns()}.{socket.gethostname()}" \
               f".rd{self._tag(message_id)}"
        tmp = sent / "tmp" / name
        tmp.write_bytes(data)
        os.replace(tmp, sent / "cur" / f"{name}:2,S")

    def has_copy(self, message_id: str) -> bool:
        tag = f".rd{self._tag(message_id)}"
        for sub in ("cur", "new"):
            folder = self._sent_dir() / sub
            if folder.is_dir() and any(_key(name).endswith(tag) for name in os.listdir(folder)):
                return True
        return False

    def mark_answered(self, reply: ReplyRequest) -> None:
        """Setting the R flag means renaming the file, and this channel moves
        nothing; the answered state lives in the inbox."""

    def check(self) -> list[tuple[bool, str]]:
        ok = all((self.root / sub).is_dir() for sub in ("cur", "new"))
        results = [(ok, f"{self.root} is a Maildir" if ok else
                    f"{self.root} is not a Maildir (needs cur/ and new/): fix `path`")]
        try:
            results.append((True, smtp.probe(self.config)))
        except Exception as e:
            results.append((False, str(e)))
        return results

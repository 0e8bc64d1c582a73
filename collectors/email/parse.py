"""RFC 822 bytes -> InboundItem. Pure: no I/O, no clock unless no date is known.

Never raises and never drops: whatever is unreadable becomes a defect note
on the item, and if even that fails the item is built from the raw bytes
alone (still stored once, still visible to staff).

Ids: the Message-ID without its angle brackets is the item's external id,
so ingest's uniqueness on (account, external_id) is also the dedupe by
Message-ID a UIDVALIDITY resync needs. A message without one gets a
synthetic id hashed from fields that do not change between copies of the
same message (not Received: lines), so fetching it twice still stores it once.
"""
from __future__ import annotations

import hashlib
import re
from datetime import datetime, timezone

from inbox.channel import InboundItem
from inbox.subjects import strip_prefixes

from . import checks, quotes
from .body import content_type, cut, extract
from .headers import POLICY, addresses, clean_text, date, header, long_headers, message_ids, raw_header
from .htmltext import sanitise, to_text
from .mime import FastParser

DEFAULT_ATTACHMENT_CAP = 10 * 1024 * 1024
MAX_RAW_BYTES = 1024 * 1024  # larger sources are kept as their header only
MAX_REFERENCES = 50
MAX_SUBJECT_CHARS = 998  # RFC 5322's line limit; longer is junk, and lists show a line
SYNTHETIC_DOMAIN = "@replydesk.invalid"
_HEADER_END = re.compile(rb"\r?\n\r?\n")
MIME_PARSER = FastParser(POLICY)  # the stdlib's tree, built faster for well-formed mail (headers.PARSER is the stdlib's)


def synthetic_id(raw: bytes) -> str:
    head, _, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
    stable = [line for line in head.split(b"\n")
              if line[:5].lower() in (b"from:", b"date:", b"subje", b"to: ", b"to:\t", b"cc: ")]
    digest = hashlib.sha256(b"\n".join(stable) + b"\n\n" + body.rstrip()).hexdigest()
    return f"synthetic.{digest[:40]}{SYNTHETIC_DOMAIN}"


def is_synthetic(message_id: str | None) -> bool:
    return bool(message_id) and message_id.endswith(SYNTHETIC_DOMAIN)


def _claims_reply(subject: str, references: list[str]) -> bool:
    """Whether a subject match may thread this message: only when it has no
    references at all and its subject says it answers something ("Re:",
    "AW:", "Fwd:"), as Thunderbird does. Two separate "Invoice" questions
    from one customer stay two conversations."""
    return not references and strip_prefixes(subject) != " ".join(subject.split())


def raw_source(raw: bytes) -> tuple[str, str]:
    """The source as text for storage: UTF-8 when it is, else Latin-1 (which
    maps every byte, so the exact bytes come back with .encode('latin-1'))."""
    if len(raw) > MAX_RAW_BYTES:
        m = _HEADER_END.search(raw)
        raw = (raw[:m.end()] if m else raw[:MAX_RAW_BYTES]) + b"[body not kept: message too large]\n"
    raw = raw.replace(b"\x00", b"")  # no database stores NUL in text
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "latin-1"


def _defect_names(msg) -> list[str]:
    out = []
    for part in msg.walk() if hasattr(msg, "walk") else [msg]:
        for d in getattr(part, "defects", ()):
            out.append(type(d).__name__)
    return out


def parse_message(raw: bytes, *, own_addresses: frozenset[str] | set[str] = frozenset(),
                  attachment_cap: int = DEFAULT_ATTACHMENT_CAP,
                  received_at: datetime | None = None) -> InboundItem:
    """Parse one message. `received_at` (e.g. IMAP INTERNALDATE) stands in
    for a missing or unreadable Date; `own_addresses` are the account's."""
    own = frozenset(a.lower() for a in own_addresses)
    try:
        return _parse(raw, own, attachment_cap, received_at)
    except Exception as e:  # the last line of defence: keep the message
        return _fallback(raw, e, received_at)


def _parse(raw: bytes, own: frozenset[str], cap: int, received_at: datetime | None,
           parser=MIME_PARSER) -> InboundItem:
    msg = parser.parsebytes(raw)
    defects: list[str] = long_headers(msg)

    ids = message_ids(raw_header(msg, "Message-ID") or "")
    if ids:
        message_id = ids[0]
    else:
        message_id = synthetic_id(raw)
        defects.append("no Message-ID: a stable one was made from the content")

    senders = addresses(msg, "From", defects) or addresses(msg, "Sender") or addresses(msg, "Return-Path")
    if not senders:
        defects.append("no sender address")
    from_name, from_addr = senders[0] if senders else ("", "")
    reply_to = addresses(msg, "Reply-To") or senders[:1]
    subject = header(msg, "Subject", defects)[:MAX_SUBJECT_CHARS]
    created_at = date(msg, defects) or received_at or datetime.now(timezone.utc)

    in_reply_to = message_ids(raw_header(msg, "In-Reply-To") or "")
    refs = message_ids(raw_header(msg, "References") or "")
    references = refs + [i for i in in_reply_to if i not in refs]

    body = extract(msg, cap)
    plain = "\n\n".join(t.strip("\n") for t in body.plain if t.strip())
    html_source = "\n".join(body.html)
    html = sanitise(html_source) if html_source.strip() else None
    text = plain if plain.strip() else (to_text(html_source) if html else "")
    if not text.strip():
        names = ", ".join(a.filename for a in body.attachments[:5])
        text = f"(no text; attachments: {names})" if names else "(empty message)"
    text, shortened = cut(text)
    if shortened:
        defects.append("text shortened for storage")
    if html and len(html) > 2_000_000:
        html, _ = cut(html, 2_000_000)

    verdict = checks.run(checks.Mail(msg=msg, message_id=message_id, from_addr=from_addr, subject=subject,
                                     content_type=content_type(msg), body=body, own_addresses=own))
    for related in verdict.related_ids:  # a bounce belongs with the mail that bounced
        if related not in references:
            references.append(related)
    parent = in_reply_to[0] if in_reply_to else (references[-1] if references else None)
    references = [r for r in references if r != message_id][-MAX_REFERENCES:]

    source, source_encoding = raw_source(raw)
    defects.extend(body.defects)
    defects.extend(_defect_names(msg))
    extra = {
        "message_id": message_id,
        "reply_to": reply_to[0][1] if reply_to else from_addr,
        "reply_to_name": reply_to[0][0] if reply_to else from_name,
        "to": [a for _, a in addresses(msg, "To")],
        "cc": [a for _, a in addresses(msg, "Cc")],
        "references": references,
        "raw_encoding": source_encoding,
    }
    if verdict.reasons:
        extra["checks"] = verdict.reasons
    if verdict.details:
        extra["bounce"] = verdict.details
    return InboundItem(
        external_id=message_id, created_at=created_at, text=text,
        author_id=from_addr[:320] or "unknown", author_handle=from_addr[:320], author_name=from_name[:300],
        # The thread's root (first of References, RFC 5322) keys its conversation, so a
        # reply that arrives before its original still meets it there.
        thread_key=references[0] if references else message_id,
        parent_external_id=parent if parent != message_id else None, references=tuple(references),
        thread_by_subject=_claims_reply(subject, references), subject=subject, new_text=quotes.new_text(text),
        html=html,
        from_self=verdict.from_self, auto=verdict.auto, defects=list(dict.fromkeys(defects))[:50],
        attachments=body.attachments, extra=extra, raw=source)


def _fallback(raw: bytes, error: Exception, received_at: datetime | None) -> InboundItem:
    text = clean_text(raw.decode("utf-8", "replace"))
    head, _, body = text.replace("\r\n", "\n").partition("\n\n")
    found = re.search(r"^message-id:\s*(<[^>]+>)", head, re.IGNORECASE | re.MULTILINE)
    message_id = (message_ids(found.group(1)) if found else []) or [synthetic_id(raw)]
    sender = re.search(r"^from:.*?([\w.+-]+@[\w.-]+)", head, re.IGNORECASE | re.MULTILINE)
    subject = re.search(r"^subject:\s*(.*)$", head, re.IGNORECASE | re.MULTILINE)
    source, encoding = raw_source(raw)
    body, _ = cut(body.strip() or text)
    return InboundItem(
        external_id=message_id[0], thread_key=message_id[0], created_at=received_at or datetime.now(timezone.utc),
        text=body,
        author_id=sender.group(1).lower() if sender else "unknown",
        author_handle=sender.group(1).lower() if sender else "",
        subject=subject.group(1).strip() if subject else "",
        thread_by_subject=_claims_reply(subject.group(1) if subject else "", []), new_text=body,
        defects=[f"message could not be parsed ({type(error).__name__}); shown as raw text"],
        extra={"message_id": message_id[0], "raw_encoding": encoding}, raw=source)

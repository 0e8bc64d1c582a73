"""The parts of a MIME message: display text, HTML and attachments.

Rules a reader would expect: in multipart/alternative take the plain part
for text and the HTML part for HTML; elsewhere (mixed, related, signed,
report) inline text parts are read in order; everything else is an
attachment, kept with its size and, under the size cap, its content.
Broken structure (no boundary, bad transfer encoding, unknown charset) is
decoded as far as it goes and noted as a defect.
"""
from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass, field
from email.message import Message
from email.utils import collapse_rfc2231_value

from inbox.channel import Attachment

from .headers import PARSER, clean_text, decode_bytes, decode_words, normalise_id, raw_header

MAX_TEXT_CHARS = 500_000  # a display text longer than this is cut (and says so)
MAX_DEPTH = 30  # nesting deeper than any real mail: stop before Python's recursion limit
# Inline parts read as the message's text (the rest are attachments).
_TEXT = frozenset({"text/plain", "text/html", "text/enriched", "text/richtext", "text/x-text"})
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


@dataclass
class Body:
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    # Headers of enclosed messages (message/rfc822, text/rfc822-headers): a
    # bounce names the message that bounced there.
    enclosed: list[Message] = field(default_factory=list)
    report: list[str] = field(default_factory=list)  # message/delivery-status texts


def content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:
        return "text/plain"


def params(part: Message) -> dict[str, str]:
    """Content-Type parameters by lower-case name, RFC 2231 values joined.
    One parse per part: the stdlib re-parses the header on every get_param."""
    try:
        pairs = part.get_params() or []
    except Exception:
        return {}
    out: dict[str, str] = {}
    for key, value in pairs[1:]:  # the first pair is the type itself
        if isinstance(value, tuple):  # RFC 2231: (charset, language, value)
            try:
                value = collapse_rfc2231_value(value)
            except Exception:
                continue
        out.setdefault(key.lower(), value)
    return out


def param(part: Message, name: str) -> str | None:
    return params(part).get(name)


def payload_bytes(part: Message, defects: list[str]) -> bytes:
    """The decoded content of a leaf part (base64/quoted-printable/uuencode)."""
    try:
        data = part.get_payload(decode=True)
    except Exception as e:
        defects.append(f"{content_type(part)} part could not be decoded ({type(e).__name__})")
        data = None
    if data is None:
        raw = part.get_payload()
        data = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""
    return data


def part_text(part: Message, ctype: str, defects: list[str]) -> str:
    data = payload_bytes(part, defects)
    p = params(part)
    charset = p.get("charset")
    if not charset and ctype == "text/html":
        m = _META_CHARSET.search(data[:4096])
        charset = m.group(1).decode("ascii", "replace") if m else None
    text, defect = decode_bytes(data, charset)
    if defect:
        defects.append(defect)
    if ctype == "text/plain" and (p.get("format") or "").lower() == "flowed":
        text = unflow(text, (p.get("delsp") or "").lower() == "yes")
    return text


def unflow(text: str, delsp: bool) -> str:
    """RFC 3676: lines ending in a space continue on the next line."""
    out: list[str] = []
    buf = ""
    for line in text.split("\n"):
        line = line.rstrip("\r")
        if line.startswith(" "):  # space-stuffed
            line = line[1:]
        if line.endswith(" ") and line != "-- ":
            buf += line[:-1] if delsp else line
            continue
        out.append(buf + line)
        buf = ""
    if buf:
        out.append(buf)
    return "\n".join(out)


def _disposition(part: Message) -> str:
    try:
        return (part.get_content_disposition() or "").lower()
    except Exception:
        return ""


def _filename(part: Message, index: int, ctype: str) -> str:
    name = None
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if not name:
        name = param(part, "name")
    if name:
        name = decode_words(name) if "=?" in name else clean_text(name)
        name = name.replace("\\", "/").rsplit("/", 1)[-1].strip().strip(".") or None
    if not name:
        ext = ".eml" if ctype == "message/rfc822" else (mimetypes.guess_extension(ctype) or ".bin")
        name = f"part-{index}{ext}"
    return name[:200]


def _leaf_bytes(part: Message, ctype: str, defects: list[str]) -> bytes:
    if ctype == "message/rfc822" or part.is_multipart():
        try:
            return part.as_bytes()
        except Exception:
            try:
                return part.as_string().encode("utf-8", "replace")
            except Exception as e:
                defects.append(f"enclosed message could not be kept ({type(e).__name__})")
                return b""
    return payload_bytes(part, defects)


class Walker:
    def __init__(self, attachment_cap: int):
        self.cap = attachment_cap
        self.body = Body()
        self.count = 0

    def attach(self, part: Message, ctype: str) -> None:
        self.count += 1
        data = _leaf_bytes(part, ctype, self.body.defects)
        cid = raw_header(part, "Content-ID")
        keep = len(data) <= self.cap
        self.body.attachments.append(Attachment(
            filename=_filename(part, self.count, ctype), content_type=ctype, size=len(data),
            content=data if keep else None, truncated=not keep,
            content_id=normalise_id(cid) if cid else None))

    def visit(self, part: Message, depth: int = 0) -> None:
        if depth > MAX_DEPTH:
            self.body.defects.append("MIME nesting too deep; inner parts skipped")
            return
        ctype = content_type(part)
        # message/* parts hold parsed sub-messages, so they look multipart:
        # handle them before the generic multipart walk.
        if ctype == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner:
                self.body.enclosed.append(inner[0])
            self.attach(part, ctype)
            return
        if ctype in ("message/delivery-status", "message/global-delivery-status"):
            self.body.report.append(clean_text(_report_text(part, self.body.defects)))
            self.attach(part, ctype)
            return
        if ctype == "text/rfc822-headers":
            data = payload_bytes(part, self.body.defects)
            self.body.enclosed.append(PARSER.parsebytes(data, headersonly=True))
            self.attach(part, ctype)
            return
        if part.is_multipart():
            children = part.get_payload()
            if not isinstance(children, list) or not children:
                self.body.defects.append(f"{ctype} without parts")
                self.text_leaf(part, "text/plain")
            elif ctype == "multipart/alternative":
                self.alternative(children, depth)
            else:
                for child in children:
                    self.visit(child, depth + 1)
            return
        if ctype in _TEXT and _disposition(part) != "attachment":
            # A named text file after the body is an attachment, as mail clients show it.
            if (self.body.plain or self.body.html) and _filename_or_none(part):
                self.attach(part, ctype)
            else:
                self.text_leaf(part, ctype)
            return
        self.attach(part, ctype)

    def text_leaf(self, part: Message, ctype: str) -> None:
        text = part_text(part, ctype, self.body.defects)
        (self.body.html if ctype == "text/html" else self.body.plain).append(text)

    def alternative(self, children: list[Message], depth: int) -> None:
        # Visit each alternative into its own Walker, then keep the plain
        # text of the best plain one and the HTML of the best HTML one.
        found = []
        for child in children:
            sub = Walker(self.cap)
            sub.count = self.count
            sub.visit(child, depth + 1)
            self.count = sub.count
            found.append(sub.body)
        plain = next((b.plain for b in found if b.plain and any(t.strip() for t in b.plain)), [])
        html = next((b.html for b in reversed(found) if b.html), [])
        self.body.plain.extend(plain)
        self.body.html.extend(html)
        for b in found:
            self.body.attachments.extend(b.attachments)
            self.body.defects.extend(b.defects)
            self.body.enclosed.extend(b.enclosed)
            self.body.report.extend(b.report)


def _report_text(part: Message, defects: list[str]) -> str:
    payload = part.get_payload()
    if isinstance(payload, list):  # the parser split it into header blocks
        blocks = []
        for block in payload:
            try:
                blocks.append(block.as_string())
            except Exception:
                blocks.append("\n".join(f"{k}: {v}" for k, v in block.raw_items()))
        return "\n".join(blocks)
    return payload_bytes(part, defects).decode("utf-8", "replace")


def _filename_or_none(part: Message) -> str | None:
    try:
        return part.get_filename()
    except Exception:
        return None


def extract(msg: Message, attachment_cap: int) -> Body:
    walker = Walker(attachment_cap)
    try:
        walker.visit(msg)
    except RecursionError:
        walker.body.defects.append("MIME structure too deep to read in full")
    return walker.body


def cut(text: str, limit: int = MAX_TEXT_CHARS) -> tuple[str, bool]:
    if len(text) <= limit:
        return text, False
    return text[:limit] + "\n[… message shortened]", True

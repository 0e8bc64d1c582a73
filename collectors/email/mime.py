"""A faster MIME splitter that gives exactly the stdlib parser's tree.

The stdlib's `email.feedparser` reads a message line by line through a
generator and, for every multipart, compiles a regular expression for its
(unique) boundary: half the CPU of a first sync went there. Well-formed
mail — nearly all of it — needs none of that: the parts are between
boundary lines that `str.find` locates, and each part's header block is
short. This module splits such mail itself and builds the same
`EmailMessage` objects, with the same headers, payloads, preambles and
epilogues, as `BytesParser(policy=...).parsebytes` would.

Anything it does not handle exactly like the stdlib — a bare CR, an mbox
"From " line, a header line the stdlib would call a defect, a multipart
without its boundaries, message/delivery-status (parsed into header
blocks), repeated boundary lines — makes it hand the whole message to the
stdlib parser, so broken mail gets the stdlib's reading and its defects.
tests/email/test_mime.py checks the two agree on every fixture and on
generated mail.
"""
from __future__ import annotations

import re
from email.message import Message
from email.parser import BytesParser

_HEADER_LINE = re.compile(r"(From |[\041-\071\073-\176]*:|[\t ])")  # the stdlib's headerRE
_BLANK_LINE = re.compile(r"\n\r?\n")
MAX_DEPTH = 50  # deeper nesting goes to the stdlib (which the body walker caps anyway)


class _Unusual(Exception):
    """This message needs the stdlib parser."""


class FastParser:
    """`parsebytes(raw)` like `BytesParser(policy=policy).parsebytes(raw)`."""

    def __init__(self, policy):
        self.policy = policy
        self.factory = policy.message_factory or Message
        self.stdlib = BytesParser(policy=policy)

    def parsebytes(self, raw: bytes, headersonly: bool = False) -> Message:
        if headersonly:
            return self.stdlib.parsebytes(raw, headersonly=True)
        msg = self.fast_tree(raw)
        return msg if msg is not None else self.stdlib.parsebytes(raw)

    def fast_tree(self, raw: bytes) -> Message | None:
        """The tree, or None when this message needs the stdlib parser."""
        text = raw.decode("ascii", "surrogateescape")  # as BytesFeedParser does
        if "\r" in text and text.count("\r") != text.count("\r\n"):
            return None  # bare CRs: the stdlib splits lines on them too
        try:
            return self._part(text, 0, len(text), None, 0)[0]
        except _Unusual:
            return None

    # -- one part ------------------------------------------------------------

    def _part(self, text: str, start: int, end: int, default_type: str | None,
              depth: int) -> tuple[Message, Message]:
        """The message in text[start:end] and the feedparser's `_last`
        after it (the part whose trailing newline a parent strips)."""
        if depth > MAX_DEPTH:
            raise _Unusual
        msg = self.factory(policy=self.policy)
        if default_type:
            msg.set_default_type(default_type)
        body = self._headers(msg, text, start, end)
        ctype = msg.get_content_type()
        if ctype == "message/delivery-status":
            raise _Unusual
        maintype = ctype.partition("/")[0]
        if maintype == "message":
            inner, last = self._part(text, body, end, None, depth + 1)
            msg.attach(inner)
            return msg, last
        if maintype == "multipart":
            self._multipart(msg, ctype, text, body, end, depth)
            return msg, msg
        msg.set_payload(text[body:end])
        return msg, msg

    def _headers(self, msg: Message, text: str, start: int, end: int) -> int:
        """Parse the header block at start into msg; returns where the body begins."""
        if text.startswith("\n", start, end):
            return start + 1
        if text.startswith("\r\n", start, end):
            return start + 2
        blank = _BLANK_LINE.search(text, start, end)
        if blank is None:
            raise _Unusual  # no body separator within the part
        block = text[start:blank.start() + 1]
        lines = block.split("\n")[:-1]
        current: list[str] = []
        for line in lines:
            line += "\n"
            if not _HEADER_LINE.match(line) or line.startswith("From ") or line[0] == ":":
                raise _Unusual  # stdlib: a defect, an envelope line or the body starting early
            if line[0] in " \t":
                if not current:
                    raise _Unusual
                current.append(line)
                continue
            if current:
                msg.set_raw(*self.policy.header_source_parse(current))
            current = [line]
        if current:
            msg.set_raw(*self.policy.header_source_parse(current))
        return blank.end()

    def _multipart(self, msg: Message, ctype: str, text: str, body: int, end: int, depth: int) -> None:
        boundary = msg.get_boundary()
        if boundary is None:
            raise _Unusual
        if str(msg.get("content-transfer-encoding", "8bit")).lower() not in ("7bit", "8bit", "binary"):
            raise _Unusual  # a defect the stdlib records
        delimiters = list(_delimiters(text, "--" + boundary, body, end))
        if not delimiters or delimiters[0][2]:
            raise _Unusual  # no start boundary
        first = delimiters[0][0]
        if first > body:
            msg.preamble = _strip_eol(text[body:first])
        child_type = "message/rfc822" if ctype == "multipart/digest" else None
        for (at, after, close), following in zip(delimiters, delimiters[1:] + [None]):
            if close:
                # Everything after the closing line is the epilogue.
                msg.epilogue = text[after:end]
                return
            if following is None:
                raise _Unusual  # no closing boundary
            if following[0] == after:
                raise _Unusual  # repeated boundary lines
            part, last = self._part(text, after, following[0], child_type, depth + 1)
            msg.attach(part)
            # RFC 2046: the newline before a boundary belongs to the boundary.
            if last.get_content_maintype() == "multipart":
                if last.epilogue == "":
                    last.epilogue = None
                elif last.epilogue is not None:
                    last.epilogue = _strip_eol(last.epilogue)
            elif isinstance(last._payload, str):
                last._payload = _strip_eol(last._payload)
        raise _Unusual  # unreachable: the last delimiter either closes or raised


def _delimiters(text: str, separator: str, start: int, end: int):
    """(line start, next line's start, is closing) of each boundary line in
    text[start:end], matched as the stdlib's boundary expression does."""
    n = len(separator)
    at = text.find(separator, start, end)
    while at >= 0:
        if at == start or text[at - 1] == "\n":
            i = at + n
            close = text.startswith("--", i, end)
            if close:
                i += 2
            while i < end and text[i] in " \t":
                i += 1
            if i == end:
                yield at, end, close
                return
            if text[i] == "\n":
                yield at, i + 1, close
            elif text.startswith("\r\n", i, end):
                yield at, i + 2, close
        at = text.find(separator, at + 1, end)


def _strip_eol(s: str) -> str:
    if s.endswith("\r\n"):
        return s[:-2]
    if s.endswith("\n") or s.endswith("\r"):
        return s[:-1]
    return s

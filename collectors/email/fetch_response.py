"""Reading `UID FETCH` responses for a sync: sizes, then bodies. Pure.

IMAPClient's general response parser tokenises every response item by
item in Python; on a first sync that was a fifth of the storing process's
time. Servers answer this one command in one of two shapes —

    * 5 FETCH (UID 7 INTERNALDATE "23-Nov-2026 10:00:00 +0000" BODY[] {1234}
    <1234 bytes>)

or with UID last — so those are read with one regular expression per
message. Any other shape (FLAGS, extra items, a literal elsewhere) returns
None and the caller uses IMAPClient's parser, whose result this matches.
Sizes (`* 5 FETCH (UID 7 RFC822.SIZE 1234)`) likewise.
"""
from __future__ import annotations

import re
from datetime import datetime

from imapclient.datetime_util import parse_to_datetime

_PREFIX = re.compile(rb'\d+ \((?:UID (\d+) )?INTERNALDATE "([^"\\]*)" (?:UID (\d+) )?BODY\[\] \{(\d+)\}')
_SUFFIX = re.compile(rb"(?: UID (\d+))?\)")
_SIZE = re.compile(rb"\d+ \((?:UID (\d+) RFC822\.SIZE (\d+)|RFC822\.SIZE (\d+) UID (\d+))\)")


def read_sizes(data: list) -> dict[int, dict[bytes, int]] | None:
    """{uid: {b"RFC822.SIZE": n}} from imaplib's untagged FETCH data, or None."""
    out: dict[int, dict[bytes, int]] = {}
    for item in data:
        m = _SIZE.fullmatch(item) if isinstance(item, bytes) else None
        if m is None:
            return None
        uid, size = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
        out[int(uid)] = {b"RFC822.SIZE": int(size)}
    return out


def read_bodies(data: list, normalise_times: bool = True) -> dict[int, dict[bytes, object]] | None:
    """{uid: {b"BODY[]": bytes, b"INTERNALDATE": datetime}} from imaplib's
    untagged FETCH data, or None when it is not in a shape read here."""
    out: dict[int, dict[bytes, object]] = {}
    items = iter(data)
    for item in items:
        if not isinstance(item, tuple) or len(item) != 2:
            return None
        head, body = item
        m = _PREFIX.fullmatch(head)
        tail = next(items, None)
        t = _SUFFIX.fullmatch(tail) if isinstance(tail, bytes) else None
        if m is None or t is None or int(m.group(4)) != len(body):
            return None
        uids = [u for u in (m.group(1), m.group(3), t.group(1)) if u is not None]
        if len(uids) != 1:
            return None
        try:
            when: datetime = parse_to_datetime(m.group(2), normalise=normalise_times)
        except ValueError:
            return None  # let IMAPClient's parser say what it makes of it
        out[int(uids[0])] = {b"BODY[]": body, b"INTERNALDATE": when}
    return out

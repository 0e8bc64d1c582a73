"""The fast MIME splitter (collectors/email/mime.py) must build exactly the
stdlib parser's tree: on every real fixture, on broken variants of them,
and on hand-made edge cases of boundaries, preambles and epilogues. And the
Content-Type text it hands out unparsed must be the stdlib's text."""
from __future__ import annotations

import random
from datetime import datetime, timezone
from email import policy
from email.parser import BytesParser
from email.policy import linesep_splitter

import pytest

from collectors.email import parse
from collectors.email.headers import POLICY, _plain_content_type
from collectors.email.mime import FastParser

from .conftest import fixture_files

STDLIB = BytesParser(policy=POLICY)
FAST = FastParser(POLICY)


def shape(msg) -> tuple:
    payload = msg._payload
    return (type(msg).__name__, msg._headers, msg._unixfrom, msg._default_type, msg.preamble, msg.epilogue,
            [type(d).__name__ for d in msg.defects],
            [shape(p) for p in payload] if isinstance(payload, list) else payload)


@pytest.fixture(scope="module")
def corpus() -> list[bytes]:
    return [p.read_bytes() for p in fixture_files()]


def test_same_tree_as_the_stdlib_on_every_fixture(corpus):
    for raw in corpus:
        assert shape(FAST.parsebytes(raw)) == shape(STDLIB.parsebytes(raw)), raw[:300]


def test_most_fixtures_take_the_fast_path(corpus):
    # The fixtures are collected to be odd, so many fall back; still, the
    # fast path must be the rule or it is not worth having.
    fast = sum(1 for raw in corpus if FAST.fast_tree(raw) is not None)
    assert fast > len(corpus) * 0.6, fast


def _mutate(rng: random.Random, raw: bytes) -> bytes:
    lines = raw.split(b"\n")
    for _ in range(rng.randint(1, 4)):
        if not lines:
            break
        i = rng.randrange(len(lines))
        kind = rng.randrange(6)
        if kind == 0:
            del lines[i]
        elif kind == 1:
            lines.insert(i, lines[rng.randrange(len(lines))])  # e.g. a boundary line twice
        elif kind == 2:
            lines[i] = lines[i].rstrip(b"\r") + rng.choice([b" ", b"\t", b"--", b"\r\r", b"x"]) + b"\r"
        elif kind == 3:
            lines.insert(i, b"")
        elif kind == 4:
            lines[i] = lines[i].replace(b":", b"", 1)
        else:
            lines = lines[:i]  # cut short
    return b"\n".join(lines)


def test_same_tree_on_broken_variants(corpus):
    rng = random.Random(4)
    for _ in range(1500):
        raw = _mutate(rng, rng.choice(corpus))
        assert shape(FAST.parsebytes(raw)) == shape(STDLIB.parsebytes(raw)), raw[:300]


EDGE_CASES = {
    "preamble, epilogue, whitespace after boundaries": (
        "Content-Type: multipart/mixed; boundary=XX\n\npreamble line\n\n--XX  \nContent-Type: text/plain\n\n"
        "one\n--XX\t\n\ntwo with no headers\n--XX--  \nepilogue\n"),
    "CRLF, nested multipart with its own epilogue": (
        "Content-Type: multipart/mixed; boundary=\"o\"\r\n\r\n--o\r\nContent-Type: multipart/alternative; "
        "boundary=i\r\n\r\n--i\r\nContent-Type: text/plain\r\n\r\nplain\r\n--i\r\nContent-Type: text/html\r\n\r\n"
        "<p>html</p>\r\n--i--\r\ninner epilogue\r\n\r\n--o\r\nContent-Type: application/pdf\r\n\r\nJVBER\r\n--o--\r\n"),
    "boundary-like lines that are not boundaries": (
        "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\n--bb\n --b\n--b-\n--b--x\n"
        "--b\n\nsecond\n--b--"),
    "close boundary at the end without a newline": (
        "Content-Type: multipart/mixed; boundary=b\n\n--b\n\nonly\n--b--"),
    "empty part body and empty epilogue": (
        "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\n\n--b\n\nx\n--b--\n"),
    "a digest's parts are messages": (
        "Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: one\n\nfirst\n--d\n\nSubject: two\n\n"
        "second\n--d--\n"),
    "an enclosed message holding a multipart": (
        "Content-Type: multipart/mixed; boundary=a\n\n--a\nContent-Type: message/rfc822\n\nSubject: in\n"
        "Content-Type: multipart/alternative; boundary=z\n\n--z\n\nhi\n--z--\n\n--a--\n"),
    "folded headers in parts": (
        "Content-Type: multipart/mixed;\n boundary=\"f\"\nSubject: x\n\tcontinued\n\n--f\nContent-Type: text/plain;"
        "\n\tcharset=utf-8\n\nbody\n--f--\n"),
    "no close boundary": "Content-Type: multipart/mixed; boundary=b\n\n--b\n\ntext\n",
    "no start boundary": "Content-Type: multipart/mixed; boundary=b\n\njust text\n",
    "no boundary parameter": "Content-Type: multipart/mixed\n\n--b\n\ntext\n--b--\n",
    "repeated boundary lines": "Content-Type: multipart/mixed; boundary=b\n\n--b\n--b\n\ntext\n--b--\n",
    "bare CR": "Subject: x\r\rbody\r",
    "mbox From line": "From someone Mon Jan 1 00:00:00 2024\nSubject: x\n\nbody\n",
    "no body separator": "Subject: x\nnot a header line\nbody\n",
    "headers only": "Subject: x\n",
    "continuation first": " folded\nSubject: x\n\nbody\n",
    "delivery status": ("Content-Type: multipart/report; report-type=delivery-status; boundary=r\n\n--r\n\nfailed\n"
                        "--r\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; x\n\nFinal-Recipient: "
                        "rfc822; a@b\nAction: failed\n\n--r--\n"),
    "base64 multipart (a defect)": ("Content-Type: multipart/mixed; boundary=b\nContent-Transfer-Encoding: base64"
                                    "\n\n--b\n\nx\n--b--\n"),
    "empty message": "",
}


@pytest.mark.parametrize("name", list(EDGE_CASES))
def test_same_tree_on_edge_cases(name):
    raw = EDGE_CASES[name].encode()
    assert shape(FAST.parsebytes(raw)) == shape(STDLIB.parsebytes(raw))


def test_well_formed_edge_cases_do_not_fall_back():
    for name in ("preamble, epilogue, whitespace after boundaries", "CRLF, nested multipart with its own epilogue",
                 "boundary-like lines that are not boundaries", "a digest's parts are messages",
                 "an enclosed message holding a multipart", "folded headers in parts"):
        assert FAST.fast_tree(EDGE_CASES[name].encode()) is not None, name


def test_parsed_items_are_the_same_as_with_the_stdlib_parser(corpus):
    own, cap, when = frozenset({"support@acme.test"}), parse.DEFAULT_ATTACHMENT_CAP, datetime(2026, 1, 5, tzinfo=timezone.utc)
    for raw in corpus:
        fast = parse._parse(raw, own, cap, when)
        slow = parse._parse(raw, own, cap, when, parser=STDLIB)
        assert fast == slow, raw[:300]


def test_content_type_text_is_the_stdlibs(corpus):
    values = {"".join(linesep_splitter.split(v)) for raw in corpus for part in STDLIB.parsebytes(raw).walk()
              for k, v in part._headers if k.lower() == "content-type"}
    values |= {"text/plain; charset=utf-8 ", "text/plain;charset=utf-8 ;format=flowed", "Text/Plain; CHARSET=X",
               'text/plain; a="b c"', 'text/plain; a="x;y=z"', 'text/plain; name=""', "text/plain; x=a'b",
               'text/plain; name="a"; name="a"', "text/html   ; charset=x", 'text/plain; name="=?utf-8?q?a?="'}
    plain = 0
    for value in values:
        text = _plain_content_type(value)
        if text is not None:
            plain += 1
            assert text == str(policy.default.header_factory("Content-Type", value)), value
    assert plain > len(values) * 0.5


def test_unparsed_content_type_still_answers_as_a_header_object():
    msg = FAST.parsebytes(b"Content-Type: text/plain; charset=utf-8; format=flowed\n\nhi\n")
    header = msg["content-type"]
    assert str(header) == 'text/plain; charset="utf-8"; format="flowed"'
    assert header.content_type == "text/plain" and header.params["format"] == "flowed"
    assert msg.get_content_charset() == "utf-8"

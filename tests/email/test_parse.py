"""Parsing (pure, no server): charsets, encoded headers, ids, structure,
attachments, HTML, defects — and never an exception, whatever the bytes."""
from __future__ import annotations

import random
from datetime import datetime, timezone

import pytest

from collectors.email.headers import clean_text, decode_bytes, message_ids, normalise_id
from collectors.email.htmltext import sanitise, to_text
from collectors.email.parse import is_synthetic, parse_message

from .conftest import FIXTURES


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def simple(headers: str, body: bytes = b"Hello\r\n") -> bytes:
    return headers.replace("\n", "\r\n").encode("latin-1") + b"\r\n\r\n" + body


@pytest.mark.parametrize("name, expected", [
    ("webklex_php_imap/gbk_charset.eml", None),
    ("mikel_mail/multi_charset__japanese_iso_2022.eml", "すみません"),
    ("mikel_mail/multi_charset__japanese_shift_jis.eml", None),
    ("mikel_mail/multi_charset__ks_c_5601-1987.eml", None),
    ("james_mime4j/mimetools-testmsgs__russian.eml", None),
])
def test_bodies_in_many_charsets_come_out_as_text(name, expected):
    item = parse_message(fixture(name))
    assert item.text.strip() and "\ufffd" not in item.text
    if expected:
        assert expected in item.text


def test_encoded_headers_in_korean_and_german():
    item = parse_message(fixture("webklex_php_imap/ks_c_5601-1987_headers.eml"))
    assert item.author_name == "김 현진"
    assert item.subject.startswith("RE: 회원님께")
    raw = simple("From: =?ISO-8859-1?Q?J=FCrgen_M=FCller?= <J.Mueller@Example.DE>\n"
                 "Subject: =?utf-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=\nMessage-ID: <x1@example.de>")
    item = parse_message(raw)
    assert (item.author_name, item.author_id, item.subject) == ("Jürgen Müller", "j.mueller@example.de",
                                                                 "Grüße aus Köln")


def test_unknown_charset_is_decoded_and_noted():
    item = parse_message(fixture("enmime/low-quality__unk-charset-part.eml"))
    assert item.text == "A text section"
    assert any("unknown charset" in d for d in item.defects)


def test_undeclared_8bit_header_bytes_are_guessed():
    raw = b"From: a@example.com\r\nSubject: " + "Grüße".encode("cp1252") + b"\r\n\r\nx\r\n"
    assert parse_message(raw).subject == "Grüße"
    raw = b"From: a@example.com\r\nSubject: " + "新建文本文档".encode("gbk") + b"\r\n\r\nx\r\n"
    assert parse_message(raw).subject == "新建文本文档"


def test_decode_bytes_prefers_utf8_mislabelled_as_latin1():
    assert decode_bytes("Zoë".encode(), "iso-8859-1") == ("Zoë", None)
    assert decode_bytes("Zoë".encode("latin-1"), "iso-8859-1") == ("Zoë", None)
    text, defect = decode_bytes(b"caf\xe9", "x-made-up")
    assert text == "café" and "unknown charset" in defect


def test_text_is_safe_for_any_database():
    assert clean_text("a\x00b\udcff") == "abÿ"
    item = parse_message(b"From: a@example.com\r\nSubject: nul\x00here\r\n\r\nbody\x00text\r\n")
    assert "\x00" not in item.text + item.subject + (item.raw or "")


def test_message_ids_are_normalised_and_synthetic_ones_stable():
    assert message_ids("<a@b> junk <c@d>\r\n <a@b>") == ["a@b", "c@d"]
    assert message_ids("bare@id.example") == ["bare@id.example"]
    assert message_ids("not an id") == []
    assert normalise_id(" < x @ y > ") == "x@y"
    assert len(normalise_id("<" + "x" * 400 + "@y>")) < 100
    raw = simple("From: a@example.com\nSubject: no id\nDate: Mon, 3 Jun 2024 10:00:00 +0000")
    first = parse_message(raw)
    assert is_synthetic(first.external_id)
    # A copy with other Received lines and CRLF->LF is the same message.
    copy = b"Received: from elsewhere\n" + raw.replace(b"\r\n", b"\n")
    assert parse_message(copy).external_id == first.external_id


def test_references_in_order_with_in_reply_to_last_and_parent():
    raw = simple("From: a@example.com\nMessage-ID: <m3@x>\nReferences: <m1@x> <m2@x>\nIn-Reply-To: <m2@x>")
    item = parse_message(raw)
    assert item.references == ("m1@x", "m2@x")
    assert item.parent_external_id == "m2@x"
    assert item.thread_key == "m1@x"
    only_irt = parse_message(simple("From: a@example.com\nMessage-ID: <m4@x>\nIn-Reply-To: <m3@x>"))
    assert only_irt.references == ("m3@x",) and only_irt.parent_external_id == "m3@x"


def test_reply_to_is_kept_for_answering():
    item = parse_message(simple("From: Carla <carla@work.example>\nReply-To: Carla Home <c@home.example>\n"
                                "Message-ID: <r@x>"))
    assert item.author_id == "carla@work.example"
    assert (item.extra["reply_to"], item.extra["reply_to_name"]) == ("c@home.example", "Carla Home")


def test_html_only_mail_gets_text_and_sanitised_html():
    item = parse_message(fixture("webklex_php_imap/html_only.eml"))
    assert item.html and item.text.strip()
    assert "<" not in item.text
    evil = simple("From: a@example.com\nContent-Type: text/html; charset=utf-8",
                  b"<p onclick='x()'>Hi<script>alert(1)</script><img src='cid:logo' alt=logo>"
                  b"<a href='javascript:evil()'>x</a></p><blockquote>old</blockquote>")
    item = parse_message(evil)
    assert "script" not in item.html and "onclick" not in item.html and "javascript" not in item.html
    assert 'src="cid:logo"' in item.html
    assert item.text.splitlines()[0] == "Hi[logo]x" and "> old" in item.text
    assert item.new_text == "Hi[logo]x"


def test_dates_become_utc_and_missing_ones_use_the_server_date():
    item = parse_message(simple("From: a@example.com\nDate: Mon, 3 Jun 2024 12:00:00 +0200"))
    assert item.created_at == datetime(2024, 6, 3, 10, 0, tzinfo=timezone.utc)
    received = datetime(2024, 1, 1, tzinfo=timezone.utc)
    assert parse_message(fixture("webklex_php_imap/missing_date.eml"), received_at=received).created_at == received
    bad = parse_message(simple("From: a@example.com\nDate: yesterday-ish"), received_at=received)
    assert bad.created_at == received and "Date header could not be read" in bad.defects


def test_attachments_keep_name_size_and_content_under_the_cap():
    item = parse_message(fixture("mikel_mail/attachment_emails__attachment_pdf.eml"))
    [pdf] = [a for a in item.attachments if a.content_type == "application/pdf"]
    assert pdf.filename.endswith(".pdf") and pdf.size > 1000 and pdf.content[:4] == b"%PDF"
    capped = parse_message(fixture("mikel_mail/attachment_emails__attachment_pdf.eml"), attachment_cap=100)
    [pdf] = [a for a in capped.attachments if a.content_type == "application/pdf"]
    assert pdf.content is None and pdf.truncated and pdf.size > 1000


def test_encoded_attachment_names():
    item = parse_message(fixture("webklex_php_imap/attachment_encoded_filename.eml"))
    assert item.attachments and all("=?" not in a.filename for a in item.attachments)


def test_broken_mime_is_read_as_far_as_it_goes():
    item = parse_message(fixture("flanker/missing-final-boundary.eml"))
    assert item.text.strip()
    item = parse_message(fixture("enmime/mail__multipart-wo-boundary.eml"))
    assert item.text.strip() and item.defects


def test_no_bytes_crash_the_parser():
    rng = random.Random(3)
    sources = [p.read_bytes() for p in sorted(FIXTURES.rglob("*.eml"))[:40]]
    for n in range(300):
        base = bytearray(rng.choice(sources))
        for _ in range(rng.randint(1, 20)):  # flip, cut and splice bytes
            i = rng.randrange(len(base) or 1)
            base[i:i + rng.randint(0, 50)] = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 8)))
        item = parse_message(bytes(base))
        assert item.external_id and item.text


def test_html_to_text_keeps_structure():
    text = to_text("<h1>Title</h1><p>One<br>Two</p><ul><li>a</li><li>b</li></ul>"
                   "<a href='https://x.example/p'>link</a><style>p{}</style>")
    assert text == "Title\n\nOne\nTwo\n\n- a\n- b\n\nlink <https://x.example/p>"
    assert sanitise("<iframe src=x></iframe><b>ok</b>") == "<b>ok</b>"


def test_subject_threading_only_for_replies_without_references():
    assert parse_message(simple("From: a@example.com\nSubject: RE: Order 5")).thread_by_subject
    assert parse_message(simple("From: a@example.com\nSubject: AW: Bestellung")).thread_by_subject
    assert not parse_message(simple("From: a@example.com\nSubject: Order 5")).thread_by_subject
    assert not parse_message(simple("From: a@example.com\nSubject: Re: Order 5\nIn-Reply-To: <x@y>")
                             ).thread_by_subject

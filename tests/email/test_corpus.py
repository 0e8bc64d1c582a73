"""All 415 real-world messages (tests/fixtures/email): none may crash the
channel, each is stored once with readable text, and a second collect
stores nothing new. Parsed alone first (fast, precise failures), then
appended to Dovecot and collected over IMAP into SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import timezone

import pytest
from sqlalchemy import func, select

from collectors.email.parse import parse_message
from inbox.models import Message

from .conftest import collect, fixture_files


@pytest.fixture(scope="module")
def corpus() -> list[tuple[str, bytes]]:
    return [(str(p.relative_to(p.parents[1])), p.read_bytes()) for p in fixture_files()]


def test_the_corpus_is_complete(corpus):
    assert len(corpus) == 415


def test_every_message_parses_into_readable_text(corpus):
    for name, raw in corpus:
        item = parse_message(raw, own_addresses={"support@acme.test"})
        assert item.external_id, name
        assert item.text.strip(), name
        assert item.created_at.tzinfo is not None, name
        for value in (item.text, item.new_text or "", item.subject or "", item.html or "", item.author_name,
                      item.raw or ""):
            value.encode("utf-8")  # no lone surrogates: any database takes it
            assert "\x00" not in value, name
        # A replacement character only where the source itself has one.
        if "\ufffd" in item.text:
            assert b"\xef\xbf\xbd" in raw, name


def test_parsing_is_stable(corpus):
    """Same bytes, same id: a message without Message-ID is stored once too."""
    for name, raw in corpus:
        assert parse_message(raw).external_id == parse_message(raw).external_id, name


def test_all_fixtures_collected_over_imap_each_once(dovecot, mail_user, make_channel, email_account, factory, corpus):
    raws = [raw for _, raw in corpus]
    assert dovecot.append_many(raws, user=mail_user[0]) == 415
    channel = make_channel()
    expected = {parse_message(raw).external_id for raw in raws}

    first = collect(channel, factory)
    # Some fixtures are variants of one message sharing a Message-ID: one each.
    assert first.new == len(expected)
    assert first.new + first.duplicates == 415
    with factory() as s:
        stored = list(s.execute(select(Message.external_id, Message.text)))
    assert {ext for ext, _ in stored} == expected
    assert len(stored) == len(expected)
    assert all(text.strip() for _, text in stored)

    second = collect(channel, factory)
    assert (second.new, second.duplicates) == (0, 0)
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == len(expected)

    # BODY.PEEK: collecting never marks mail read in the customer's mailbox.
    with dovecot.client(mail_user[0]) as c:
        c.select_folder("INBOX", readonly=True)
        assert c.search(["SEEN"]) == []


def test_dates_are_utc(corpus):
    for name, raw in corpus[:50]:
        assert parse_message(raw).created_at.utcoffset() == timezone.utc.utcoffset(None), name

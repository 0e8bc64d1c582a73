"""The maildir channel: a local folder read without moving anything,
nothing skipped or stored twice, replies over real SMTP with a copy in
.Sent that the crash check finds."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from collectors.maildir import MARGIN_NS, MaildirChannel, dump_cursor, load_cursor
from inbox.channel import AuthFailed, ReplyRequest
from inbox.models import Message

from .conftest import collect, fixture_files, mail, open_channel


def deliver(root: Path, raw: bytes, name: str | None = None) -> Path:
    """How an MTA delivers: write in tmp/, rename into new/."""
    name = name or f"{time.time_ns()}.{os.getpid()}.test"
    tmp = root / "tmp" / name
    tmp.write_bytes(raw)
    target = root / "new" / name
    os.rename(tmp, target)
    return target


@pytest.fixture
def maildir(tmp_path) -> Path:
    root = tmp_path / "Maildir"
    for sub in ("tmp", "new", "cur"):
        (root / sub).mkdir(parents=True)
    return root


@pytest.fixture
def make_maildir(maildir, smtp, opened):
    def make(**overrides) -> MaildirChannel:
        raw = dict(path=str(maildir), address="support@acme.test", smtp_host=smtp.host, smtp_port=smtp.port,
                   smtp_security="none")
        return open_channel(opened, "maildir", {**raw, **overrides})
    return make


@pytest.fixture
def maildir_account(make_account):
    return make_account("support", kind="maildir")


def stored(factory) -> int:
    with factory() as s:
        return s.scalar(select(func.count()).select_from(Message))


def test_new_files_are_read_once_and_nothing_is_moved(maildir, make_maildir, maildir_account, factory):
    for n in range(3):
        deliver(maildir, mail(f"Question {n}"))
    before = sorted(os.listdir(maildir / "new"))
    channel = make_maildir()
    assert collect(channel, factory).new == 3
    assert sorted(os.listdir(maildir / "new")) == before
    assert collect(channel, factory).new == 0

    deliver(maildir, mail("Question 3"))
    assert collect(channel, factory).new == 1
    # A mail client moves a message to cur/ and marks it seen: no duplicate.
    name = sorted(os.listdir(maildir / "new"))[0]
    os.rename(maildir / "new" / name, maildir / "cur" / f"{name}:2,S")
    result = collect(channel, factory)
    assert result.new == 0
    assert stored(factory) == 4


def test_files_sharing_the_high_water_tick_are_read_once(maildir, make_maildir):
    channel = make_maildir()
    a, b = deliver(maildir, mail("A")), deliver(maildir, mail("B"))
    tick = max(os.stat(a).st_ctime_ns, os.stat(b).st_ctime_ns)
    # As if a poll read A and ended on B's tick before B was visible.
    cursor = dump_cursor(tick, {a.name: os.stat(a).st_ctime_ns})
    [batch] = list(channel.fetch({"maildir": cursor}))
    assert [i.subject for i in batch.items] == ["B"]
    assert list(channel.fetch(batch.cursors)) == []


def test_cursor_forgets_names_older_than_its_margin():
    high = 10 * MARGIN_NS
    cursor = load_cursor(dump_cursor(high, {"old": high - MARGIN_NS - 1, "new": high - 1}))
    assert cursor == (high, {"new": high - 1})
    assert load_cursor("not json") == (0, {})


def test_every_fixture_goes_through_the_maildir_channel(maildir, make_maildir, maildir_account, factory):
    files = fixture_files()
    for n, path in enumerate(files):
        deliver(maildir, path.read_bytes(), name=f"{n:04d}.fixture")
    result = collect(make_maildir(), factory)
    assert result.new + result.duplicates == len(files)
    assert stored(factory) == result.new


def test_reply_goes_out_by_smtp_with_a_copy_in_sent(maildir, make_maildir, smtp):
    channel = make_maildir()
    req = ReplyRequest(reply_id=1, idempotency_key="md-1", account="support", text="On its way.",
                       parent_external_id="p1@example.com", parent_author_id="carla@example.com",
                       parent_subject="Order", parent_text="Where is it?")
    ref = channel.send(req)
    assert channel.find_sent(req) is None  # the copy is saved once the outbox recorded the reply
    assert channel.after_sent(req, ref) == []
    [got] = smtp.wait_for(1)
    assert got.message["Message-ID"] == f"<{ref.external_id}>"
    assert got.message["In-Reply-To"] == "<p1@example.com>"
    copies = list((maildir / ".Sent" / "cur").iterdir())
    assert len(copies) == 1 and copies[0].name.endswith(":2,S")
    assert channel.find_sent(req).external_id == ref.external_id
    assert channel.find_sent(ReplyRequest(reply_id=2, idempotency_key="md-2", account="support", text="x")) is None
    # The copy in .Sent is not read back as new mail.
    assert [b.items for b in channel.fetch({})] == []


def test_a_folder_that_is_not_a_maildir_says_so(tmp_path, make_maildir):
    channel = make_maildir(path=str(tmp_path / "nowhere"))
    with pytest.raises(AuthFailed, match="Maildir"):
        list(channel.fetch({}))
    assert not channel.check()[0][0]

"""The email channel against a real Dovecot: cursors, threading through
ingest, UIDVALIDITY resets, IDLE, TLS, and failures mapped to our errors."""
from __future__ import annotations

import statistics
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from collectors import runner
from collectors.email import EmailChannel
from collectors.standins.common import free_port
from inbox.channel import AuthFailed, ChannelError, Transient
from inbox.models import Account, Conversation, Cursor, Message

from .conftest import account_config, collect, email_settings, mail


def conversation_of(factory, external_id: str) -> int:
    with factory() as s:
        return s.scalar(select(Message.conversation_id).where(Message.external_id == external_id))


def test_thread_with_clients_that_drop_references(dovecot, mail_user, make_channel, email_account, factory):
    user = mail_user[0]
    dovecot.append(mail("Order 1234 never arrived", message_id="<a1@example.com>"), user=user)
    channel = make_channel()
    collect(channel, factory)
    # A reply with both headers; one whose client kept only In-Reply-To; one
    # (Outlook-style) with neither, only "RE:" and the same sender.
    dovecot.append(mail("Re: Order 1234 never arrived", message_id="<a2@example.com>",
                        in_reply_to="<a1@example.com>", references=["<a1@example.com>"]), user=user)
    dovecot.append(mail("Re: Order 1234 never arrived", message_id="<a3@example.com>",
                        in_reply_to="<a2@example.com>"), user=user)
    dovecot.append(mail("RE: Order 1234 never arrived", message_id="<a4@example.com>"), user=user)
    # Same subject, other customer: a conversation of its own.
    dovecot.append(mail("Re: Order 1234 never arrived", sender="Bob <bob@example.net>",
                        message_id="<b1@example.net>"), user=user)
    # The same customer about something else.
    dovecot.append(mail("Invoice for May", message_id="<a5@example.com>"), user=user)
    assert collect(channel, factory).new == 5

    first = conversation_of(factory, "a1@example.com")
    assert {conversation_of(factory, f"a{n}@example.com") for n in (2, 3, 4)} == {first}
    assert conversation_of(factory, "b1@example.net") != first
    assert conversation_of(factory, "a5@example.com") not in (first, conversation_of(factory, "b1@example.net"))


def test_reply_arriving_before_its_original_meets_it(dovecot, mail_user, make_channel, email_account, factory):
    user = mail_user[0]
    dovecot.append(mail("Re: Broken kettle", message_id="<k2@example.com>", in_reply_to="<k1@example.com>",
                        references=["<k1@example.com>"]), user=user)
    channel = make_channel()
    collect(channel, factory)
    dovecot.append(mail("Broken kettle", message_id="<k1@example.com>"), user=user)
    collect(channel, factory)
    assert conversation_of(factory, "k1@example.com") == conversation_of(factory, "k2@example.com")


def test_uidvalidity_reset_resyncs_without_duplicates(dovecot, mail_user, make_channel, email_account, factory):
    user = mail_user[0]
    for n in range(3):
        dovecot.append(mail(f"Question {n}", message_id=f"<q{n}@example.com>"), user=user)
    channel = make_channel()
    collect(channel, factory)
    new_validity = dovecot.reset_uidvalidity(user=user)
    dovecot.append(mail("Question 3", message_id="<q3@example.com>"), user=user)

    batches = list(channel.fetch(_cursors(factory)))
    assert "UIDVALIDITY" in (batches[0].note or "")
    result = collect(channel, factory)
    assert (result.new, result.duplicates) == (1, 3)
    with factory() as s:
        assert len(s.scalars(select(Message.id)).all()) == 4
    assert _cursors(factory)["INBOX"].startswith(f"{new_validity}:")


def _cursors(factory) -> dict[str, str]:
    with factory() as s:
        return dict(s.execute(select(Cursor.key, Cursor.value)).all())


def test_first_sync_reaches_back_initial_days_only(dovecot, mail_user, make_channel, email_account, factory):
    user = mail_user[0]
    old = datetime.now(timezone.utc) - timedelta(days=90)
    dovecot.append(mail("Old question", message_id="<old@example.com>", date=old), user=user, when=old)
    dovecot.append(mail("New question", message_id="<new@example.com>"), user=user)
    channel = make_channel(initial_days=30)
    assert collect(channel, factory).new == 1
    # Old mail moved in later has a new UID: it is after the cursor, so it comes in.
    dovecot.append(mail("Moved in later", message_id="<later@example.com>", date=old), user=user, when=old)
    assert collect(channel, factory).new == 1


def test_large_first_sync_shows_progress(dovecot, mail_user, make_channel, email_account, factory):
    user = mail_user[0]
    dovecot.append_many([mail(f"Question {n}") for n in range(1100)], user=user)
    channel = make_channel()
    batches = []
    for batch in channel.fetch({}):
        batches.append((batch.progress, len(batch.items)))
    assert [p for p, _ in batches] == [(500, 1100), (1000, 1100), (1100, 1100)]
    assert sum(n for _, n in batches) == 1100


def test_several_mailboxes_have_their_own_cursors(dovecot, mail_user, make_channel, email_account, factory):
    user = mail_user[0]
    dovecot.create_mailbox("Billing", user=user)
    dovecot.append(mail("Hello inbox"), user=user)
    dovecot.append(mail("Hello billing"), mailbox="Billing", user=user)
    channel = make_channel(mailboxes=["INBOX", "Billing"])
    assert collect(channel, factory).new == 2
    assert set(_cursors(factory)) == {"INBOX", "Billing"}
    dovecot.append(mail("Billing again"), mailbox="Billing", user=user)
    assert collect(channel, factory).new == 1
    with factory() as s:
        boxes = [m.extra["mailbox"] for m in s.scalars(select(Message).order_by(Message.id))]
    assert sorted(boxes) == ["Billing", "Billing", "INBOX"]


def test_poll_with_no_new_mail_is_cheap(dovecot, mail_user, make_channel, email_account, factory):
    dovecot.append_many([mail(f"Question {n}") for n in range(50)], user=mail_user[0])
    channel = make_channel()
    collect(channel, factory)
    cursors = _cursors(factory)
    times = []
    for _ in range(30):
        t = time.perf_counter()
        assert list(channel.fetch(cursors)) == []
        times.append((time.perf_counter() - t) * 1000)
    # One EXAMINE on a kept-open connection; generous for a loaded test machine.
    assert statistics.median(times) < 20


def test_idle_wakes_within_a_second_of_delivery(dovecot, mail_user, make_channel):
    channel = make_channel()
    woke: list[float] = []
    stop = threading.Event()
    errors: list[Exception] = []

    def listen():
        try:
            channel.listen(lambda: woke.append(time.perf_counter()), stop)
        except Exception as e:
            errors.append(e)

    t = threading.Thread(target=listen)
    t.start()
    try:
        _wait(lambda: woke, 5)  # the first wake comes at start
        latencies = []
        for n in range(3):
            before = len(woke)
            dovecot.append(mail(f"Help {n}"), user=mail_user[0])
            delivered = time.perf_counter()
            _wait(lambda: len(woke) > before, 5)
            latencies.append(woke[-1] - delivered)
        assert statistics.median(latencies) < 1.0
    finally:
        stop.set()
        t.join(5)
    assert not t.is_alive() and errors == []


def test_idle_that_breaks_raises_so_the_worker_polls(dovecot, mail_user, make_channel):
    channel = make_channel()
    stop = threading.Event()
    failures: list[Exception] = []
    woke: list[int] = []

    def listen():
        try:
            channel.listen(lambda: woke.append(1), stop)
        except Exception as e:
            failures.append(e)

    t = threading.Thread(target=listen)
    t.start()
    _wait(lambda: woke, 5)
    dovecot.kick(mail_user[0])  # the server drops the connection
    t.join(10)
    stop.set()
    assert not t.is_alive()
    assert failures and isinstance(failures[0], ChannelError)
    # Polling still works once the server is back.
    assert channel.check()[0][0]


def _wait(condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.01)


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_tls_with_a_self_signed_certificate(security, dovecot, mail_user, make_channel, email_account, factory):
    dovecot.append(mail("Over TLS"), user=mail_user[0])
    port = dovecot.ssl_port if security == "ssl" else dovecot.port
    channel = make_channel(imap_security=security, imap_port=port)
    assert collect(channel, factory).new == 1


def test_untrusted_certificate_is_an_auth_failure_that_says_what_to_do(dovecot, mail_user, make_channel):
    channel = make_channel(imap_security="ssl", imap_port=dovecot.ssl_port, ca_file="")
    with pytest.raises(AuthFailed, match="ca_file"):
        list(channel.fetch({}))


def test_wrong_password_is_auth_failed_and_never_shows_the_password(dovecot, smtp, email_account, factory):
    secret = "wrong-Secret-123"
    channel = EmailChannel(account_config("email", email_settings(dovecot, ("user000", secret), smtp)))
    with pytest.raises(AuthFailed) as err:
        list(channel.fetch({}))
    assert secret not in str(err.value)
    result = runner.poll_once(channel, factory)
    assert result.error.startswith("auth_failed") and secret not in result.error
    with factory() as s:
        acc = s.scalar(select(Account))
        assert acc.health == "auth" or acc.auth_failures >= 1
        assert secret not in (acc.last_error or "")


def test_unreachable_server_is_transient(smtp, dovecot, mail_user):
    channel = EmailChannel(account_config("email", email_settings(dovecot, mail_user, smtp, imap_port=free_port(),
                                                                  imap_security="none")))
    with pytest.raises(Transient):
        list(channel.fetch({}))


def test_collect_keeps_mail_unread_and_stores_each_message_once(dovecot, mail_user, make_channel, email_account,
                                                                factory):
    for n in range(5):
        dovecot.append(mail(f"Q{n}"), user=mail_user[0])
    channel = make_channel()
    assert collect(channel, factory).new == 5
    again = collect(channel, factory)
    assert (again.new, again.duplicates) == (0, 0)
    with dovecot.client(mail_user[0]) as c:
        c.select_folder("INBOX", readonly=True)
        assert c.search(["SEEN"]) == []
    with factory() as s:
        assert s.scalar(select(Conversation.awaiting_reply).limit(1)) is True


def test_a_mailbox_that_does_not_exist_says_what_to_fix(make_channel):
    with pytest.raises(AuthFailed, match="mailboxes"):
        list(make_channel(mailboxes=["INBOX", "Nope"]).fetch({}))

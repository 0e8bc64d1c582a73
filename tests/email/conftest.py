"""Real servers for the email tests: a private Dovecot and an aiosmtpd server.

Both start once per test session (Dovecot is installed first when missing
and we are root); each test gets its own IMAP login with an empty mailbox,
and an SMTP server with nothing received yet.
"""
from __future__ import annotations

import itertools
import uuid
from datetime import datetime, timezone
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest

from collectors import runner
from collectors.email import EmailChannel
from collectors.maildir import MaildirChannel
from collectors.standins.dovecot import Dovecot
from collectors.standins.smtp import SmtpServer
from inbox.config import AccountConfig, validate

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "email"


def fixture_files() -> list[Path]:
    return sorted(FIXTURES.rglob("*.eml"))


@pytest.fixture(scope="session")
def dovecot():
    server = Dovecot().start()
    yield server
    server.remove()


@pytest.fixture(scope="session")
def _smtp_server():
    with SmtpServer() as server:
        yield server


@pytest.fixture
def smtp(_smtp_server) -> SmtpServer:
    _smtp_server.received.clear()
    _smtp_server.reject.clear()
    _smtp_server.fail_next = None
    return _smtp_server


@pytest.fixture
def mail_user(dovecot) -> tuple[str, str]:
    """A login of its own for this test: (name, password)."""
    return dovecot.new_user()


def account_config(kind: str, raw: dict, name: str = "support") -> AccountConfig:
    settings = {"email": EmailChannel.settings, "maildir": MaildirChannel.settings}[kind]
    values = validate({k: v for k, v in raw.items() if v is not None}, settings, "test.toml",
                      f"[[accounts]] {name}", env={})
    return AccountConfig(name=name, kind=kind, enabled=True, sla_minutes=None, settings=values)


def email_settings(dovecot: Dovecot, user: tuple[str, str], smtp: SmtpServer, **overrides) -> dict:
    raw = dict(address="support@acme.test", from_name="Acme Support", imap_host=dovecot.host,
               imap_port=dovecot.port, imap_security="starttls", imap_username=user[0], imap_password=user[1],
               ca_file=str(dovecot.cert), smtp_host=smtp.host, smtp_port=smtp.port, smtp_security="none",
               timeout_seconds=10.0)
    raw.update(overrides)
    return raw


@pytest.fixture
def opened():
    """Channels a test made; closed after it."""
    channels: list = []
    yield channels
    for channel in channels:
        channel.close()


def open_channel(opened: list, kind: str, raw: dict, name: str = "support"):
    channel = {"email": EmailChannel, "maildir": MaildirChannel}[kind](account_config(kind, raw, name))
    opened.append(channel)
    return channel


@pytest.fixture
def make_channel(dovecot, smtp, mail_user, opened):
    def make(name: str = "support", **overrides) -> EmailChannel:
        return open_channel(opened, "email", email_settings(dovecot, mail_user, smtp, **overrides), name)
    return make


@pytest.fixture
def email_account(make_account):
    return make_account("support", kind="email")


def collect(channel, factory) -> runner.PollResult:
    """One `replydesk collect --once` for this channel; it must not fail."""
    result = runner.poll_once(channel, factory)
    assert result.error is None, result.error
    return result


_counter = itertools.count(1)


def mail(subject: str = "My order", body: str = "Where is my order?", *,
         sender: str = "Carla Customer <carla@example.com>", to: str = "support@acme.test",
         message_id: str | None = None, in_reply_to: str | None = None, references: list[str] | None = None,
         date: datetime | None = None, headers: dict | None = None) -> bytes:
    """A plain text message as a mail client would send it."""
    n = next(_counter)
    lines = [f"From: {sender}", f"To: {to}", f"Subject: {subject}",
             f"Date: {format_datetime(date or datetime.now(timezone.utc))}",
             f"Message-ID: {message_id or make_msgid(f'm{n}.{uuid.uuid4().hex[:8]}', 'example.com')}"]
    if in_reply_to:
        lines.append(f"In-Reply-To: {in_reply_to}")
    if references:
        lines.append("References: " + " ".join(references))
    for key, value in (headers or {}).items():
        lines.append(f"{key}: {value}")
    lines += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"]
    return ("\r\n".join(lines) + "\r\n\r\n" + body.replace("\n", "\r\n") + "\r\n").encode()

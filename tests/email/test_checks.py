"""The chain of checks: bounces (DSN and MTA formats), auto-replies (RFC
3834 and the headers and subjects responders use), read receipts,
complaints, our own mail and loops — and ordinary mail left alone."""
from __future__ import annotations

import pytest

from collectors.email.parse import parse_message
from inbox.channel import AUTO_REPLY, BOUNCE

from .conftest import FIXTURES, mail

BOUNCES = [
    "sisimai/bsd__rfc3464-01.eml", "sisimai/bsd__lhost-postfix-01.eml", "sisimai/bsd__lhost-gmail-01.eml",
    "sisimai/bsd__lhost-office365-01.eml", "flanker/bounce__mailbox-full.eml", "flanker/bounce__no-mx.eml",
    "flanker/bounce__gmail-invalid-address.eml", "flanker/bounce__office365.eml", "enmime/dsn__simple_dsn.eml",
    "enmime/dsn__multi_recipient_dsn.eml", "mikel_mail/multipart_report_emails__report_530.eml",
    "nodemailer_mailparser/delivery-status.eml", "webklex_php_imap/example_bounce.eml",
    "cpython/cpython_msg_16.eml",  # a pre-DSN bounce from postmaster, subject only
]
AUTO_REPLIES = ["sisimai/bsd__rfc3834-01.eml", "sisimai/bsd__rfc3834-02.eml", "sisimai/bsd__rfc3834-03.eml",
                "flanker/disposition-notification.eml"]
ORDINARY = ["sisimai/not__is-not-bounce-01.eml", "flanker/text-only.eml", "enmime/mail__mime-alternative.eml",
            "webklex_php_imap/plain.eml", "mikel_mail/plain_emails__raw_email_reply.eml"]


def parse(name: str, **kw):
    return parse_message((FIXTURES / name).read_bytes(), **kw)


@pytest.mark.parametrize("name", BOUNCES)
def test_bounces(name):
    assert parse(name).auto == BOUNCE


@pytest.mark.parametrize("name", AUTO_REPLIES)
def test_auto_replies(name):
    assert parse(name).auto == AUTO_REPLY


@pytest.mark.parametrize("name", ORDINARY)
def test_ordinary_mail_is_left_alone(name):
    item = parse(name)
    assert item.auto is None and not item.from_self


def test_a_bounce_names_the_message_that_bounced_and_why():
    item = parse("flanker/bounce__office365.eml")
    assert "20171013111011.20866.254C2F3A4D7AA526@ninomail.com" in item.references
    item = parse("enmime/dsn__simple_dsn.eml")
    assert item.extra["bounce"]["action"] == "failed" and item.extra["bounce"]["recipients"]
    assert parse("enmime/dsn__delayed_dsn.eml").extra["checks"][0] == \
        "delivery_report: delivery status notification (delayed)"


def test_complaint_reports_are_machine_mail():
    assert parse("flanker/complaints__aol.eml").auto == BOUNCE


@pytest.mark.parametrize("headers, subject", [
    ({"Auto-Submitted": "auto-replied"}, "Re: Your order"),
    ({"X-Autoreply": "yes"}, "Re: Your order"),
    ({"X-Autorespond": "Thanks for your mail"}, "Re: Your order"),
    ({"Precedence": "bulk"}, "Newsletter"),
    ({}, "Out of Office: Re: Your order"),
    ({}, "Automatische Antwort: Ihre Bestellung"),
    ({}, "Réponse automatique : votre commande"),
    ({"In-Reply-To": "<ours@acme.test>"}, "I am out of the office until Monday"),
])
def test_auto_reply_signals(headers, subject):
    assert parse_message(mail(subject, headers=headers)).auto == AUTO_REPLY


@pytest.mark.parametrize("subject, headers", [
    ("Out of office hours support?", {}),  # a question, not a reply
    ("Undeliverable parcel", {}),  # a customer, not an MTA
    ("Re: order", {"Auto-Submitted": "no"}),
])
def test_customers_are_not_mistaken_for_machines(subject, headers):
    assert parse_message(mail(subject, headers=headers)).auto is None


def test_own_mail_and_loops():
    ours = parse_message(mail("Re: x", sender="Acme <support@acme.test>"), own_addresses={"support@acme.test"})
    assert ours.from_self and ours.auto is None
    ours = parse_message(mail("Re: x", message_id="<replydesk.k1@acme.test>"))
    assert ours.from_self
    loop = parse_message(mail("Re: x", headers={"X-Loop": "support@acme.test"}), own_addresses={"support@acme.test"})
    assert loop.auto == AUTO_REPLY

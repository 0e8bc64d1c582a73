"""Replies over real SMTP (aiosmtpd) with the copy in Dovecot's Sent and
\\Answered on the original; what comes back (the customer's answer, a
bounce, an out-of-office) lands in the same conversation."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from collectors import runner
from collectors.email import EmailChannel
from collectors.standins.smtp import SmtpServer
from inbox import workflow
from inbox.channel import AuthFailed, Rejected, ReplyRequest, Transient
from inbox.models import Conversation, Message, OutboundReply

from .conftest import account_config, collect, email_settings, mail


def bounce_of(message_id: str) -> bytes:
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\r\nTo: support@acme.test\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <bounce.1@mx.example.com>\r\n"
        "Date: Mon, 23 Nov 2026 10:05:00 +0000\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n"
        "--B\r\nContent-Type: text/plain\r\n\r\nThe mail system could not deliver your message.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.com\r\n\r\n"
        "Final-Recipient: rfc822; carla.home@example.org\r\nAction: failed\r\nStatus: 5.2.2\r\n"
        "Diagnostic-Code: smtp; 552 5.2.2 Mailbox full\r\n"
        f"--B\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: support@acme.test\r\nMessage-ID: <{message_id}>\r\n"
        "Subject: Re: Order 77 broken\r\n--B--\r\n").encode()


def queue(factory, make_user, text: str) -> int:
    agent = make_user()
    with factory.begin() as s:
        conv = s.scalar(select(Conversation).order_by(Conversation.id))
        return workflow.queue_reply(s, conv, text, by=s.merge(agent)).id


def awaiting(factory) -> bool:
    with factory() as s:
        return s.scalar(select(Conversation.awaiting_reply).order_by(Conversation.id).limit(1))


def test_reply_round_trip(dovecot, mail_user, make_channel, email_account, factory, make_user, smtp):
    user = mail_user[0]
    original = mail("AW: Re: Order 77 broken", body="The kettle arrived broken.\n\n-- \nCarla",
                    message_id="<c1@example.com>", references=["<root@example.com>"],
                    headers={"Reply-To": "Carla Home <carla.home@example.org>"})
    uid = dovecot.append(original, user=user)
    channel = make_channel()
    collect(channel, factory)
    assert awaiting(factory)
    queue(factory, make_user, "Sorry about that: a new kettle is on its way.")

    assert runner.send_due({"support": channel}, factory).sent == 1
    [got] = smtp.wait_for(1)
    msg = got.message
    assert got.mail_from == "support@acme.test" and got.rcpt_tos == ["carla.home@example.org"]
    assert msg["From"].addresses[0].addr_spec == "support@acme.test"
    assert msg["From"].addresses[0].display_name == "Acme Support"
    assert msg["Subject"] == "Re: Order 77 broken"
    assert msg["In-Reply-To"] == "<c1@example.com>"
    assert msg["References"] == "<root@example.com> <c1@example.com>"
    plain = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "a new kettle is on its way" in plain and "> The kettle arrived broken." in plain
    assert "<blockquote" in html and "The kettle arrived broken." in html

    # Our Message-ID was stored before sending and is the outbound message's id.
    our_id = msg["Message-ID"].strip("<>")
    with factory() as s:
        reply = s.scalar(select(OutboundReply))
        assert reply.state == "sent" and reply.planned_external_id == our_id == reply.external_id
    sent = dovecot.messages("Sent", user=user)
    assert [m for m in sent.values() if f"<{our_id}>".encode() in m]
    assert "\\Answered" in dovecot.flags(uid, user=user)
    assert not awaiting(factory)

    # Machine mail about our reply joins the conversation and never asks for an answer.
    dovecot.append(bounce_of(our_id), user=user)
    dovecot.append(mail("Automatic reply: Re: Order 77 broken", body="I am out of the office.",
                        message_id="<ooo@example.com>", in_reply_to=f"<{our_id}>",
                        headers={"Auto-Submitted": "auto-replied"}), user=user)
    collect(channel, factory)
    with factory() as s:
        autos = {m.external_id: (m.auto, m.conversation_id) for m in s.scalars(select(Message))}
    conv = autos["c1@example.com"][1]
    assert autos["bounce.1@mx.example.com"] == ("bounce", conv)
    assert autos["ooo@example.com"] == ("auto_reply", conv)
    assert not awaiting(factory)

    # The customer answers our reply from a client that keeps only In-Reply-To.
    dovecot.append(mail("Re: Order 77 broken", message_id="<c2@example.com>", in_reply_to=f"<{our_id}>"),
                   user=user)
    collect(channel, factory)
    with factory() as s:
        assert s.scalar(select(Message.conversation_id).where(Message.external_id == "c2@example.com")) == conv
    assert awaiting(factory)


def request(key: str = "k-1", **kw) -> ReplyRequest:
    kw.setdefault("parent_external_id", "p1@example.com")
    kw.setdefault("parent_author_id", "carla@example.com")
    kw.setdefault("parent_subject", "Order")
    kw.setdefault("parent_text", "Where is it?")
    return ReplyRequest(reply_id=1, idempotency_key=key, account="support", text="On its way.", **kw)


def test_find_sent_finds_a_reply_sent_before_a_crash(make_channel, smtp):
    channel = make_channel()
    ref = channel.send(request("crash-1"))
    assert channel.after_sent(request("crash-1"), ref) == []
    assert channel.find_sent(request("crash-1")).external_id == ref.external_id
    assert channel.find_sent(request("never-sent")) is None


def test_without_save_sent_no_copy_is_made(dovecot, mail_user, make_channel, smtp):
    channel = make_channel(save_sent=False)
    channel.after_sent(request("no-copy"), channel.send(request("no-copy")))
    assert smtp.wait_for(1)
    assert dovecot.messages("Sent", user=mail_user[0]) == {}


def test_refused_recipient_is_rejected(make_channel, smtp):
    smtp.reject["carla@example.com"] = "550 5.1.1 No such user"
    with pytest.raises(Rejected, match="550"):
        make_channel().send(request())


def test_non_ascii_address_is_refused_once_without_smtputf8(make_channel, smtp):
    with pytest.raises(Rejected, match="SMTPUTF8"):
        make_channel().send(request(parent_author_id="jürgen@example.org"))
    assert smtp.received == []


def test_non_ascii_address_goes_out_with_smtputf8(make_channel):
    with SmtpServer(smtputf8=True) as server:
        make_channel(smtp_host=server.host, smtp_port=server.port).send(request(parent_author_id="jürgen@example.org"))
        [got] = server.received
    assert got.rcpt_tos == ["jürgen@example.org"]
    assert "To: jürgen@example.org\r\n" in got.data.decode("utf-8")  # RFC 6532: the header in UTF-8


def test_try_later_is_transient(make_channel, smtp):
    smtp.fail_next = "451 4.3.0 Try again later"
    with pytest.raises(Transient, match="451"):
        make_channel().send(request())
    assert smtp.received == []


def test_rejected_reply_fails_without_retry(dovecot, mail_user, make_channel, email_account, factory, make_user,
                                           smtp):
    dovecot.append(mail("Hello", sender="Nobody <nobody@example.com>"), user=mail_user[0])
    channel = make_channel()
    collect(channel, factory)
    queue(factory, make_user, "Hi!")
    smtp.reject["nobody@example.com"] = "550 5.1.1 No such user"
    result = runner.send_due({"support": channel}, factory)
    assert (result.sent, result.failed) == (0, 1)
    with factory() as s:
        reply = s.scalar(select(OutboundReply))
        assert reply.state == "failed" and reply.error_kind == "rejected"


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_smtp_with_tls_and_login(security, dovecot, mail_user):
    with SmtpServer(username="support", password="smtp-Secret-9", starttls=security == "starttls",
                    implicit_tls=security == "ssl", cert_folder=dovecot.folder / "tls") as server:
        settings = email_settings(dovecot, mail_user, server, smtp_security=security, smtp_username="support",
                                  smtp_password="smtp-Secret-9")
        channel = EmailChannel(account_config("email", settings))
        try:
            channel.send(request("tls-" + security))
            assert server.wait_for(1)[0].rcpt_tos == ["carla@example.com"]
            wrong = EmailChannel(account_config("email", {**settings, "smtp_password": "nope-Wrong-1"}))
            with pytest.raises(AuthFailed) as err:
                wrong.send(request("tls-wrong"))
            assert "nope-Wrong-1" not in str(err.value)
        finally:
            channel.close()


def test_doctor_checks_everything(make_channel):
    results = make_channel().check()
    assert all(ok for ok, _ in results), results
    assert any("IDLE" in text for _, text in results)

"""The reply's MIME: headers that keep it in the customer's thread, the
original quoted, our Message-ID fixed by the outbox row."""
from __future__ import annotations

from datetime import datetime, timezone
from email import message_from_bytes, policy

from collectors.email.compose import build_reply, make_message_id, quote_plain, thread_references
from inbox.channel import ReplyRequest


def req(**kw) -> ReplyRequest:
    base = dict(reply_id=7, idempotency_key="abc", account="support", text="Fixed — thanks for waiting.",
                parent_external_id="p2@example.com", parent_author_id="carla@example.com",
                parent_author_handle="carla@example.com", parent_subject="RE: AW: Re: Order 5 broken",
                parent_text="It is broken!\n> older", parent_created_at=datetime(2024, 6, 3, 10, tzinfo=timezone.utc),
                parent_extra={"references": ["p1@example.com"], "reply_to": "c@home.example",
                              "reply_to_name": "Carla Cüstomer"})
    base.update(kw)
    return ReplyRequest(**base)


def build(r: ReplyRequest):
    msg = build_reply(r, from_address="support@acme.test", from_name="Acme Support",
                      message_id=make_message_id(r.idempotency_key, "support@acme.test"))
    return message_from_bytes(msg.as_bytes(), policy=policy.default)


def test_headers_keep_the_thread():
    msg = build(req())
    assert msg["Subject"] == "Re: Order 5 broken"
    assert msg["To"].addresses[0].addr_spec == "c@home.example"
    assert msg["To"].addresses[0].display_name == "Carla Cüstomer"
    assert msg["In-Reply-To"] == "<p2@example.com>"
    assert msg["References"] == "<p1@example.com> <p2@example.com>"
    assert msg["Message-ID"] == "<replydesk.abc@acme.test>"
    assert msg.is_multipart() and msg.get_content_type() == "multipart/alternative"


def test_sender_without_reply_to_and_synthetic_parent():
    msg = build(req(parent_extra={}, parent_external_id="synthetic.1@replydesk.invalid", references=()))
    assert msg["To"] == "carla@example.com"
    assert msg["In-Reply-To"] is None and msg["References"] is None


def test_quote_in_text_and_html():
    msg = build(req())
    plain = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = msg.get_body(("html",)).get_content()
    assert plain.startswith("Fixed — thanks for waiting.\n\nOn Mon, 03 Jun 2024 10:00:00 GMT")
    assert "> It is broken!\n>> older" in plain
    assert "<blockquote" in html and "&gt; older" in html


def test_long_reference_chains_keep_the_root():
    refs = [f"r{n}@x" for n in range(40)]
    out = thread_references(req(parent_extra={"references": refs}))
    assert out[0] == "r0@x" and out[-1] == "p2@example.com" and len(out) == 20


def test_message_ids_are_stable_and_safe():
    assert make_message_id("a b/c", "x@acme.test") == "replydesk.a-b-c@acme.test"
    assert quote_plain("a\n\nb") == "> a\n>\n> b"

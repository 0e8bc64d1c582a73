"""Build the reply a customer receives: pure, no I/O.

What makes it land in the customer's thread in every mail client: `Re:`
once (never "Re: RE: AW:"), In-Reply-To the message answered, References
its References plus its id (RFC 5322 3.6.4), and our own Message-ID made
from the outbox row's idempotency key, so the id is known before sending
and the same reply always carries the same id (the crash check looks for
exactly that id in Sent). The original is quoted below, in the plain text
and in an HTML alternative.
"""
from __future__ import annotations

import html
import re
from datetime import datetime, timezone
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from inbox.channel import ReplyRequest
from inbox.subjects import reply_subject

from .checks import OWN_ID_PREFIX
from .parse import is_synthetic

MAX_QUOTED_CHARS = 20_000
MAX_REFERENCES = 20  # long threads: keep the first and the latest ids, as RFC 5322 suggests
SMTP_POLICY = policy.SMTP.clone(cte_type="7bit")  # works with servers that lack 8BITMIME
# For a recipient whose address is not ASCII (jürgen@example.org): RFC 6532
# headers in UTF-8, sent only to a server that offers SMTPUTF8.
SMTPUTF8_POLICY = policy.SMTPUTF8.clone(cte_type="7bit")


def make_message_id(idempotency_key: str, address: str) -> str:
    """Our Message-ID (without <>) for an outbox row: stable, unique, ours."""
    domain = address.rsplit("@", 1)[-1] if "@" in address else "replydesk.invalid"
    key = re.sub(r"[^A-Za-z0-9.\-_]", "-", idempotency_key)
    return f"{OWN_ID_PREFIX}{key}@{domain}"


def recipient(reply: ReplyRequest) -> tuple[str, str]:
    """(name, address) to answer: the original's Reply-To, else its sender."""
    extra = reply.parent_extra or {}
    address = extra.get("reply_to") or reply.parent_author_id or reply.parent_author_handle or ""
    name = extra.get("reply_to_name") or ""
    return name, address


def thread_references(reply: ReplyRequest) -> list[str]:
    parent = reply.parent_external_id
    refs = list((reply.parent_extra or {}).get("references") or reply.references or ())
    if parent and parent not in refs:
        refs.append(parent)
    refs = [r for r in dict.fromkeys(refs) if r and not is_synthetic(r)]
    if len(refs) > MAX_REFERENCES:
        refs = refs[:1] + refs[-(MAX_REFERENCES - 1):]
    return refs


def _attribution(reply: ReplyRequest) -> str:
    who = reply.parent_author_handle or reply.parent_author_id or "you"
    name = (reply.parent_extra or {}).get("reply_to_name") or ""
    if name and who:
        who = f"{name} <{who}>"
    when = reply.parent_created_at
    if when:
        return f"On {format_datetime(when.astimezone(timezone.utc), usegmt=True)}, {who} wrote:"
    return f"{who} wrote:"


def quote_plain(text: str) -> str:
    text = (text or "")[:MAX_QUOTED_CHARS]
    # ">" before an already quoted line, "> " before the rest: how mail clients nest quotes.
    return "\n".join((">" if line.startswith(">") or not line else "> ") + line
                     for line in text.replace("\r\n", "\n").split("\n"))


def _html_paragraphs(text: str) -> str:
    return "<br>\n".join(html.escape(line) for line in text.replace("\r\n", "\n").split("\n"))


def build_reply(reply: ReplyRequest, *, from_address: str, from_name: str | None = None,
                message_id: str, now: datetime | None = None) -> EmailMessage:
    name, to_address = recipient(reply)
    msg = EmailMessage(policy=SMTP_POLICY if to_address.isascii() else SMTPUTF8_POLICY)
    msg["From"] = Address(display_name=from_name or "", addr_spec=from_address)
    msg["To"] = Address(display_name=name, addr_spec=to_address) if name else to_address
    msg["Subject"] = reply_subject(reply.subject or reply.parent_subject)
    msg["Date"] = format_datetime(now or datetime.now(timezone.utc))
    msg["Message-ID"] = f"<{message_id}>"
    parent = reply.parent_external_id
    if parent and not is_synthetic(parent):
        msg["In-Reply-To"] = f"<{parent}>"
    refs = thread_references(reply)
    if refs:
        msg["References"] = " ".join(f"<{r}>" for r in refs)

    attribution = _attribution(reply)
    plain = reply.text.rstrip()
    if reply.parent_text:
        plain += f"\n\n{attribution}\n{quote_plain(reply.parent_text)}\n"
    msg.set_content(plain + "\n", cte="quoted-printable")

    body_html = reply.html or f"<div>{_html_paragraphs(reply.text.rstrip())}</div>"
    if reply.parent_text:
        quoted = _html_paragraphs((reply.parent_text or "")[:MAX_QUOTED_CHARS])
        body_html += (f'\n<div class="replydesk-quote"><p>{html.escape(attribution)}</p>\n'
                      f'<blockquote type="cite" style="margin:0 0 0 .8ex;border-left:1px solid #ccc;'
                      f'padding-left:1ex">{quoted}</blockquote></div>')
    msg.add_alternative(f"<!DOCTYPE html><html><body>{body_html}</body></html>\n", subtype="html",
                        cte="quoted-printable")
    return msg

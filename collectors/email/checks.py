"""The chain of small named checks every inbound mail passes (Zammad-style).

Each check looks at one thing and returns a `Finding` or None. Bounces and
auto-replies (out-of-office, RFC 3834, read receipts, complaint reports)
are machine mail: flagged so they never count as a customer waiting for an
answer, and a bounce is tied to the message that bounced so it lands in
that conversation. Our own mail seen again (a copy to ourselves, a loop) is
recognised as ours.

Order matters only for which finding decides `auto`: the first one that
sets it wins; all findings are kept as reasons.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message

from inbox.channel import AUTO_REPLY, BOUNCE

from .body import Body, param
from .headers import header, message_ids, raw_header

# Our outgoing Message-IDs look like <replydesk.KEY@domain> (see compose.py).
OWN_ID_PREFIX = "replydesk."


@dataclass
class Mail:
    """What the checks look at, read once by the parser."""

    msg: Message
    message_id: str
    from_addr: str
    subject: str
    content_type: str
    body: Body
    own_addresses: frozenset[str] = frozenset()


@dataclass
class Finding:
    check: str
    reason: str
    auto: str | None = None
    from_self: bool = False
    related_ids: list[str] = field(default_factory=list)  # the message a bounce is about
    details: dict = field(default_factory=dict)


@dataclass
class Verdict:
    auto: str | None = None
    from_self: bool = False
    reasons: list[str] = field(default_factory=list)
    related_ids: list[str] = field(default_factory=list)
    details: dict = field(default_factory=dict)


def _field(mail: Mail, name: str) -> str:
    return header(mail.msg, name).strip()


def own_message(mail: Mail) -> Finding | None:
    if mail.message_id.startswith(OWN_ID_PREFIX):
        return Finding("own_message", "one of our own replies", from_self=True)
    if mail.from_addr and mail.from_addr in mail.own_addresses:
        return Finding("own_message", f"sent from our own address {mail.from_addr}", from_self=True)
    return None


def mail_loop(mail: Mail) -> Finding | None:
    loop = _field(mail, "X-Loop").lower()
    if loop and any(a in loop for a in mail.own_addresses):
        return Finding("mail_loop", "X-Loop names our address: a mail loop", auto=AUTO_REPLY)
    return None


_REPORT_FIELD = re.compile(r"^(final-recipient|original-recipient|action|status|diagnostic-code)\s*:\s*(.*)$",
                           re.IGNORECASE | re.MULTILINE)


def _bounce_details(body: Body) -> dict:
    details: dict = {"recipients": []}
    for report in body.report:
        for name, value in _REPORT_FIELD.findall(report):
            name = name.lower()
            value = value.strip()
            if name == "final-recipient":
                details["recipients"].append(value.split(";", 1)[-1].strip().lower())
            elif name in ("action", "status", "diagnostic-code"):
                details.setdefault(name.replace("-code", ""), value.split(";", 1)[-1].strip()
                                   if name == "diagnostic-code" else value.lower())
    return details


_ENCLOSED_ID = re.compile(r"^\s*message-id\s*:\s*(<[^>\s]+>)", re.IGNORECASE | re.MULTILINE)


def _bounced_ids(mail: Mail) -> list[str]:
    """Message-IDs of the mail a bounce is about: from the enclosed message
    or headers, else from a Message-ID line quoted in the bounce text."""
    ids: list[str] = []
    for inner in mail.body.enclosed:
        value = raw_header(inner, "Message-ID")
        ids.extend(message_ids(value or ""))
    if not ids:
        for text in mail.body.plain:
            for found in _ENCLOSED_ID.findall(text):
                ids.extend(message_ids(found))
    return [i for i in dict.fromkeys(ids) if i != mail.message_id]


def _report_type(mail: Mail) -> str:
    return (param(mail.msg, "report-type") or "").lower() if mail.content_type == "multipart/report" else ""


def delivery_report(mail: Mail) -> Finding | None:
    if _report_type(mail) not in ("delivery-status", "global-delivery-status"):
        return None
    details = _bounce_details(mail.body)
    action = details.get("action", "failed")
    return Finding("delivery_report", f"delivery status notification ({action})", auto=BOUNCE,
                   related_ids=_bounced_ids(mail), details=details)


def feedback_report(mail: Mail) -> Finding | None:
    if _report_type(mail) != "feedback-report":
        return None
    return Finding("feedback_report", "spam complaint report (ARF)", auto=BOUNCE, related_ids=_bounced_ids(mail))


def read_receipt(mail: Mail) -> Finding | None:
    if _report_type(mail) != "disposition-notification":
        return None
    return Finding("read_receipt", "read receipt (message disposition notification)", auto=AUTO_REPLY,
                   related_ids=_bounced_ids(mail))


_DAEMON = re.compile(r"^(mailer-daemon|mail-daemon|postmaster|mail-delivery-subsystem|mailerdaemon|"
                     r"mdaemon|bounce[s]?|mail\.delivery)(@|$)", re.IGNORECASE)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver(ed|able)|delivery (status notification|failure|has failed|failed|problem|report)"
    r"|returned mail|mail delivery (failed|failure|system|notification)|failure notice|non[- ]?deliver"
    r"|could not be delivered|not delivered|delivery notification|unzustellbar|nicht zustellbar"
    r"|non remis|no se puede entregar|impossibile recapitare|onbestelbaar|warning: message .* delayed",
    re.IGNORECASE)


def bounce_by_sender(mail: Mail) -> Finding | None:
    failed = _field(mail, "X-Failed-Recipients")
    if failed:
        return Finding("bounce_by_sender", "X-Failed-Recipients header (Exim bounce)", auto=BOUNCE,
                       related_ids=_bounced_ids(mail), details={"recipients": [a.strip().lower()
                                                                              for a in failed.split(",")]})
    daemon = _DAEMON.match(mail.from_addr or "")
    null_sender = (raw_header(mail.msg, "Return-Path") or "").strip() in ("<>", "")  \
        and raw_header(mail.msg, "Return-Path") is not None
    if (daemon or null_sender) and _BOUNCE_SUBJECT.search(mail.subject):
        who = mail.from_addr if daemon else "the null sender <>"
        return Finding("bounce_by_sender", f"delivery failure notice from {who}", auto=BOUNCE,
                       related_ids=_bounced_ids(mail))
    return None


def auto_submitted(mail: Mail) -> Finding | None:
    value = _field(mail, "Auto-Submitted").lower()
    if value and value != "no":
        return Finding("auto_submitted", f"Auto-Submitted: {value} (RFC 3834)", auto=AUTO_REPLY)
    return None


# Headers auto-responders set (Exchange, Zimbra, cPanel, Mailman, FirstClass, ...).
_AUTO_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-AutoReply-From", "X-Mail-Autoreply",
                 "X-Autogenerated", "X-FC-MachineGenerated", "X-Auto-Reply")


def autoreply_headers(mail: Mail) -> Finding | None:
    for name in _AUTO_HEADERS:
        value = _field(mail, name)
        if value and value.lower() not in ("no", "false", "0"):
            return Finding("autoreply_headers", f"{name}: {value}", auto=AUTO_REPLY)
    return None


def precedence(mail: Mail) -> Finding | None:
    for name in ("Precedence", "X-Precedence"):
        value = _field(mail, name).lower()
        if value in ("bulk", "junk", "auto_reply", "auto-reply"):
            return Finding("precedence", f"{name}: {value}", auto=AUTO_REPLY)
    return None


_OOO_PREFIX = re.compile(
    r"^\s*\[?(automatic reply|auto[- ]?reply|autoreply|auto[- ]?response|auto|out of (the )?office( autoreply)?"
    r"|abwesenheitsnotiz|automatische antwort|abwesend|réponse automatique|absence|respuesta automática"
    r"|fuera de la oficina|risposta automatica|fuori ufficio|automatisch antwoord|afwezig|autosvar"
    r"|frånvaro|odpowiedź automatyczna|automatická odpověď|vacation( reply)?)\]?\s*:", re.IGNORECASE)
_OOO_PHRASE = re.compile(r"\b(out of (the )?office|on (vacation|holiday|annual leave|leave)|away from (the )?office"
                         r"|is away|i am away|i'm away|abwesenheit|en congés?)\b", re.IGNORECASE)


def out_of_office(mail: Mail) -> Finding | None:
    if _OOO_PREFIX.match(mail.subject):
        return Finding("out_of_office", f"out-of-office subject: {mail.subject[:80]!r}", auto=AUTO_REPLY)
    # A phrase alone could be a customer's question ("out of office hours?"):
    # only trust it on a message that answers one of ours.
    if _OOO_PHRASE.search(mail.subject) and raw_header(mail.msg, "In-Reply-To"):
        return Finding("out_of_office", f"out-of-office reply: {mail.subject[:80]!r}", auto=AUTO_REPLY)
    return None


CHECKS: list[Callable[[Mail], Finding | None]] = [
    own_message, mail_loop, delivery_report, feedback_report, read_receipt, bounce_by_sender,
    auto_submitted, autoreply_headers, precedence, out_of_office,
]


def run(mail: Mail) -> Verdict:
    verdict = Verdict()
    for check in CHECKS:
        try:
            finding = check(mail)
        except Exception as e:  # a check must never cost the message
            verdict.reasons.append(f"{check.__name__} failed: {type(e).__name__}")
            continue
        if finding is None:
            continue
        verdict.reasons.append(f"{finding.check}: {finding.reason}")
        verdict.from_self |= finding.from_self
        if finding.auto and verdict.auto is None:
            verdict.auto = finding.auto
        verdict.related_ids.extend(i for i in finding.related_ids if i not in verdict.related_ids)
        verdict.details.update(finding.details)
    return verdict

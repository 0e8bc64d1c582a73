"""Realistic support mail for benchmarks: what a shared inbox receives.

Mix (by count): plain-text mail from the usual clients, text+HTML
alternatives, HTML-only newsletters-style mail, mail with a PDF or image
attached, replies that quote the previous message (threads of 1-6,
some from clients that drop References), Latin-1 and RFC 2047 headers,
auto-replies and bounces. Sizes 1-120 KB, median about 4 KB. Seeded, so
every run appends the same mailbox.
"""
from __future__ import annotations

import base64
import random
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

FIRST = ["Anna", "Jürgen", "Zoë", "Marek", "Sofía", "Chloé", "Liam", "Noor", "Kenji", "Olga", "Tomás", "Priya"]
LAST = ["Nowak", "Müller", "Dubois", "García", "Smith", "Rossi", "Svoboda", "Kowalski", "Tanaka", "Ivanova"]
TOPICS = ["Order #{n} not arrived", "Refund for invoice {n}", "Cannot log in to my account",
          "Wrong size delivered (order {n})", "Question about my subscription", "Broken kettle, warranty?",
          "Invoice needed for order {n}", "Change delivery address", "Cancel my plan", "Charged twice in {m}"]
LINES = ["I ordered on {d} and the tracking has not moved since.", "Could you please look into this?",
         "I have attached a photo of the damage.", "This is the third time I am writing about this.",
         "My customer number is {n}.", "Thanks in advance for your help.",
         "The parcel was left outside in the rain and the box is soaked.",
         "I was charged twice on my credit card statement.", "Please send the invoice to my work address.",
         "Honestly I am quite disappointed with the service so far.", "Any update would be appreciated."]
CLIENTS = ["Thunderbird 115.3", "Apple Mail (2.3774)", "Microsoft Outlook 16.0", "K-9 Mail", "Roundcube 1.6"]
# randbytes, not a byte at a time: importing this module must stay cheap, since a
# parser process started by the benchmark imports its __main__ (this module with it).
PDF = b"%PDF-1.4\n" + random.Random(1).randbytes(60_000)
PNG = b"\x89PNG\r\n\x1a\n" + random.Random(2).randbytes(20_000)


def _b64(data: bytes) -> str:
    text = base64.b64encode(data).decode()
    return "\r\n".join(text[i:i + 76] for i in range(0, len(text), 76))


def _body(rng: random.Random, n: int) -> str:
    lines = [rng.choice(["Hello,", "Hi there,", "Dear Acme team,", "Good morning,"]), ""]
    for _ in range(rng.randint(2, 7)):
        lines.append(rng.choice(LINES).format(n=rng.randint(10000, 99999), d="3 June", m="May"))
    lines += ["", rng.choice(["Best regards,", "Thanks,", "Cheers,", "Kind regards,"]), "{name}"]
    return "\r\n".join(lines)


def _html(text: str) -> str:
    paras = "".join(f"<p>{line}</p>" for line in text.split("\r\n") if line)
    return (f"<html><head><style>p{{font-family:Arial}}</style></head><body><div dir=\"ltr\">{paras}"
            f"<img src=\"https://track.example.net/o.gif\" width=1 height=1></div></body></html>")


def messages(count: int, seed: int = 7, domain: str = "acme.test") -> list[bytes]:
    rng = random.Random(seed)
    start = datetime(2026, 10, 1, 8, 0, tzinfo=timezone.utc)
    out: list[bytes] = []
    threads: list[dict] = []  # open threads a customer may answer
    for i in range(count):
        when = start + timedelta(minutes=3 * i)
        mid = f"<{when:%Y%m%d%H%M%S}.{i}.{rng.getrandbits(32):08x}@mail.example.org>"
        r = rng.random()
        if threads and r < 0.35:
            t = rng.choice(threads)
            headers, body, subject, sender = _reply(rng, t, mid)
        else:
            first, last = rng.choice(FIRST), rng.choice(LAST)
            sender = (f"{first} {last}", f"{first.lower()}.{last.lower()}{rng.randint(1, 999)}@example.org")
            subject = rng.choice(TOPICS).format(n=rng.randint(10000, 99999), m="May")
            headers, body = {}, _body(rng, i).replace("{name}", first)
            t = {"root": mid, "refs": [mid], "subject": subject, "sender": sender, "last_body": body}
            threads.append(t)
            if len(threads) > 400:
                threads.pop(0)
        out.append(_render(rng, i, when, mid, sender, subject, body, headers, domain))
        if rng.random() < 0.03:  # machine mail: auto-reply or bounce
            out.append(_machine(rng, i, when, domain))
    return out[:count]


def _reply(rng, t, mid):
    quoted = "\r\n".join("> " + line for line in t["last_body"].split("\r\n"))
    body = _body(rng, 0).replace("{name}", t["sender"][0].split()[0]) + \
        f"\r\n\r\nOn Mon, 3 Jun 2026 at 10:00, Acme Support <support@acme.test> wrote:\r\n{quoted}"
    headers = {"In-Reply-To": t["refs"][-1]}
    if rng.random() < 0.8:  # some clients drop References
        headers["References"] = " ".join(t["refs"][-10:])
    t["refs"].append(mid)
    t["last_body"] = body
    prefix = rng.choice(["Re: ", "RE: ", "AW: ", "Re: Re: "])
    return headers, body, prefix + t["subject"], t["sender"]


def _render(rng, i, when, mid, sender, subject, body, headers, domain) -> bytes:
    name, address = sender
    if rng.random() < 0.15:  # a Latin-1 client with an encoded display name
        enc = base64.b64encode(name.encode("latin-1", "replace")).decode()
        from_line = f"=?ISO-8859-1?B?{enc}?= <{address}>"
        charset, payload = "iso-8859-1", body.encode("latin-1", "replace")
    else:
        from_line = f"\"{name}\" <{address}>" if not name.isascii() else f"{name} <{address}>"
        charset, payload = "utf-8", body.encode()
    head = [f"Return-Path: <{address}>", f"Received: from mail.example.org (mail.example.org [192.0.2.{i % 250}]) "
            f"by mx.{domain} with ESMTPS; {format_datetime(when)}", f"From: {from_line}", f"To: support@{domain}",
            f"Subject: {subject}", f"Date: {format_datetime(when)}", f"Message-ID: {mid}",
            f"X-Mailer: {rng.choice(CLIENTS)}", "MIME-Version: 1.0"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    if not name.isascii():
        head[2] = "From: =?utf-8?q?" + "".join(f"={b:02X}" if b > 127 or b == 32 else chr(b)
                                                  for b in name.encode()) + f"?= <{address}>"
    kind = rng.random()
    text = payload.decode(charset)
    if kind < 0.45:
        head += [f"Content-Type: text/plain; charset={charset}; format=flowed", "Content-Transfer-Encoding: 8bit"]
        raw = "\r\n".join(head).encode() + b"\r\n\r\n" + payload
    elif kind < 0.80:
        b = f"=_alt_{i:06d}"
        parts = [f"--{b}", f"Content-Type: text/plain; charset={charset}", "Content-Transfer-Encoding: 8bit", "",
                 text, f"--{b}", "Content-Type: text/html; charset=utf-8", "Content-Transfer-Encoding: base64", "",
                 _b64(_html(text).encode()), f"--{b}--", ""]
        head.append(f"Content-Type: multipart/alternative; boundary=\"{b}\"")
        raw = ("\r\n".join(head) + "\r\n\r\n" + "\r\n".join(parts)).encode(charset, "replace")
    elif kind < 0.88:
        head += ["Content-Type: text/html; charset=utf-8", "Content-Transfer-Encoding: base64"]
        raw = ("\r\n".join(head) + "\r\n\r\n" + _b64(_html(text).encode())).encode()
    else:
        b = f"=_mix_{i:06d}"
        data, ctype, fname = (PDF, "application/pdf", f"invoice-{i}.pdf") if rng.random() < 0.5 else \
            (PNG, "image/png", f"photo {i}.png")
        parts = [f"--{b}", f"Content-Type: text/plain; charset={charset}", "Content-Transfer-Encoding: 8bit", "",
                 text, f"--{b}", f"Content-Type: {ctype}; name=\"{fname}\"", "Content-Transfer-Encoding: base64",
                 f"Content-Disposition: attachment; filename=\"{fname}\"", "", _b64(data), f"--{b}--", ""]
        head.append(f"Content-Type: multipart/mixed; boundary=\"{b}\"")
        raw = ("\r\n".join(head) + "\r\n\r\n" + "\r\n".join(parts)).encode(charset, "replace")
    return raw


def _machine(rng, i, when, domain) -> bytes:
    mid = f"<auto.{i}.{rng.getrandbits(32):08x}@mx.example.org>"
    if rng.random() < 0.5:
        return (f"From: Pat Away <pat{i}@example.org>\r\nTo: support@{domain}\r\n"
                f"Subject: Automatic reply: Your request\r\nDate: {format_datetime(when)}\r\nMessage-ID: {mid}\r\n"
                f"Auto-Submitted: auto-replied\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
                f"I am out of the office until Monday.\r\n").encode()
    b = f"=_dsn_{i}"
    return (f"From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\nTo: support@{domain}\r\n"
            f"Subject: Undelivered Mail Returned to Sender\r\nDate: {format_datetime(when)}\r\nMessage-ID: {mid}\r\n"
            f"Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: multipart/report; report-type=delivery-status; boundary=\"{b}\"\r\n\r\n"
            f"--{b}\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you that your message could "
            f"not be delivered.\r\n--{b}\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; "
            f"mx.example.org\r\n\r\nFinal-Recipient: rfc822; nobody{i}@example.org\r\nAction: failed\r\n"
            f"Status: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 User unknown\r\n--{b}\r\n"
            f"Content-Type: text/rfc822-headers\r\n\r\nFrom: support@{domain}\r\nMessage-ID: "
            f"<replydesk.r{i}@{domain}>\r\nSubject: Re: Your order\r\n--{b}--\r\n").encode()

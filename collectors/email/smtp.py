"""Send one message over SMTP, with smtplib's failures turned into ours.

SMTP reply codes decide: 5xx means the server will never take this message
(Rejected, do not retry), 4xx means later (Transient; 421/450/451/452 are
the "slow down" family and say so). Authentication refusals are AuthFailed.
Nothing here puts a password in a message: only the server's reply text,
the host and the login name.
"""
from __future__ import annotations

import contextlib
import smtplib
import socket
import ssl
from collections.abc import Iterator, Mapping
from typing import Any

from inbox.channel import AuthFailed, ChannelError, Rejected, Transient

DEFAULT_PORTS = {"ssl": 465, "starttls": 587, "none": 25}


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_file or None)


def _reply_text(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return f"{code} {' '.join(text.split())}"


def _by_code(code: int, what: str) -> ChannelError:
    if code in (530, 534, 535, 538):  # authentication required / too weak / refused / needs TLS
        return AuthFailed(f"{what}: check smtp_username, smtp_password and smtp_security")
    if 500 <= code < 600:
        return Rejected(f"{what} (permanent: not retried)")
    return Transient(f"{what} (temporary: will retry)")


@contextlib.contextmanager
def session(config: Mapping[str, Any]) -> Iterator[smtplib.SMTP]:
    """A connected, secured and (when the server offers AUTH) logged-in
    SMTP session, with every failure mapped to our error kinds."""
    host = config["smtp_host"]
    security = config.get("smtp_security") or "starttls"
    port = config.get("smtp_port") or DEFAULT_PORTS[security]
    timeout = float(config.get("timeout_seconds") or 30)
    username = config.get("smtp_username") or config.get("imap_username")
    password = config.get("smtp_password") or config.get("imap_password")
    where = f"SMTP server {host}:{port}"
    try:
        context = tls_context(config.get("ca_file"))
        if security == "ssl":
            server: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            server = smtplib.SMTP(host, port, timeout=timeout)
        with server:
            server.ehlo()
            if security == "starttls":
                server.starttls(context=context)
                server.ehlo()
            # Log in only when the server offers AUTH: local relays often take mail without it.
            if username and password and server.has_extn("auth"):
                server.login(username, password)
            yield server
    except ChannelError:
        raise
    except smtplib.SMTPAuthenticationError as e:
        raise AuthFailed(f"{where} refused the login {username!r}: {_reply_text(e.smtp_code, e.smtp_error)}. "
                         f"Check smtp_username / smtp_password.") from None
    except smtplib.SMTPNotSupportedError as e:
        raise Rejected(f"{where} does not support what was asked ({e}); check smtp_security") from None
    except smtplib.SMTPRecipientsRefused as e:
        code, message = next(iter(e.recipients.values()))
        raise _by_code(code, f"{where} refused the recipient {', '.join(e.recipients)}: "
                             f"{_reply_text(code, message)}") from None
    except smtplib.SMTPSenderRefused as e:
        raise _by_code(e.smtp_code, f"{where} refused the sender {e.sender}: "
                                    f"{_reply_text(e.smtp_code, e.smtp_error)}") from None
    except smtplib.SMTPResponseException as e:  # DATA refused, 421 at connect, ...
        raise _by_code(e.smtp_code, f"{where} answered {_reply_text(e.smtp_code, e.smtp_error)}") from None
    except ssl.SSLCertVerificationError as e:
        raise AuthFailed(f"{where}: its certificate is not trusted ({e.verify_message}); "
                         f"set ca_file to the server's certificate authority") from None
    except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, ConnectionError, socket.timeout,
            TimeoutError, ssl.SSLError, OSError) as e:
        raise Transient(f"{where} could not be reached or dropped the connection "
                        f"({type(e).__name__}: {e})") from None
    except smtplib.SMTPException as e:
        raise Transient(f"{where}: {type(e).__name__}: {e}") from None


def send(config: Mapping[str, Any], data: bytes, from_address: str, to_addresses: list[str]) -> None:
    utf8 = [a for a in to_addresses if not a.isascii()]
    with session(config) as server:
        options: list[str] = []
        if utf8:
            # Refuse once, with the reason, rather than retrying a send that
            # cannot work: smtplib cannot even put such an address on the wire
            # without SMTPUTF8.
            if not server.has_extn("smtputf8"):
                raise Rejected(f"the address {utf8[0]} has non-ASCII characters and the SMTP server "
                               f"{config['smtp_host']} does not offer SMTPUTF8 to carry it; answer from a mail "
                               f"client that can, or ask the customer for another address")
            options.append("SMTPUTF8")
        refused = server.sendmail(from_address, to_addresses, data, mail_options=options)
        if refused and len(refused) == len(to_addresses):
            code, message = next(iter(refused.values()))
            raise _by_code(code, f"SMTP server refused every recipient: {_reply_text(code, message)}")


def probe(config: Mapping[str, Any]) -> str:
    """For `replydesk doctor`: connect and log in without sending."""
    with session(config) as server:
        server.noop()
    return f"SMTP server {config['smtp_host']} accepts the connection and login"

"""A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives.

For tests, benchmarks and `replydesk demo`: replies go out over a real SMTP
conversation, and the test reads back exactly what a mail server would
have been given. It can ask for AUTH, offer STARTTLS or speak TLS from the
start, and answer chosen recipients or the next message with an error code,
so the channel's error mapping is tested against real protocol replies.
"""
from __future__ import annotations

import email
import threading
import time
import warnings
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from .common import free_port, self_signed_cert


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=policy.default)  # type: ignore[return-value]


class _Handler:
    def __init__(self, server: "SmtpServer"):
        self.server = server

    async def handle_RCPT(self, smtp, session, envelope, address, rcpt_options):
        code = self.server.reject.get(address.lower())
        if code:
            return code
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, smtp, session, envelope):
        if self.server.fail_next:
            reply, self.server.fail_next = self.server.fail_next, None
            return reply
        with self.server._cond:
            self.server.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                                  bytes(envelope.original_content or envelope.content)))
            self.server._cond.notify_all()
        return "250 Message accepted for delivery"


class SmtpServer:
    host = "127.0.0.1"

    def __init__(self, *, username: str | None = None, password: str | None = None,
                 starttls: bool = False, implicit_tls: bool = False, cert_folder: str | Path | None = None,
                 smtputf8: bool = False):
        self.username, self.password = username, password
        self.smtputf8 = smtputf8
        self.starttls, self.implicit_tls = starttls, implicit_tls
        self.port = free_port()
        self.received: list[Received] = []
        # address (lower case) -> SMTP reply, e.g. "550 5.1.1 No such user"
        self.reject: dict[str, str] = {}
        self.fail_next: str | None = None  # reply to the next DATA, e.g. "451 4.3.0 Try later"
        self._cond = threading.Condition()
        self.cert = self.key = None
        if starttls or implicit_tls:
            import tempfile
            folder = Path(cert_folder or tempfile.mkdtemp(prefix="replydesk-smtp-"))
            self.cert, self.key = self_signed_cert(folder)
        self._controller: Controller | None = None

    @property
    def security(self) -> str:
        return "ssl" if self.implicit_tls else "starttls" if self.starttls else "none"

    def _context(self):
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(self.cert), str(self.key))
        return ctx

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login.decode() == self.username
              and auth_data.password.decode() == self.password)
        return AuthResult(success=ok, handled=False)

    def start(self) -> "SmtpServer":
        kwargs: dict = {}
        if self.username is not None:
            kwargs.update(authenticator=self._authenticate, auth_required=True,
                          # With implicit TLS aiosmtpd does not know the line is secure.
                          auth_require_tls=self.starttls)
        if self.starttls:
            kwargs.update(tls_context=self._context(), require_starttls=True)
        if self.implicit_tls:
            kwargs.update(ssl_context=self._context())
            # aiosmtpd cannot tell the line is TLS from the start and warns
            # about AUTH without TLS; here that warning is wrong.
            warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS",
                                    module="aiosmtpd")
        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port,
                                      server_hostname="localhost", enable_SMTPUTF8=self.smtputf8, **kwargs)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> "SmtpServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Block until at least `count` messages arrived; return them all."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"expected {count} messages, got {len(self.received)}")
                self._cond.wait(left)
            return list(self.received)

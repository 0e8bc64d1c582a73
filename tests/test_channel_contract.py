"""One table of faults over every registered channel, apprise-style.

Each channel meets real servers here (the X and Reddit stand-ins, Dovecot,
aiosmtpd, and raw sockets that never answer or hang up) and must turn the
same faults into the same `inbox.channel` errors: a timeout is transient,
refused credentials are an auth failure, "too many requests" is rate
limited with a reset time, a server error is transient. A registered
channel with no row for a case must say why the case cannot happen to it.
"""
from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timezone

import pytest

from collectors.registry import KINDS, channel_class
from inbox.channel import AuthFailed, ChannelError, RateLimited, ReplyRequest, Transient
from inbox.config import AccountConfig, validate

# The SMTP server for the auth rows takes plain AUTH on purpose (no TLS in this table).
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

CASES = ("timeout", "auth", "rate_limited", "server_error")
EXPECTED: dict[str, type[ChannelError]] = {"timeout": Transient, "auth": AuthFailed,
                                           "rate_limited": RateLimited, "server_error": Transient}
# SMTP's "slow down" answers (421/450/451/452) carry no time to wait until:
# without a reset time they are transient, retried with backoff.
SMTP_SLOW_DOWN = "421 4.7.0 Too many messages from you, try again later"
NOT_APPLICABLE = {
    ("maildir", "fetch"): "reads a local folder: there is no server to time out, refuse or throttle",
    ("email", "fetch", "rate_limited"): "IMAP has no rate-limit answer; a throttling server hangs up (server_error)",
}


def make(kind: str, raw: dict) -> object:
    cls = channel_class(kind)
    values = validate({k: v for k, v in raw.items() if v is not None}, cls.settings, "contract.toml",
                      f"[[accounts]] {kind}", env={})
    return cls(AccountConfig(name=f"contract-{kind}", kind=kind, enabled=True, sla_minutes=None, settings=values))


class RawServer:
    """A TCP server that accepts and then either says nothing (a hung
    server) or says one line and hangs up (a server giving up)."""

    def __init__(self, line: bytes | None = None):
        self.line = line
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self.line is None:
                self.held.append(conn)
            else:
                conn.sendall(self.line)
                conn.close()

    def close(self) -> None:
        self.stop.set()
        self.sock.close()
        for c in self.held:
            c.close()


def reply_to(parent: str, **kw) -> ReplyRequest:
    kw.setdefault("parent_author_id", "carla@example.com")
    kw.setdefault("parent_subject", "Order")
    return ReplyRequest(reply_id=1, idempotency_key="contract", account="contract", text="On its way.",
                        parent_external_id=parent, **kw)


# --- harnesses: each yields the operation that must fail ---------------------
X_FAULTS = {"timeout": ("timeout", {}), "auth": (401, {}), "rate_limited": (429, {"reset_in": "120"}),
            "server_error": (500, {})}
REDDIT_FAULTS = {"timeout": ("timeout", {}), "auth": (401, {}), "rate_limited": (429, {"retry-after": "120"}),
                 "server_error": (500, {})}


@contextlib.contextmanager
def x_harness(op: str, case: str) -> Iterator[Callable[[], object]]:
    from collectors.standins.x_api import XApi
    with XApi() as api:
        tweet = api.add_mention("carla", "where is my order?")
        ch = make("x", dict(username="acme", bearer_token=api.bearer_token, consumer_key=api.consumer_key,
                            consumer_secret=api.consumer_secret, access_token=api.access_token,
                            access_token_secret=api.access_token_secret, api_url=api.url,
                            timeout_seconds=0.3, retries=0))
        kind, headers = X_FAULTS[case]
        api.fail(kind, times=99, headers=headers)
        yield (lambda: list(ch.fetch({}))) if op == "fetch" else (lambda: ch.send(reply_to(tweet["id"])))
        ch.close()


@contextlib.contextmanager
def reddit_harness(op: str, case: str) -> Iterator[Callable[[], object]]:
    from collectors.standins.reddit_api import RedditApi
    with RedditApi() as api:
        post = api.add_submission(api.me, "acme", "Support thread")
        comment = api.add_comment("carla", post["name"], "where is my order?")
        ch = make("reddit", dict(client_id=api.client_id, client_secret=api.client_secret, username=api.me,
                                 password=api.password, user_agent="replydesk-contract/1.0", oauth_url=api.url,
                                 reddit_url=api.url, timeout_seconds=0.3))
        kind, headers = REDDIT_FAULTS[case]
        api.fail(kind, times=99, headers=headers)
        yield (lambda: list(ch.fetch({}))) if op == "fetch" else (lambda: ch.send(reply_to(comment["name"])))
        ch.close()


@contextlib.contextmanager
def smtp_harness(kind: str, case: str, tmp_path) -> Iterator[Callable[[], object]]:
    """email and maildir reply through SMTP: the same faults at the SMTP server."""
    from collectors.standins.smtp import SmtpServer
    raw_server = RawServer() if case == "timeout" else None
    smtp = None if raw_server else SmtpServer(**({"username": "support", "password": "right"}
                                                  if case == "auth" else {})).start()
    if smtp is not None and case != "auth":
        smtp.fail_next = SMTP_SLOW_DOWN if case == "rate_limited" else "451 4.3.0 Local error in processing"
    raw = dict(address="support@acme.test", smtp_host="127.0.0.1",
               smtp_port=raw_server.port if raw_server else smtp.port, smtp_security="none",
               smtp_username="support" if case == "auth" else None,
               smtp_password="wrong" if case == "auth" else None, timeout_seconds=0.5)
    if kind == "email":
        raw.update(imap_host="127.0.0.1", imap_port=9, imap_security="none", imap_username="support",
                   imap_password="x", save_sent=False)
    else:
        for sub in ("cur", "new", "tmp"):
            (tmp_path / "Maildir" / sub).mkdir(parents=True, exist_ok=True)
        raw.update(path=str(tmp_path / "Maildir"))
    ch = make(kind, raw)
    try:
        yield lambda: ch.send(reply_to("p1@example.com"))
    finally:
        ch.close()
        if smtp:
            smtp.stop()
        if raw_server:
            raw_server.close()


@pytest.fixture(scope="module")
def dovecot():
    from collectors.standins.dovecot import Dovecot
    server = Dovecot().start()
    yield server
    server.remove()


@contextlib.contextmanager
def imap_harness(case: str, request) -> Iterator[Callable[[], object]]:
    raw_server = None
    if case == "auth":
        server = request.getfixturevalue("dovecot")
        user, _ = server.new_user()
        host, port, security, ca = server.host, server.port, "starttls", str(server.cert)
    else:
        raw_server = RawServer(None if case == "timeout" else b"* BYE [UNAVAILABLE] Server shutting down\r\n")
        user, host, port, security, ca = "support", "127.0.0.1", raw_server.port, "none", None
    ch = make("email", dict(address="support@acme.test", imap_host=host, imap_port=port, imap_security=security,
                            imap_username=user, imap_password="wrong-password", ca_file=ca,
                            smtp_host="127.0.0.1", smtp_port=9, smtp_security="none",
                            # Short only where the timeout is the case: Dovecot may delay a refusal.
                            timeout_seconds=0.5 if case == "timeout" else 10.0))
    try:
        yield lambda: list(ch.fetch({}))
    finally:
        ch.close()
        if raw_server:
            raw_server.close()


ROWS = [(kind, op, case) for kind in ("x", "reddit") for op in ("fetch", "send") for case in CASES]
ROWS += [(kind, "send", case) for kind in ("email", "maildir") for case in CASES]
ROWS += [("email", "fetch", case) for case in CASES if ("email", "fetch", case) not in NOT_APPLICABLE]


def harness(kind: str, op: str, case: str, request, tmp_path):
    if kind == "x":
        return x_harness(op, case)
    if kind == "reddit":
        return reddit_harness(op, case)
    if op == "send":
        return smtp_harness(kind, case, tmp_path)
    return imap_harness(case, request)


def expected(kind: str, case: str) -> type[ChannelError]:
    if kind in ("email", "maildir") and case == "rate_limited":
        return Transient  # see SMTP_SLOW_DOWN
    return EXPECTED[case]


def test_every_registered_channel_has_a_row_or_a_reason_for_every_case():
    for kind in KINDS:
        for op in ("fetch", "send"):
            for case in CASES:
                covered = (kind, op, case) in ROWS
                excused = (kind, op) in NOT_APPLICABLE or (kind, op, case) in NOT_APPLICABLE
                assert covered or excused, f"{kind} {op} {case}: no row and no reason"
    assert {k for k, _, _ in ROWS} <= set(KINDS)


@pytest.mark.parametrize("kind,op,case", ROWS, ids=["-".join(r) for r in ROWS])
def test_the_same_fault_gives_the_same_error(kind, op, case, request, tmp_path):
    with harness(kind, op, case, request, tmp_path) as act:
        with pytest.raises(ChannelError) as caught:
            act()
    err = caught.value
    assert isinstance(err, expected(kind, case)), f"{kind} {op} {case}: {type(err).__name__}: {err}"
    assert str(err)  # staff read it
    if isinstance(err, RateLimited):
        assert err.reset_at is not None and err.reset_at > datetime.now(timezone.utc)

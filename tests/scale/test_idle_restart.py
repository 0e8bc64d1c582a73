"""Dovecot restarted while the worker listens with IDLE: the worker
reconnects by itself, and no mail is missed: not the one that arrived while
the IMAP server was down (dropped into the Maildir, as the MTA does), not
the ones after. The safety-net poll is set to 10 minutes, so only the
reconnection can pick them up in time."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
import uuid

import pytest
from sqlalchemy import func, select

from collectors.standins.dovecot import Dovecot
from collectors.standins.smtp import SmtpServer
from inbox.models import Account, Message
from tests.email.conftest import mail
from tests.scale.cluster import Cluster, email_account, pg_database, wait_for

pytestmark = pytest.mark.postgres
PUSH_LATENCY = 15.0  # IDLE wakes 0.5 s after delivery; allow for a loaded machine


@pytest.fixture
def servers():
    dovecot, smtp = Dovecot().start(), SmtpServer().start()
    yield dovecot, smtp
    dovecot.remove()
    smtp.stop()


def stop_dropping_connections(dovecot: Dovecot) -> None:
    """Stop Dovecot the way a restart does: every client connection ends.
    (Stopping the master alone leaves this test instance's imap processes
    serving the open connections.)"""
    instance = f"dovecot-replydesk-{dovecot.port}/"
    dovecot.stop()
    for pid in os.listdir("/proc"):
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue
        if cmd.startswith(instance):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)


def deliver_while_down(dovecot: Dovecot, user: str, raw: bytes) -> None:
    """What the MTA does while IMAP is down: a file in the Maildir's new/."""
    folder = dovecot.folder / "mail" / user / "new"
    path = folder / f"{int(time.time())}.{uuid.uuid4().hex}.{socket.gethostname()}"
    path.write_bytes(raw)
    if os.geteuid() == 0:
        st = folder.stat()
        os.chown(path, st.st_uid, st.st_gid)


def test_worker_reconnects_after_dovecot_restart_and_misses_nothing(servers):
    dovecot, smtp = servers
    user = dovecot.new_user()
    account = email_account(dovecot, user, smtp, "support", poll_seconds=600, initial_days=3650)
    with pg_database() as url, Cluster(url, [account]) as c:
        c.init()

        def stored() -> int:
            with c.factory() as s:
                return s.scalar(select(func.count()).select_from(Message))

        def push_status() -> str:
            with c.factory() as s:
                return s.scalar(select(Account.push_status)) or ""

        dovecot.append(mail("Before", "sent before the restart"), user=user[0])
        c.start("worker")
        assert c.started("worker")
        assert wait_for(lambda: stored() == 1, 30)
        assert wait_for(lambda: push_status().startswith("listening"), 30), push_status()
        dovecot.append(mail("Live", "pushed by IDLE"), user=user[0])
        assert wait_for(lambda: stored() == 2, PUSH_LATENCY), "IDLE did not wake the poll"

        for n in range(2):  # twice: the second outage must be handled like the first
            stop_dropping_connections(dovecot)
            deliver_while_down(dovecot, user[0], mail(f"Down {n}", "arrived while IMAP was down"))
            time.sleep(2)  # the worker notices and retries in vain meanwhile
            t0 = time.monotonic()
            dovecot.start()
            assert wait_for(lambda n=n: stored() == 3 + 2 * n, 30), (
                f"mail from the outage not picked up\n{c.log('worker')[-3000:]}")
            caught_up = time.monotonic() - t0
            assert wait_for(lambda: push_status().startswith("listening"), 30), push_status()
            dovecot.append(mail(f"After {n}", "pushed after the restart"), user=user[0])
            assert wait_for(lambda n=n: stored() == 4 + 2 * n, PUSH_LATENCY), "IDLE is not back"
            print(f"restart {n + 1}: the mail from the outage was stored {caught_up:.1f} s after Dovecot was back")
        assert c.stop("worker") == 0
        log = c.log("worker")
        assert log.count("push stopped") >= 2, log  # it did see the connection go, twice
        total, distinct = c.message_counts()
        assert total == distinct == 6

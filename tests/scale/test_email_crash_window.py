"""An email reply, the sender killed after the SMTP server accepted it but
before the outbox recorded it: it must not go out twice.

Deterministic: the SMTP stand-in takes the message and holds its 250 for
3 s; meanwhile Dovecot is frozen (SIGSTOP), so saving the Sent copy would
hang; the sender is killed 1.5 s after the 250. The email channel returns
to the outbox right after the 250 and saves the copy and flags the original
only once the reply is recorded (`after_sent`), so the restarted worker
finds the reply sent. (Killing while the 250 itself is held is a different
case: SMTP gives no way to ask whether the server took a message it never
answered for; bench/faults_send.py shows it.)
"""
from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from collectors.standins.dovecot import Dovecot
from inbox.models import OutboundReply
from tests.email.conftest import mail
from tests.scale.cluster import Cluster, email_account, pg_database, wait_for

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from faults_send import holding_smtp, ingest_and_queue  # noqa: E402

pytestmark = pytest.mark.postgres


def _signal_instance(dovecot: Dovecot, sig: int) -> None:
    """Signal every process of this Dovecot instance (master and children)."""
    prefix, conf = f"dovecot-replydesk-{dovecot.port}/", str(dovecot.config_path)
    for pid in os.listdir("/proc"):
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cmd.startswith(prefix) or conf in cmd:
            try:
                os.kill(int(pid), sig)
            except ProcessLookupError:
                pass


def test_kill_after_smtp_accepted_before_the_outbox_recorded_does_not_send_twice():
    dovecot, smtp = Dovecot().start(), holding_smtp()
    smtp.hold_seconds = 3.0
    try:
        user = dovecot.new_user()
        dovecot.append(mail("Order 4411", "Where is my order?", sender="Carla <carla@example.com>"), user=user[0])
        account = email_account(dovecot, user, smtp, "support", poll_seconds=600, initial_days=3650)
        with pg_database() as url, Cluster(url, [account]) as c:
            c.init()
            assert ingest_and_queue(c) == 1
            smtp.hold.set()
            c.start("worker")
            assert wait_for(smtp.holding.is_set, 60), c.log("worker")
            _signal_instance(dovecot, signal.SIGSTOP)  # the Sent copy cannot be saved now
            try:
                time.sleep(smtp.hold_seconds + 1.5)  # the 250 arrived; the sender waits on IMAP
                c.kill("worker")
            finally:
                _signal_instance(dovecot, signal.SIGCONT)
            c.start("worker")

            def settled():
                with c.factory() as s:
                    return s.scalar(select(OutboundReply.state)) in ("sent", "failed")
            assert wait_for(settled, 60), c.log("worker")
            time.sleep(1)
            c.stop("worker")
            assert len(smtp.received) == 1, f"the reply went out {len(smtp.received)} times"
    finally:
        smtp.stop()
        dovecot.remove()

"""`replydesk worker` as a real process: polls on schedule, sends queued
replies, logs one line per poll without secrets, stops cleanly on SIGTERM."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from collectors.standins.x_api import XApi
from inbox import db
from inbox import workflow as wf
from inbox.models import Conversation, Message, OutboundReply
from inbox.users import add_user

SECRET = "bearer-secret-4c1d"


@pytest.fixture
def x_api():
    api = XApi(username="acme", bearer_token=SECRET, access_token="tok-secret-77", validate=True).start()
    yield api
    api.stop()


def write_config(tmp_path: Path, api: XApi) -> Path:
    cfg = tmp_path / "replydesk.toml"
    cfg.write_text(f"""
[database]
url = "sqlite:///{tmp_path}/rd.db"
[worker]
outbox_seconds = 0.5
jitter_seconds = 0
[[accounts]]
name = "acme-x"
kind = "x"
username = "acme"
bearer_token = "{SECRET}"
consumer_key = "test-consumer-key"
consumer_secret = "test-consumer-secret"
access_token = "tok-secret-77"
access_token_secret = "test-access-secret"
api_url = "{api.url}"
poll_seconds = 1
""")
    return cfg


def wait_for(predicate, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_worker_polls_sends_and_stops_cleanly(tmp_path, x_api):
    cfg = write_config(tmp_path, x_api)
    env = {**os.environ, "REPLYDESK_CONFIG": str(cfg)}
    subprocess.run([sys.executable, "-m", "webui.cli", "init"], env=env, check=True, capture_output=True)
    engine = db.make_engine(f"sqlite:///{tmp_path}/rd.db")
    factory = db.session_factory(engine)
    with factory.begin() as s:
        add_user(s, "ada@example.com", "correct horse battery", name="Ada")

    x_api.add_mention("nina", "@acme my parcel is lost, can you help?")
    log = open(tmp_path / "worker.log", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "webui.cli", "worker"], env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        def stored():
            with factory() as s:
                return s.scalar(select(func.count()).select_from(Message)) >= 1
        assert wait_for(stored), open(tmp_path / "worker.log").read()

        # A reply queued in the inbox is posted by the worker, in the thread.
        with factory.begin() as s:
            from inbox.models import User
            conv = s.scalar(select(Conversation))
            wf.queue_reply(s, conv, "So sorry Nina, sending a replacement today.", by=s.scalar(select(User)))
        assert wait_for(lambda: len(x_api.posted) == 1)

        def sent():
            with factory() as s:
                return s.scalar(select(OutboundReply.state)) == "sent"
        assert wait_for(sent)
        # A mention arriving while it runs is picked up by the next poll.
        x_api.add_mention("olek", "@acme is the shop open on Sunday?")
        assert wait_for(lambda: _count(factory) >= 3)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    output = open(tmp_path / "worker.log").read()
    assert code == 0, output
    assert "worker stopped" in output
    assert "poll account=acme-x new=1 duplicates=0" in output
    assert SECRET not in output and "tok-secret-77" not in output
    assert len(x_api.posted) == 1
    engine.dispose()


def _count(factory) -> int:
    with factory() as s:
        return s.scalar(select(func.count()).select_from(Message))

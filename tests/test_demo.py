"""`replydesk demo` as a new user runs it: it prints an address and a login,
the inbox fills with demo traffic through the real collectors, and a reply
goes out through the real sender to the stand-in, where the customer answers
back in the same thread."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from inbox import db
from inbox.models import Account, Conversation, Message


class Demo:
    def __init__(self, folder: Path, *extra: str):
        self.folder = folder
        self.log = folder / "demo.out"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "webui.cli", "demo", "--dir", str(folder), "--port", "0", "--every", "0.5",
             "--no-browser", *extra],
            stdout=open(self.log, "w"), stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def output(self) -> str:
        return self.log.read_text()

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            m = re.search(pattern, self.output())
            if m:
                return m
            assert self.proc.poll() is None, self.output()
            time.sleep(0.2)
        raise AssertionError(f"{pattern!r} not seen:\n{self.output()}")

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=60)


@pytest.mark.parametrize("extra", [(), ("--maildir",)], ids=["imap", "maildir"])
def test_demo_runs_the_whole_product(tmp_path, extra):
    demo = Demo(tmp_path, *extra)
    try:
        url = demo.wait_for(r"Open (http://\S+)").group(1)
        password = demo.wait_for(r"Sign in as admin@demo.example with password (\S+)").group(1)
        http = requests.Session()
        page = http.get(url + "login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        r = http.post(url + "login", data={"email": "admin@demo.example", "password": password, "csrf_token": token})
        assert r.status_code == 200 and "Sign out" in r.text

        engine = db.make_engine(f"sqlite:///{tmp_path}/replydesk.db")
        factory = db.session_factory(engine)

        def count_by_kind():
            with factory() as s:
                return dict(s.execute(select(Account.kind, func.count(Message.id))
                                      .join(Message, Message.account_id == Account.id).group_by(Account.kind)).all())
        end = time.monotonic() + 60
        while time.monotonic() < end and len(count_by_kind()) < 3:
            time.sleep(0.5)
        kinds = count_by_kind()
        assert set(kinds) == {"x", "reddit", "maildir" if extra else "email"}, kinds
        assert "Nina Novak" in http.get(url).text or "nina_travels" in http.get(url).text

        # Answer Nina's tweet the way an agent would, through the outbox.
        with factory() as s:
            conv = s.scalar(select(Conversation).join(Message, Message.conversation_id == Conversation.id)
                            .where(Message.author_handle.like("%nina_travels%")))
        subprocess.run([sys.executable, "-m", "webui.cli", "--config", str(tmp_path / "replydesk.toml"), "reply",
                        str(conv.id), "--text", "So sorry Nina, the refund is on its way.", "--as",
                        "admin@demo.example"], check=True, capture_output=True, timeout=60)
        demo.wait_for(r"X stand-in received a reply tweet: .So sorry Nina")

        def customer_answered():
            with factory() as s:
                return s.scalar(select(func.count()).select_from(Message).where(
                    Message.conversation_id == conv.id, Message.text.like("%I can see the refund now%")))
        end = time.monotonic() + 60
        while time.monotonic() < end and not customer_answered():
            time.sleep(0.5)
        assert customer_answered(), demo.output()
        engine.dispose()
    finally:
        code = demo.stop()
    assert code == 0, demo.output()
    assert "demo stopped" in demo.output()

"""`replydesk doctor` connects to every account and says what works and what
to fix, without ever printing a secret."""
from __future__ import annotations

import subprocess
import sys

from collectors.standins.reddit_api import RedditApi
from collectors.standins.smtp import SmtpServer
from collectors.standins.x_api import XApi


def test_doctor_reports_each_account(tmp_path):
    x = XApi(username="acme", bearer_token="right-bearer-1234", validate=False).start()
    reddit = RedditApi(username="acme_support", password="right-password-99").start()
    smtp = SmtpServer().start()
    maildir = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    cfg = tmp_path / "replydesk.toml"
    cfg.write_text(f"""
[database]
url = "sqlite:///{tmp_path}/rd.db"

[[accounts]]
name = "x-good"
kind = "x"
username = "acme"
bearer_token = "right-bearer-1234"
consumer_key = "{x.consumer_key}"
consumer_secret = "{x.consumer_secret}"
access_token = "{x.access_token}"
access_token_secret = "{x.access_token_secret}"
api_url = "{x.url}"

[[accounts]]
name = "x-bad"
kind = "x"
username = "acme"
bearer_token = "wrong-bearer-5678"
api_url = "{x.url}"

[[accounts]]
name = "reddit-bad"
kind = "reddit"
client_id = "{reddit.client_id}"
client_secret = "{reddit.client_secret}"
username = "acme_support"
password = "wrong-password-00"
user_agent = "replydesk-test/1.0"
oauth_url = "{reddit.url}"
reddit_url = "{reddit.url}"

[[accounts]]
name = "drop"
kind = "maildir"
path = "{maildir}"
address = "support@acme.test"
smtp_host = "127.0.0.1"
smtp_port = {smtp.port}
smtp_security = "none"
""")
    try:
        r = subprocess.run([sys.executable, "-m", "webui.cli", "--config", str(cfg), "doctor"],
                           capture_output=True, text=True, timeout=120)
    finally:
        x.stop()
        reddit.stop()
        smtp.stop()
    out = r.stdout
    assert r.returncode == 1, out + r.stderr
    assert "schema missing" in out and "run `replydesk init`" in out
    assert "account x-good (x): OK: X API at" in out
    assert "account x-good (x): OK: Posting credentials work" in out
    assert "account x-bad (x): PROBLEM" in out
    assert "account reddit-bad (reddit): PROBLEM" in out
    assert "account drop (maildir): OK" in out
    for secret in ("right-bearer-1234", "wrong-bearer-5678", "wrong-password-00", x.consumer_secret):
        assert secret not in out + r.stderr

"""End to end in Chromium, against the real channels and their local
stand-ins, with the real worker: a customer writes, the message appears in
the open inbox without a reload, an agent answers from the composer, and
the reply arrives where the customer wrote, in the same thread."""
from __future__ import annotations

import contextlib
import secrets
import time
from email.utils import make_msgid

import pytest

from collectors.registry import settings_by_kind
from collectors.worker import Worker
from inbox.config import parse
from inbox.runtime import open_runtime
from inbox.users import add_user
from tests.webui.browser import LiveServer, sign_in
from tests.webui.conftest import PASSWORD
from webui.app import create_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def db_url(sqlite_url):
    return sqlite_url


@contextlib.contextmanager
def running(db_url: str, account: dict):
    """Config, database, worker and web server for one account."""
    data = {"database": {"url": db_url},
            "web": {"secret_key": secrets.token_hex(16), "secure_cookies": False, "undo_seconds": 1},
            "worker": {"outbox_seconds": 0.3, "jitter_seconds": 0.0},
            "accounts": [account]}
    config = parse(data, "e2e.toml", settings_by_kind(), env={})
    rt = open_runtime(config)
    with rt.factory.begin() as s:
        add_user(s, "agent@example.com", PASSWORD, role="agent", name="Ada Agent")
    worker = Worker(config, rt.factory)
    app = create_app(config)
    server = LiveServer(app)
    worker.start()
    try:
        yield server
    finally:
        worker.shutdown()
        server.stop()
        app.extensions["replydesk"].engine.dispose()
        rt.close()


def answer(page, server, shows: str, reply: str) -> None:
    """In the open inbox: wait for the new message, open it, reply, and wait
    until the worker reports it sent."""
    page.wait_for_selector(f"#rows >> text={shows}", timeout=20000)  # live, no reload
    page.click(f"#rows >> text={shows}")
    page.wait_for_selector("#reply-text")
    page.fill("#reply-text", reply)
    page.click("#composer button.primary")
    page.wait_for_selector("#composer >> text=Reply queued")
    page.wait_for_selector(".delivery.state-sent", timeout=20000)  # the thread updates live too


def new_page(browser, server):
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    sign_in(page, server.url, "agent@example.com", PASSWORD)
    return page


def test_email_from_dovecot_answered_over_smtp(browser, db_url):
    from collectors.standins.dovecot import Dovecot
    from collectors.standins.smtp import SmtpServer

    with Dovecot(user="support", password=secrets.token_urlsafe(10)) as dovecot, SmtpServer() as smtp:
        account = {"name": "support", "kind": "email", "imap_host": dovecot.host, "imap_port": dovecot.port,
                   "imap_security": "starttls", "ca_file": str(dovecot.cert), "imap_username": dovecot.user,
                   "imap_password": dovecot.password, "idle": True, "poll_seconds": 2,
                   "address": "support@acme.example", "from_name": "Acme Support",
                   "smtp_host": smtp.host, "smtp_port": smtp.port, "smtp_security": "none"}
        with running(db_url, account) as server:
            page = new_page(browser, server)
            msgid = make_msgid(domain="customer.example")
            dovecot.append((f"From: Casey Customer <casey@customer.example>\r\nTo: support@acme.example\r\n"
                            f"Subject: Kettle leaks\r\nMessage-ID: {msgid}\r\n"
                            f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime())}\r\n"
                            f"Content-Type: text/plain; charset=utf-8\r\n\r\n"
                            f"My new kettle leaks from the bottom.\r\n").encode())
            answer(page, server, "My new kettle leaks", "Sorry Casey, a replacement is on its way.")
            sent = smtp.wait_for(1, timeout=20)[0].message
            assert sent["In-Reply-To"] == msgid and msgid in sent["References"]
            assert sent["Subject"] == "Re: Kettle leaks"
            assert sent["To"].addresses[0].addr_spec == "casey@customer.example"
            assert "a replacement is on its way" in sent.get_body(("plain",)).get_content()
            page.context.close()


def test_x_mention_answered_in_thread(browser, db_url):
    from collectors.standins.x_api import XApi

    x_api = XApi(username="acme", validate=False).start()
    try:
        account = {"name": "acme-x", "kind": "x", "username": "acme", "bearer_token": x_api.bearer_token,
                   "consumer_key": x_api.consumer_key, "consumer_secret": x_api.consumer_secret,
                   "access_token": x_api.access_token, "access_token_secret": x_api.access_token_secret,
                   "api_url": x_api.url, "poll_seconds": 0.5}
        with running(db_url, account) as server:
            page = new_page(browser, server)
            mention = x_api.add_mention("casey", "my order 5521 never arrived")
            answer(page, server, "my order 5521 never arrived", "Sorry Casey! DM us and we will sort it out.")
            posted = [t for t in x_api.tweets.values() if t.get("author_id") == x_api.me["id"]]
            assert len(posted) == 1
            assert posted[0]["referenced_tweets"] == [{"type": "replied_to", "id": mention["id"]}]
            assert posted[0]["conversation_id"] == mention["conversation_id"]
            assert "DM us" in posted[0]["text"]
            assert page.locator(".delivery.state-sent a").count() == 1  # the permalink
            page.context.close()
    finally:
        x_api.stop()


def test_reddit_comment_answered_in_thread(browser, db_url):
    from collectors.standins.reddit_api import RedditApi

    api = RedditApi(username="acme_support", password=secrets.token_urlsafe(10)).start()
    try:
        account = {"name": "acme-reddit", "kind": "reddit", "client_id": api.client_id,
                   "client_secret": api.client_secret, "username": api.me, "password": api.password,
                   "user_agent": "replydesk-test/0.1", "subreddits": ["acme"], "keywords": ["kettle"],
                   "oauth_url": api.url, "reddit_url": api.url, "poll_seconds": 0.5}
        with running(db_url, account) as server:
            page = new_page(browser, server)
            post = api.add_submission(api.me, "acme", "Support megathread")
            comment = api.add_comment("jane", post["name"], "my kettle leaks all over the counter")
            answer(page, server, "my kettle leaks", "Sorry Jane! **Unplug it** and we will send a new one.")
            assert len(api.posted) == 1
            assert api.posted[0]["thing_id"] == comment["name"]  # the exact comment, not the post
            assert "**Unplug it**" in api.posted[0]["text"]  # Markdown as written
            page.context.close()
    finally:
        api.stop()

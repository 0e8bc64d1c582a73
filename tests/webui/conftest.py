"""Web UI fixtures: an app over the migrated test database (SQLite and
PostgreSQL), signed-in test clients, and conversations stored through the
real ingest path (inbox.ingest.store_batch)."""
from __future__ import annotations

import os
import re
from datetime import datetime, timedelta, timezone

import pytest

from inbox.channel import Batch, InboundItem
from inbox.ingest import store_batch
from webui.app import create_app

PASSWORD = "correct horse battery"
T0 = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=2)


def web_config(db_url: str, **web) -> dict:
    return {"database": {"url": db_url},
            "web": {"secret_key": "test-secret", "secure_cookies": False, "undo_seconds": 10, **web}}


@pytest.fixture
def app(db_url):
    app = create_app(web_config(db_url))
    yield app
    app.extensions["replydesk"].engine.dispose()


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token in the page"
    return m.group(1)


class Client:
    """A Flask test client that signs in and posts forms with their token."""

    def __init__(self, app):
        self.app = app
        self.http = app.test_client()
        self.token = None

    def login(self, email: str, password: str = PASSWORD):
        page = self.http.get("/login").get_data(as_text=True)
        resp = self.http.post("/login", data={"email": email, "password": password, "csrf_token": csrf_of(page)})
        if resp.status_code == 302:
            self.token = csrf_of(self.http.get("/").get_data(as_text=True))
        return resp

    def get(self, url, **kw):
        return self.http.get(url, **kw)

    def post(self, url, data=None, **kw):
        data = dict(data or {})
        data.setdefault("csrf_token", self.token)
        return self.http.post(url, data=data, **kw)


@pytest.fixture
def agent(make_user):
    return make_user("agent@example.com", "agent", "Ada Agent")


@pytest.fixture
def client(app, agent):
    c = Client(app)
    assert c.login("agent@example.com").status_code == 302
    return c


@pytest.fixture
def ingest(factory):
    """ingest(account, [items]) -> conversation ids, via store_batch."""
    def run(account, items):
        with factory.begin() as s:
            return sorted(store_batch(s, s.merge(account), Batch(items=items)).conversations)
    return run


def tweet(ext: str, text: str = "My order never arrived, I want a refund", minutes: int = 0, **kw) -> InboundItem:
    kw.setdefault("author_id", "u1")
    kw.setdefault("author_handle", "@customer")
    kw.setdefault("author_name", "Casey Customer")
    kw.setdefault("thread_key", f"t-{ext}")
    return InboundItem(external_id=ext, created_at=T0 + timedelta(minutes=minutes), text=text, **kw)


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium through Playwright, shared by the browser tests."""
    from playwright.sync_api import sync_playwright

    from tests.webui.browser import ARGS, chromium_path

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def server(db_url, make_user):
    """The app on a real port for the browser, with the agent Ada signed up."""
    from tests.webui.browser import LiveServer

    make_user("agent@example.com", "agent", "Ada Agent")
    app = create_app(web_config(db_url))
    live = LiveServer(app)
    yield live
    live.stop()
    app.extensions["replydesk"].engine.dispose()


@pytest.fixture
def page(browser, server):
    """A 1280x800 browser page signed in as Ada."""
    from tests.webui.browser import sign_in

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    sign_in(page, server.url, "agent@example.com", PASSWORD)
    yield page
    if os.environ.get("REPLYDESK_SHOTS"):  # what the page showed last, for a failing test
        page.screenshot(path=os.path.join(os.environ["REPLYDESK_SHOTS"], "last.png"))
    context.close()

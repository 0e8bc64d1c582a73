"""In Chromium: sign in, live updates, keyboard, the composer's undo, and
customer markup that stays inert in a real browser."""
from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from inbox.models import OutboundReply
from inbox.reply_rules import measure
from tests.webui.browser import sign_in, watch_for_script
from tests.webui.conftest import PASSWORD, tweet
from tests.webui.test_security import PAYLOADS

pytestmark = pytest.mark.browser


@pytest.fixture
def db_url(sqlite_url):
    """Browser tests run on SQLite only (the Flask-client tests cover both)."""
    return sqlite_url


def test_new_conversation_appears_live_and_keys_work(page, server, make_account, ingest):
    acc = make_account("acme-x", "x")
    ingest(acc, [tweet("1", "First customer message", author_name="Ann Novak")])
    page.reload()
    page.wait_for_selector("text=First customer message")
    stored = time.monotonic()
    ingest(acc, [tweet("2", "A brand new complaint about the kettle", 5, author_name="Ben Silva")])
    page.wait_for_selector("text=A brand new complaint about the kettle", timeout=5000)
    assert time.monotonic() - stored <= 2.5  # live: polled every second, no reload
    page.keyboard.press("j")
    page.keyboard.press("j")
    assert page.locator("tr.row.selected").get_attribute("data-id") == "1"
    page.keyboard.press("k")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server.url}/c/2")
    page.keyboard.press("a")  # assign to me
    page.wait_for_selector("text=assignee: Ada Agent")
    page.keyboard.press("r")
    assert page.evaluate("document.activeElement.id") == "reply-text"
    page.keyboard.press("Escape")
    page.keyboard.press("?")
    assert page.locator("#help").is_visible()
    page.keyboard.press("Escape")
    page.keyboard.press("e")  # close
    page.wait_for_selector(".conv-head .status.st-closed")
    page.goto(f"{server.url}/")
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "q"
    page.keyboard.type("kettle")
    expect(page.locator("#rows tr.row")).to_have_count(0)  # it is closed: not among Open


def test_reply_counter_send_and_undo(page, server, factory, make_account, ingest):
    acc = make_account("acme-x", "x")
    ingest(acc, [tweet("1", "Where is my order?")])
    page.goto(f"{server.url}/c/1")
    box = page.locator("#reply-text")
    box.fill("Sorry! 🙂 https://example.com/track")
    expected = measure("x", "Sorry! 🙂 https://example.com/track").used
    page.wait_for_selector(f"#counter:text('{expected} / 280')")
    box.fill("Sorry for the wait, it ships today.")
    page.click("#composer button.primary")
    page.wait_for_selector("#composer >> text=Reply queued")
    page.wait_for_selector(".delivery.state-queued >> text=Undo")
    page.click(".delivery.state-queued button.undo")
    page.wait_for_selector("text=Reply taken back")
    assert page.locator("#reply-text").input_value() == "Sorry for the wait, it ships today."
    with factory() as s:
        assert s.scalar(select(OutboundReply)) is None


def test_collision_is_shown_to_the_second_agent(browser, server, make_user, make_account, ingest):
    acc = make_account("acme-x", "x")
    ingest(acc, [tweet("1", "Hello?")])
    make_user("ben@example.com", "agent", "Ben Colleague")
    pages = []
    for email in ("agent@example.com", "ben@example.com"):
        ctx = browser.new_context()
        p = ctx.new_page()
        sign_in(p, server.url, email, PASSWORD)
        p.goto(f"{server.url}/c/1")
        pages.append(p)
    ada, ben = pages
    ada.locator("#reply-text").type("Typing a reply")
    ben.wait_for_selector("text=Ada Agent is typing", timeout=10000)
    ada.click("#composer button.primary")
    ada.wait_for_selector("#composer >> text=Reply queued")
    ben.locator("#reply-text").fill("Another answer")
    ben.click("#composer button.primary")
    ben.wait_for_selector("text=Someone else just answered")
    ben.click("#composer button[name=confirm]")
    ben.wait_for_selector("#composer >> text=Reply queued")
    for p in pages:
        p.context.close()


def test_customer_markup_stays_inert_in_chromium(page, server, make_account, ingest):
    x = make_account("acme-x", "x")
    mail = make_account("support", "email")
    ingest(x, [tweet(f"x{i}", p, i, author_name=f"<img src=x onerror=alert(1)>{i}", permalink="javascript:alert(1)")
               for i, p in enumerate(PAYLOADS)])
    ingest(mail, [tweet("e1", "html mail", 9, html="<p>fine</p>" + "".join(PAYLOADS), subject="<svg onload=alert(1)>")])
    seen = watch_for_script(page)
    for url in ["/", "/?status=any&q=pwned"] + [f"/c/{n}" for n in range(1, len(PAYLOADS) + 2)]:
        page.goto(server.url + url)
        page.wait_for_load_state("networkidle")
        for details in page.locator("details").all():
            details.evaluate("d => d.open = true")  # show the sanitised HTML too
        for link in page.locator(".msg a").all():
            assert not (link.get_attribute("href") or "").lower().startswith("javascript:")
        page.wait_for_timeout(200)
        assert page.evaluate("window.pwned") is None, url
    assert seen == []


def test_open_conversation_updates_live_and_keeps_drafts(page, server, make_account, ingest):
    acc = make_account("acme-x", "x")
    ingest(acc, [tweet("1", "Where is my order?", author_id="ann")])
    page.goto(f"{server.url}/c/1")
    page.fill("#reply-text", "Draft reply")
    page.fill("#note", "Draft note")
    ingest(acc, [tweet("2", "Hello?? Anyone there?", 3, author_id="ann", parent_external_id="1")])
    page.wait_for_selector("text=Hello?? Anyone there?", timeout=5000)  # the thread, without a reload
    assert page.locator("#reply-text").input_value() == "Draft reply"  # the composer is never refreshed
    assert page.locator("#note").input_value() == "Draft note"  # typed fields survive the refresh


def test_more_conversations_load_below(page, server, make_account, ingest):
    acc = make_account("acme-x", "x")
    ingest(acc, [tweet(str(i), f"message number {i}", i, author_id=f"u{i}") for i in range(60)])
    page.reload()
    expect(page.locator("#rows tr.row")).to_have_count(50)
    page.click("text=More conversations")
    expect(page.locator("#rows tr.row")).to_have_count(60)
    assert page.locator("#rows tr.row").last.get_attribute("data-id") == "1"  # oldest last, none repeated

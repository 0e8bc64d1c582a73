"""Screenshots of the web UI for the README, taken in Chromium.

Conversations are stored through the real ingest path (so sentiment and
urgency come from the `sentiment` package), then the app is served on a
free port and photographed:

    python docs/screenshots.py            # writes docs/webui-*.png
"""
from __future__ import annotations

import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from inbox import db, outbox, workflow  # noqa: E402
from inbox.channel import Batch, InboundItem, SentRef  # noqa: E402
from inbox.ingest import store_batch  # noqa: E402
from inbox.models import Account, CannedReply, Conversation, User  # noqa: E402
from inbox.users import add_user  # noqa: E402

NOW = datetime.now(timezone.utc)
PASSWORD = "screenshot password"
OUT = ROOT / "docs"

# (account, minutes ago, external id, author id, name, handle, text, subject, parent)
MESSAGES = [
    ("support", 400, "<a1@mail.example>", "rosa@example.org", "Rosa Costa", "rosa@example.org",
     "Hello,\nI was charged twice for my subscription this month (invoice 20931 and 20932).\n"
     "Please refund the second payment.\n\nRosa", "Charged twice for November", None),
    ("acme-x", 95, "1855000000000000001", "x-ann", "Ann Novak", "@ann_novak",
     "@acme my order #44817 still hasn't arrived and tracking hasn't moved in 9 days. This is the third time I ask.",
     None, None),
    ("acme-reddit", 70, "t1_kq1", "jane_doe", "jane_doe", "u/jane_doe",
     "Has anyone else's Acme kettle started leaking from the bottom? Mine is 3 weeks old.", None, None),
    ("acme-x", 52, "1855000000000000002", "x-ben", "Ben Silva", "@bensilva",
     "@acme love the new blender, best purchase this year 🙌", None, None),
    ("support", 41, "<a2@mail.example>", "kemi@example.net", "Kemi Okafor", "kemi@example.net",
     "Hi, where can I find the invoice for order 51120? I need it for my accountant.", "Invoice for order 51120",
     None),
    ("acme-x", 30, "1855000000000000003", "x-hiro", "Hiro Tanaka", "@hiro_t",
     "@acme is there an outage? Nothing loads for me or my colleagues in Leeds. Urgent!", None, None),
    ("acme-reddit", 22, "t1_kq2", "smart_home_fan", "smart_home_fan", "u/smart_home_fan",
     "Does the Acme smart plug work without the cloud account? Thinking of buying two.", None, None),
    ("support", 12, "<a3@mail.example>", "rosa@example.org", "Rosa Costa", "rosa@example.org",
     "Any update on this? It has been a few hours.", "Re: Charged twice for November", "<a1@mail.example>"),
    ("acme-x", 4, "1855000000000000004", "x-mara", "Mara Jensen", "@marajensen",
     "@acme my account was hacked and someone changed the password, please help asap", None, None),
]


def fill(url: str) -> None:
    engine = db.make_engine(url)
    db.upgrade(engine)
    factory = db.session_factory(engine)
    with factory.begin() as s:
        for name, kind in (("support", "email"), ("acme-x", "x"), ("acme-reddit", "reddit")):
            s.add(Account(name=name, kind=kind, health="ok", last_poll_at=NOW, last_success_at=NOW))
        add_user(s, "ada@acme.example", PASSWORD, role="admin", name="Ada Lindqvist")
        add_user(s, "ben@acme.example", PASSWORD, role="agent", name="Ben Okoro")
        s.add(CannedReply(title="Refund on its way", body="Hi {first_name}, so sorry about that! The refund is on "
                                                          "its way and shows in 3-5 days. {agent_first_name}"))
    for acc_name, ago, ext, author, name, handle, text, subject, parent in MESSAGES:
        with factory.begin() as s:
            acc = s.query(Account).filter_by(name=acc_name).one()
            thread = ext if acc.kind != "reddit" else "t3_megathread"
            item = InboundItem(external_id=ext, created_at=NOW - timedelta(minutes=ago), text=text,
                               author_id=author, author_handle=handle, author_name=name, subject=subject,
                               thread_key=None if parent else thread, parent_external_id=parent,
                               references=(parent,) if parent else (), permalink=None)
            store_batch(s, acc, Batch(items=[item]))
    with factory.begin() as s:
        ada = s.query(User).filter_by(email="ada@acme.example").one()
        ben = s.query(User).filter_by(email="ben@acme.example").one()
        rosa = s.query(Conversation).filter_by(subject="Charged twice for November").one()
        workflow.assign(s, rosa, ada, by=ada)
        workflow.add_tag(s, rosa, "billing", by=ada)
        workflow.add_note(s, rosa, "Checked Stripe: the second charge is a duplicate, refund approved.", by=ada)
        reply = workflow.queue_reply(s, rosa, "Hi Rosa, sorry about the double charge! We are refunding "
                                     "invoice 20932 now.", by=ada)
        s.flush()
        outbox.mark_sent(s, reply.id, SentRef(external_id="<r1@acme.example>", created_at=NOW - timedelta(minutes=380)))
        ann = s.query(Conversation).filter_by(thread_key="1855000000000000001").one()
        workflow.assign(s, ann, ben, by=ada)
        workflow.add_tag(s, ann, "delivery", by=ada)
    engine.dispose()


def shoot() -> None:
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(ROOT))
    from tests.webui.browser import ARGS, LiveServer, chromium_path, sign_in
    from webui.app import create_app

    folder = Path(tempfile.mkdtemp(prefix="replydesk-shots-"))
    url = f"sqlite:///{folder}/shots.db"
    fill(url)
    app = create_app({"database": {"url": url}, "web": {"secret_key": "shots", "secure_cookies": False}})
    server = LiveServer(app)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path(), headless=True, args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            sign_in(page, server.url, "ada@acme.example", PASSWORD)
            page.wait_for_selector("#counts .count")
            page.keyboard.press("j")
            page.keyboard.press("j")
            page.screenshot(path=str(OUT / "webui-inbox.png"))
            page.click("text=Charged twice for November")
            page.wait_for_selector("#presence")
            page.screenshot(path=str(OUT / "webui-conversation.png"))
            page.goto(f"{server.url}/")
            page.click("text=my account was hacked")
            page.fill("#reply-text", "Hi Mara, so sorry! We have locked the account. Reset it here: "
                                     "https://acme.example/reset 🔒")
            page.wait_for_timeout(600)  # the server's count replaces the quick one
            page.locator(".conversation").screenshot(path=str(OUT / "webui-composer.png"))
            phone = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
            sign_in(phone, server.url, "ada@acme.example", PASSWORD)
            phone.wait_for_selector("#counts .count")
            phone.screenshot(path=str(OUT / "webui-inbox-phone.png"))
            browser.close()
    finally:
        server.stop()
        app.extensions["replydesk"].engine.dispose()
    print("wrote " + ", ".join(str(p.relative_to(ROOT)) for p in sorted(OUT.glob("webui-*.png"))))


if __name__ == "__main__":
    shoot()

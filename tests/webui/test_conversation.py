"""The conversation page: actions land in the audit history; the composer
queues once, undoes, warns of collisions; presence; per-channel rules."""
from __future__ import annotations

import re
import uuid

from sqlalchemy import func, select

from inbox import outbox
from inbox.channel import Rejected
from inbox.models import AuditEvent, CannedReply, Conversation, Message, OutboundReply, User
from inbox.reply_rules import measure
from tests.webui.conftest import Client, tweet


def history(factory, conversation_id: int) -> list[str]:
    with factory() as s:
        return list(s.scalars(select(AuditEvent.action).where(AuditEvent.conversation_id == conversation_id)
                              .order_by(AuditEvent.id)))


def test_page_shows_thread_contact_and_assessment(client, make_account, ingest):
    x = make_account("acme-x", "x")
    mail = make_account("support", "email")
    ingest(x, [tweet("1", "Refund please, order 123", author_id="ann", author_name="Ann Novak")])
    ingest(x, [tweet("2", "Any news?", 5, author_id="ann", author_name="Ann Novak", parent_external_id="1")])
    ingest(x, [tweet("3", "Also: the kettle leaks", 9, author_id="ann", author_name="Ann Novak")])
    ingest(mail, [tweet("m", "Hello", author_id="zed@example.com", subject="Hi")])
    html = client.get("/c/1").get_data(as_text=True)
    assert html.index("Refund please") < html.index("Any news?")  # in order
    assert "Ann Novak" in html and "Other conversations" in html and "/c/2" in html  # same person elsewhere
    assert 'name="label"' in html  # sentiment can be corrected
    assert client.get("/c/999").status_code == 404


def test_assessment_says_how_sure_the_label_is(client, factory, make_account, ingest):
    ingest(make_account("acme-x", "x"), [tweet("1", "hmm, the new app")])

    def shown(label, confidence, corrected=None) -> str:
        with factory() as s:
            m = s.scalar(select(Message).where(Message.conversation_id == 1))
            m.sentiment_label, m.sentiment_confidence, m.corrected_label = label, confidence, corrected
            s.commit()
        html = client.get("/c/1").get_data(as_text=True)
        return re.sub(r"\s+", " ", html[html.index('<div class="assessment">'):html.index("<form", html.index('<div class="assessment">'))])

    sure = shown("negative", 0.9)
    assert "90 % sure" in sure and "(unsure)" not in sure and "unsure" not in sure
    # below even odds the label is more likely wrong than right: marked as such
    unsure = shown("negative", 0.42)
    assert 'class="badge mood-negative unsure"' in unsure and "negative (unsure)" in unsure and "42 % sure" in unsure
    # a person's correction is not the model's guess: no confidence shown
    corrected = shown("negative", 0.42, "positive")
    assert "positive (corrected)" in corrected and "% sure" not in corrected and "unsure" not in corrected
    # an unknown language has a low confidence by definition; "unknown" says it already
    unknown = shown("unknown", 0.1)
    assert "unknown" in unknown and "% sure" not in unknown and "(unsure)" not in unknown


def test_actions_are_audited_and_shown(client, factory, make_account, make_user, ingest):
    acc = make_account("acme-x", "x")
    ingest(acc, [tweet("1"), tweet("2", "second thread", 3, thread_key="other")])
    colleague = make_user("ben@example.com", "agent", "Ben Colleague")
    assert client.post("/c/1/assign", {"assignee": "me"}).status_code == 302
    client.post("/c/1/assign", {"assignee": str(colleague.id)})
    client.post("/c/1/tags", {"tag": "refund, vip"})
    client.post("/c/1/tags/remove", {"tag": "vip"})
    client.post("/c/1/note", {"text": "Called the courier"})
    client.post("/c/1/status", {"status": "snoozed", "snooze_until": "2099-01-01T09:00", "tz_offset": "-60"})
    with factory() as s:
        msg_id = s.scalar(select(Message.id).where(Message.conversation_id == 1, Message.direction == "in"))
        assert s.get(Conversation, 1).snoozed_until.hour == 8  # local 09:00 at UTC+1
    client.post(f"/c/1/messages/{msg_id}/sentiment", {"label": "positive"})
    client.post("/c/2/merge", {"target": "#1"})
    assert history(factory, 1) == ["assign", "assign", "tag_added", "tag_added", "tag_removed", "note", "status",
                                   "sentiment_corrected", "merged"]
    html = client.get("/c/1").get_data(as_text=True)
    assert "Called the courier" in html and "internal note" in html
    assert "tag added" in html and "sentiment corrected" in html and "merged" in html
    assert "second thread" in html  # merged in
    assert client.get("/c/2").status_code == 302  # the merged one points to its target
    resp = client.post("/c/1/status", {"status": "snoozed", "snooze_until": "2001-01-01T09:00"})
    assert "Snoozing needs a time in the future" in client.get(resp.headers["Location"]).get_data(as_text=True)


def test_reply_is_queued_once_and_can_be_undone(client, factory, make_account, ingest):
    acc = make_account("acme-x", "x")
    ingest(acc, [tweet("1")])
    key = uuid.uuid4().hex
    for _ in range(2):  # a double click sends the same key twice
        resp = client.post("/c/1/reply", {"text": "Sorry! DM us your order number.", "key": key},
                           headers={"HX-Request": "true"})
        assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "Reply queued" in html and "Undo" in html and 'hx-swap-oob="true"' in html
    with factory() as s:
        reply = s.scalar(select(OutboundReply))
        assert s.scalar(select(func.count()).select_from(OutboundReply)) == 1
        assert 9 <= (reply.not_before - reply.created_at).total_seconds() <= 11  # the undo window
    resp = client.post(f"/c/1/replies/{reply.id}/undo", headers={"HX-Request": "true"})
    assert "Sorry! DM us your order number." in resp.get_data(as_text=True)  # back in the composer
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(OutboundReply)) == 0
    assert history(factory, 1)[-2:] == ["reply_queued", "reply_undone"]


def test_collision_needs_confirmation(app, client, factory, make_account, make_user, ingest):
    acc = make_account("acme-x", "x")
    ingest(acc, [tweet("1")])
    make_user("ben@example.com", "agent", "Ben Colleague")
    ben = Client(app)
    ben.login("ben@example.com")
    assert client.post("/c/1/reply", {"text": "First answer", "key": "k1"}).status_code == 302
    resp = ben.post("/c/1/reply", {"text": "Second answer", "key": "k2"})
    assert resp.status_code == 409
    html = resp.get_data(as_text=True)
    assert "Ada Agent replied to this message" in html and "Send anyway" in html and "Second answer" in html
    assert ben.post("/c/1/reply", {"text": "Second answer", "key": "k2", "confirm": "1"}).status_code == 302
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(OutboundReply)) == 2


def test_delivery_states_and_retry(client, factory, make_account, ingest):
    acc = make_account("acme-x", "x")
    ingest(acc, [tweet("1")])
    client.post("/c/1/reply", {"text": "On it", "key": "k"})
    with factory.begin() as s:
        reply = s.scalar(select(OutboundReply))
        reply.attempts = 1
        outbox.mark_failed(s, reply.id, Rejected("parent tweet was deleted"))
    html = client.get("/c/1").get_data(as_text=True)
    assert "Failed: parent tweet was deleted" in html and "Retry" in html
    assert client.post(f"/c/1/replies/{reply.id}/retry").status_code == 302
    with factory() as s:
        assert s.get(OutboundReply, reply.id).state == "queued"
    assert "reply_retry" in history(factory, 1)


def test_too_long_for_x_is_refused_with_the_count(client, make_account, ingest):
    acc = make_account("acme-x", "x")
    ingest(acc, [tweet("1")])
    text = "🙂" * 141
    resp = client.post("/c/1/reply", {"text": text, "key": "k"})
    assert resp.status_code == 400 and "282 of 280" in resp.get_data(as_text=True)
    for sample in ("hi https://example.com/a/very/long/path", "日本語のテキスト", "👩‍👩‍👧 family"):
        counter = client.post("/c/1/reply/check", {"text": sample}).get_data(as_text=True)
        assert f">{measure('x', sample).used} / 280" in counter


def test_email_composer_has_subject_and_quote(client, make_account, ingest):
    mail = make_account("support", "email")
    ingest(mail, [tweet("m1", "My kettle leaks.\nPlease advise.", author_id="c@example.com", subject="Kettle")])
    html = client.get("/c/1").get_data(as_text=True)
    assert 'name="subject"' in html and 'value="Re: Kettle"' in html
    assert "&gt; My kettle leaks." in html


def test_reddit_preview_is_sanitised_markdown(client, make_account, ingest):
    reddit = make_account("acme-reddit", "reddit")
    ingest(reddit, [tweet("t1_a", "help")])
    html = client.post("/c/1/reply/preview", {"text": "**bold** [x](javascript:alert(1)) <script>y</script>"}
                       ).get_data(as_text=True)
    assert "<strong>bold</strong>" in html and "<script" not in html and 'href="javascript' not in html


def test_canned_reply_placeholders(client, factory, make_account, ingest):
    acc = make_account("acme-x", "x")
    ingest(acc, [tweet("1", author_name="Casey Customer")])
    with factory.begin() as s:
        s.add(CannedReply(title="Sorry", body="Hi {first_name}, {agent_first_name} here. So sorry!"))
    with factory() as s:
        canned_id = s.scalar(select(CannedReply.id))
    html = client.post("/c/1/reply/canned", {"canned": str(canned_id), "text": ""}).get_data(as_text=True)
    assert "Hi Casey, Ada here. So sorry!" in html


def test_presence_shows_viewers_and_typing(app, client, make_account, make_user, ingest):
    acc = make_account("acme-x", "x")
    ingest(acc, [tweet("1")])
    make_user("ben@example.com", "agent", "Ben Colleague")
    ben = Client(app)
    ben.login("ben@example.com")
    ben.post("/c/1/presence", {"typing": "1"})
    html = client.post("/c/1/presence").get_data(as_text=True)
    assert "Ben Colleague is typing" in html
    assert "Ada Agent is viewing" in ben.post("/c/1/presence").get_data(as_text=True)
    ben.post("/c/1/leave")
    assert "Ben Colleague" not in client.post("/c/1/presence").get_data(as_text=True)
    assert client.post("/c/999/presence").status_code == 404


def test_admin_manages_users_and_canned(app, factory, make_user):
    make_user("admin@example.com", "admin", "Ann Admin")
    c = Client(app)
    c.login("admin@example.com")
    c.post("/admin/users", {"email": "new@example.com", "name": "New Person", "password": "long enough pw",
                            "role": "agent"})
    with factory() as s:
        new = s.scalar(select(User).where(User.email == "new@example.com"))
    c.post(f"/admin/users/{new.id}/role", {"role": "manager"})
    c.post(f"/admin/users/{new.id}/active", {"active": "0"})
    c.post("/admin/canned", {"title": "Thanks", "body": "Thanks {first_name}!", "kind": ""})
    resp = c.post("/admin/canned", {"title": "Bad", "body": "Hi {nope}"})
    assert "Unknown placeholder" in c.get(resp.headers["Location"]).get_data(as_text=True)
    with factory() as s:
        new = s.get(User, new.id)
        assert (new.role, new.active) == ("manager", False)
        canned = s.scalar(select(CannedReply))
        assert canned.title == "Thanks"
    c.post(f"/admin/canned/{canned.id}/delete")
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(CannedReply)) == 0
        actions = set(s.scalars(select(AuditEvent.action)))
    assert {"user_added", "role_changed", "user_deactivated", "canned_saved", "canned_deleted"} <= actions
    assert "canned deleted" in c.get("/admin/audit").get_data(as_text=True)
    assert re.search(r"new@example.com", c.get("/admin/users").get_data(as_text=True))

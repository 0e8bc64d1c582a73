"""The inbox list: filters, search (FTS5 / tsvector), keyset pages, counts."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update

from inbox import workflow
from inbox.inbox_list import PAGE, ListFilters, count_mine, counts, list_conversations
from inbox.ingest import refresh_conversations
from inbox.models import Conversation, Message, User
from tests.webui.conftest import tweet


def ids_in(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr class="row[^"]*" data-id="(\d+)"', html)]


def test_filters(client, factory, make_account, make_user, ingest):
    x = make_account("acme-x", "x")
    mail = make_account("support", "email")
    ingest(x, [tweet("1", "I want a refund now, this is the worst", 0, author_id="a", author_name="Ann Novak"),
               tweet("2", "Love the new kettle", 1, author_id="b", author_name="Ben Silva")])
    ingest(mail, [tweet("m1", "Where is my invoice?", 2, author_id="c@example.com", author_name="Carla Rossi",
                        subject="Invoice 4711")])
    with factory.begin() as s:
        c1, c2, c3 = (s.get(Conversation, i) for i in (1, 2, 3))
        agent = s.scalar(select(User).where(User.email == "agent@example.com"))
        workflow.assign(s, c1, agent, by=agent)
        workflow.add_tag(s, c2, "praise", by=agent)
        workflow.set_status(s, c3, "pending", by=agent)
        s.execute(update(Conversation).where(Conversation.id == 1).values(urgency=90, sentiment="negative"))
        s.execute(update(Conversation).where(Conversation.id == 2).values(urgency=5, sentiment="positive"))

    def shown(query: str) -> set[int]:
        resp = client.get("/?" + query)
        assert resp.status_code == 200, query
        return set(ids_in(resp.get_data(as_text=True)))

    assert shown("") == {1, 2}  # open by default
    assert shown("status=any") == {1, 2, 3}
    assert shown("status=pending") == {3}
    assert shown("assignee=mine") == {1}
    assert shown("assignee=unassigned") == {2}
    assert shown("status=any&channel=email") == {3}
    assert shown(f"status=any&account={x.id}") == {1, 2}
    assert shown("sentiment=negative") == {1}
    assert shown("urgency=75") == {1}
    assert shown("tag=praise") == {2}
    assert shown("awaiting=1&status=any") == {1, 2, 3}
    assert shown("status=any&q=refund") == {1}
    assert shown("status=any&q=refu") == {1}  # words are prefixes
    assert shown("status=any&q=novak") == {1}  # author name
    assert shown("status=any&q=invoice+4711") == {3}  # subject and text together
    assert shown("status=any&q=%40ben") == {2}  # "@ben" finds Ben by name
    assert shown("status=any&q=nothing-like-this") == set()
    urgent_first = ids_in(client.get("/?status=any&sort=urgency").get_data(as_text=True))
    assert urgent_first[0] == 1
    waiting = ids_in(client.get("/?status=any&sort=waiting").get_data(as_text=True))
    assert waiting == [1, 2, 3]  # longest waiting first
    assert client.get("/?status=bogus").status_code == 400
    assert client.get("/?urgency=high").status_code == 400
    assert client.get("/?after=garbage").status_code == 400


def test_keyset_pages_walk_every_row_once(client, factory, make_account, ingest):
    acc = make_account("acme-x", "x")
    n = PAGE * 2 + 7
    ingest(acc, [tweet(str(i), f"message {i}", i, author_id=f"u{i}") for i in range(n)])
    for sort in ("newest", "urgency", "waiting"):
        seen: list[int] = []
        after = None
        with factory() as s:
            while True:
                page = list_conversations(s, ListFilters(sort=sort), user_id=None, after=after)
                seen += [r.id for r in page.rows]
                after = page.next_cursor
                if after is None:
                    break
        assert sorted(seen) == list(range(1, n + 1)), sort
        assert len(seen) == len(set(seen))
    html = client.get("/").get_data(as_text=True)
    more = re.search(r'hx-get="(/inbox/more\?[^"]+)"', html).group(1).replace("&amp;", "&")
    rows = ids_in(client.get(more).get_data(as_text=True))
    assert len(rows) == PAGE and rows[0] == n - PAGE  # newest first, continues after the first page


def test_counts(client, factory, make_account, ingest):
    acc = make_account("acme-x", "x")
    ingest(acc, [tweet(str(i), f"m {i}", i, author_id=f"u{i}") for i in range(5)])
    with factory.begin() as s:
        agent = s.scalar(select(User).where(User.email == "agent@example.com"))
        workflow.assign(s, s.get(Conversation, 1), agent, by=agent)
        workflow.set_status(s, s.get(Conversation, 2), "closed", by=agent)
        c = counts(s, user_id=agent.id)
    assert (c.open, c.closed, c.mine, c.unassigned, c.awaiting) == (4, 1, 1, 3, 4)
    html = client.get("/inbox/counts").get_data(as_text=True)
    assert re.search(r"Open <span class=\"count\">4</span>", html)
    assert re.search(r"Mine <span class=\"count\">1</span>", html)
    with factory.begin() as s:  # pending counts as active, snoozed does not
        workflow.set_status(s, s.get(Conversation, 3), "pending", by=agent)
        workflow.set_status(s, s.get(Conversation, 1), "snoozed", by=agent,
                            snooze_until=datetime.now(timezone.utc) + timedelta(hours=1))
        c = counts(s, user_id=agent.id)
        assert count_mine(s, user_id=agent.id) == 0
    assert (c.open, c.pending, c.snoozed, c.mine, c.unassigned, c.awaiting) == (2, 1, 1, 0, 3, 3)
    assert c.by_account == {acc.id: 2}


def test_live_feed_announces_changes(client, factory, make_account, ingest):
    acc = make_account("acme-x", "x")
    ingest(acc, [tweet("1")])
    first = client.get("/live/changes?since=0")
    assert first.status_code == 200
    since = re.search(r"since=(\d+)", first.get_data(as_text=True)).group(1)
    assert client.get(f"/live/changes?since={since}").status_code == 204
    ingest(acc, [tweet("2", minutes=5)])
    resp = client.get(f"/live/changes?since={since}&conversation=2")
    assert resp.status_code == 200
    events = json.loads(resp.headers["HX-Trigger"])
    assert events["rd-changed"]["conversations"] == [2] and events["rd-conversation"] == {"id": 2}
    assert "list" not in events["rd-changed"]  # not an inbox page: nothing to work out
    resp = client.get(f"/live/changes?since={since}&conversation=1")
    assert "rd-conversation" not in json.loads(resp.headers["HX-Trigger"])


def test_live_feed_tells_a_list_whether_a_change_concerns_it(client, factory, make_account, make_user, ingest):
    """A poll from an inbox list carries its filters; the answer says whether a
    changed conversation could be in that list now, so lists of "mine", of
    another channel or of a search stay quiet while others get busy."""
    x = make_account("acme-x", "x")
    mail = make_account("support", "email")
    other = make_user("bo@example.com", "agent", "Bo Other")
    with factory() as s:
        agent = s.scalar(select(User).where(User.email == "agent@example.com"))
    since = re.search(r"since=(\d+)", client.get("/live/changes?since=0&list=1").get_data(as_text=True) or
                      "since=0").group(1)

    def news(query: str) -> dict | None:
        resp = client.get(f"/live/changes?since={since}&list=1&{query}")
        if resp.status_code == 204:
            return None
        assert 'list=1' in resp.get_data(as_text=True) and 'hx-include="#filters"' in resp.get_data(as_text=True)
        changed = json.loads(resp.headers["HX-Trigger"])["rd-changed"]
        return {k: changed[k] for k in ("list", "counts")}

    [c1] = ingest(x, [tweet("1", "My kettle leaks, I want a refund", author_id="ann")])
    assert news("status=open") == {"list": True, "counts": True}
    assert news("status=open&assignee=mine") == {"list": False, "counts": True}
    assert news("status=closed") == {"list": False, "counts": True}
    assert news("status=any&channel=email") == {"list": False, "counts": False}
    assert news(f"status=any&account={mail.id}") == {"list": False, "counts": False}
    assert news(f"status=any&account={x.id}&sentiment=negative")["list"] is not None
    assert news("status=any&q=kettle")["list"] is True
    assert news("status=any&q=kett")["list"] is True  # the last word is a prefix, as in the list
    assert news("status=any&q=blender")["list"] is False
    assert news("status=any&tag=vip")["list"] is False
    assert news("sort=waiting")["list"] is True  # awaiting a reply
    assert news("status=bogus") == {"list": True, "counts": True}  # a list the server cannot read: reload

    since = re.search(r"since=(\d+)", client.get(f"/live/changes?since={since}").get_data(as_text=True)).group(1)
    with factory.begin() as s:
        workflow.assign(s, s.get(Conversation, c1), s.get(User, agent.id), by=s.get(User, agent.id))
    assert news("status=open&assignee=mine") == {"list": True, "counts": True}
    since = re.search(r"since=(\d+)", client.get(f"/live/changes?since={since}").get_data(as_text=True)).group(1)
    with factory.begin() as s:
        workflow.assign(s, s.get(Conversation, c1), s.get(User, other.id), by=s.get(User, agent.id))
        workflow.add_tag(s, s.get(Conversation, c1), "vip", by=s.get(User, agent.id))
    # Gone from "mine": the server cannot know the page showed it; the page
    # does (the id is named) and reloads.
    resp = client.get(f"/live/changes?since={since}&list=1&assignee=mine")
    changed = json.loads(resp.headers["HX-Trigger"])["rd-changed"]
    assert changed["list"] is False and changed["conversations"] == [c1]
    assert news("status=any&tag=vip")["list"] is True


def test_live_feed_names_every_changed_conversation(client, make_account, ingest):
    """With 100 new messages a second a poll often sees more than a hundred
    changed conversations; each is named, so a list of "mine" or a search
    can tell that none of its rows changed instead of reloading to be safe."""
    acc = make_account("acme-x", "x")
    ids = ingest(acc, [tweet(str(n), author_id=f"a{n}") for n in range(1, 151)])
    resp = client.get("/live/changes?since=0&list=1&assignee=mine")
    changed = json.loads(resp.headers["HX-Trigger"])["rd-changed"]
    assert changed["conversations"] == ids and len(ids) == 150
    assert changed["list"] is False and "more" not in changed


def test_list_reload_is_the_list_alone(client, make_account, ingest):
    """A live reload (htmx, HX-Target: list) gets the list without the
    filter bar or the page around it."""
    ingest(make_account("acme-x", "x"), [tweet("1")])
    part = client.get("/", headers={"HX-Request": "true", "HX-Target": "list"}).get_data(as_text=True)
    assert part.lstrip().startswith('<section id="list"') and 'href="/c/1"' in part
    assert "<html" not in part and 'id="filters"' not in part


def test_list_marks_a_guessed_mood_finds_the_guesses_and_follows_a_correction(client, factory, make_account, ingest):
    ingest(make_account("acme-x", "x"), [tweet("1", "hmm, the new app"), tweet("2", "the new app", 1, thread_key="b"),
                                         tweet("3", "nowa aplikacja", 2, thread_key="c")])
    with factory.begin() as s:  # what the scorer said of each conversation's last customer message
        for cid, label, confidence in ((1, "negative", 0.42), (2, "negative", 0.9), (3, "unknown", 0.1)):
            m = s.scalar(select(Message).where(Message.conversation_id == cid))
            m.sentiment_label, m.sentiment_confidence = label, confidence
        s.flush()
        refresh_conversations(s, [1, 2, 3])

    def mood(cid: int) -> str:
        html = client.get("/?status=any").get_data(as_text=True)
        row = html[html.index(f'data-id="{cid}"'):]
        return re.search(r'<span class="badge mood-[^>]*>[^<]*</span>', row[:row.index("</tr>")]).group(0)

    assert 'class="badge mood-negative unsure"' in mood(1) and ">negative?<" in mood(1) and "42 % sure" in mood(1)
    assert mood(2) == '<span class="badge mood-negative">negative</span>'
    assert mood(3) == '<span class="badge mood-unknown">unknown</span>'  # says so already
    # the "unsure" filter finds the guesses, to check and correct them
    assert set(ids_in(client.get("/?status=any&sentiment=unsure").get_data(as_text=True))) == {1}
    assert 'value="unsure" selected' in client.get("/?sentiment=unsure").get_data(as_text=True)
    # A person's correction replaces the label in the list and its filter, and is no guess.
    with factory() as s:
        msg_id = s.scalar(select(Message.id).where(Message.conversation_id == 1))
    assert client.post(f"/c/1/messages/{msg_id}/sentiment", {"label": "positive"}).status_code == 302
    assert mood(1) == '<span class="badge mood-positive">positive</span>'
    assert set(ids_in(client.get("/?status=any&sentiment=positive").get_data(as_text=True))) == {1}
    assert set(ids_in(client.get("/?status=any&sentiment=unsure").get_data(as_text=True))) == set()


def test_unhealthy_account_banner(client, factory, make_account):
    from datetime import timedelta

    from inbox.models import Account, utcnow

    make_account("acme-x", "x")
    assert 'role="alert"' not in client.get("/").get_data(as_text=True)
    with factory.begin() as s:
        acc = s.scalar(select(Account))
        acc.health, acc.health_reason = "rate_limited", "Rate limited until 12:00:00 UTC"
        acc.rate_limited_until = utcnow() + timedelta(minutes=5)
    html = client.get("/").get_data(as_text=True)
    assert 'class="banner" role="alert"' in html and "Rate limited until 12:00:00 UTC" in html
    with factory.begin() as s:
        s.scalar(select(Account)).health = "auth_failed"
    assert "fix its credentials in the config file" in client.get("/").get_data(as_text=True)


def test_counts_are_shared_for_a_moment_but_mine_is_always_fresh(client, factory, make_account, ingest,
                                                                  monkeypatch):
    acc = make_account("acme-x", "x")
    ingest(acc, [tweet(str(i), f"m {i}", i, author_id=f"u{i}") for i in range(3)])
    assert re.search(r"Open <span class=\"count\">3</span>", client.get("/inbox/counts").get_data(as_text=True))
    with factory.begin() as s:
        agent = s.scalar(select(User).where(User.email == "agent@example.com"))
        workflow.assign(s, s.get(Conversation, 1), agent, by=agent)
        workflow.set_status(s, s.get(Conversation, 2), "closed", by=agent)
    html = client.get("/inbox/counts").get_data(as_text=True)
    assert re.search(r"Open <span class=\"count\">3</span>", html)  # within COUNTS_FRESH_SECONDS: shared
    assert re.search(r"Mine <span class=\"count\">1</span>", html)  # per agent: never cached
    monkeypatch.setattr("webui.inbox_views.COUNTS_FRESH_SECONDS", 0.0)
    assert re.search(r"Open <span class=\"count\">2</span>", client.get("/inbox/counts").get_data(as_text=True))

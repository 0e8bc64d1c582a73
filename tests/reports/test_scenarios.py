"""The report on hand-built scenarios, with exact expected numbers, on SQLite
and PostgreSQL. Definitions: DESIGN.md and inbox/reports/contributions.py."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from tests.reports.conftest import DAY, UTC, at


def by(rows: list[dict], key: str) -> dict:
    return {r[key]: r for r in rows}


def test_replies_by_a_colleague_count_and_are_credited_to_whoever_sent_them(desk):
    x = desk.account()
    ada, bob = desk.agent("Ada"), desk.agent("Bob")
    desk.customer(x, at(0), "t1", author="c1")
    desk.assign("t1", ada)
    desk.reply("t1", bob, at(10))  # Bob helps out on Ada's conversation
    desk.customer(x, at(60), "t2", author="c2")
    desk.assign("t2", ada)
    desk.reply("t2", ada, at(90))
    desk.customer(x, at(120), "t3", author="c3")
    desk.outside_reply(x, at(125), "t3")  # answered from the phone app

    r = desk.report()
    assert (r["conversations"], r["unanswered"], r["unanswered_rate"]) == (3, 0, 0.0)
    assert r["first_response_seconds"] == {"median": 600, "p90": 1800, "count": 3}
    assert r["response_seconds"] == {"median": 600, "p90": 1800, "count": 3}
    assert r["volume"]["in"] == 3 and r["volume"]["out"] == 3
    agents = by(r["by_agent"], "agent")
    assert list(agents) == ["Ada", "Bob", "unassigned", "outside Replydesk"]
    # Ada owns two conversations; each answer is credited to whoever sent it.
    assert agents["Ada"]["conversations"] == 2 and agents["Ada"]["volume"] == {"in": 2, "out": 1}
    assert agents["Ada"]["first_response_seconds"] == {"median": 1800, "p90": 1800, "count": 1}
    assert agents["Bob"]["conversations"] == 0 and agents["Bob"]["volume"] == {"in": 0, "out": 1}
    assert agents["Bob"]["first_response_seconds"] == {"median": 600, "p90": 600, "count": 1}
    assert agents["unassigned"]["conversations"] == 1
    assert agents["outside Replydesk"]["first_response_seconds"]["median"] == 300
    assert agents["outside Replydesk"]["volume"]["out"] == 1
    assert desk.rebuild_matches()


def test_a_reopened_conversation_counts_once_and_each_message_has_its_own_response_time(desk):
    x = desk.account()
    ada = desk.agent("Ada")
    desk.customer(x, at(0), "t1")
    desk.assign("t1", ada)
    desk.reply("t1", ada, at(20))
    desk.close("t1", at(60))
    desk.customer(x, at(days=1, hours=2), "t1")  # the customer writes again: ingest reopens it
    desk.reply("t1", ada, at(45, days=1, hours=2))
    desk.close("t1", at(days=1, hours=3))

    both = desk.report(DAY, DAY + timedelta(days=1))
    assert (both["conversations"], both["unanswered"]) == (1, 0)
    assert both["first_response_seconds"] == {"median": 1200, "p90": 1200, "count": 1}
    assert both["response_seconds"] == {"median": 1200, "p90": 2700, "count": 2}
    # Resolution: the last close minus the first customer message, on the day it closed.
    assert both["resolution_seconds"] == {"median": 27 * 3600, "p90": 27 * 3600, "count": 1}
    assert both["volume"] | {"days": None} == {"in": 2, "out": 2, "days": None}

    first_day, second_day = desk.report(DAY), desk.report(DAY + timedelta(days=1))
    assert first_day["resolution_seconds"]["count"] == 0  # the first close was undone by the reopen
    assert second_day["conversations"] == 1 and second_day["first_response_seconds"]["count"] == 0
    assert second_day["response_seconds"] == {"median": 2700, "p90": 2700, "count": 1}
    assert second_day["resolution_seconds"]["count"] == 1
    assert desk.rebuild_matches()


def test_bounces_auto_replies_notes_undelivered_replies_and_spam_never_count(desk):
    mail = desk.account("support", "email")
    ada = desk.agent("Ada")
    desk.customer(mail, at(0), "e1", author="c1@example.com")
    desk.customer(mail, at(1), "e1", author="robot@example.com", auto="auto_reply")
    desk.reply("e1", ada, at(30))
    desk.customer(mail, at(2), "e2", author="c2@example.com")
    desk.note("e2", ada)  # an internal note is not an answer
    desk.customer(mail, at(5), "e3", author="mailer-daemon@example.com", auto="bounce")
    desk.customer(mail, at(10), "e4", author="c4@example.com")
    desk.reply("e4", ada, at(20), deliver=False)  # queued, never posted
    desk.customer(mail, at(15), "e5", author="spammer@example.com")
    desk.spam("e5")

    r = desk.report()
    assert (r["conversations"], r["unanswered"]) == (3, 2)  # e1, e2, e4; e2 and e4 await a reply
    assert r["volume"]["in"] == 3 and r["volume"]["out"] == 1
    assert r["first_response_seconds"] == {"median": 1800, "p90": 1800, "count": 1}
    assert sum(r["sentiment"][k] for k in ("negative", "neutral", "positive", "unknown")) == 3
    assert r["awaiting"] == 2 and r["backlog"]["now"]["total"] == 2
    assert desk.rebuild_matches()


def test_unanswered_rate_counts_waiting_and_late_conversations_and_sla_takes_time_into_account(desk):
    x = desk.account()
    ada = desk.agent("Ada")
    desk.configure(sla={"first_response_minutes": 60})
    desk.customer(x, at(0), "t1", author="c1")
    desk.reply("t1", ada, at(30))  # within the hour: hit
    desk.customer(x, at(60), "t2", author="c2")
    desk.reply("t2", ada, at(150))  # after 90 minutes: missed, and counts as unanswered
    desk.customer(x, at(120), "t3", author="c3")  # never answered, due at(180)
    desk.customer(x, at(400), "t4", author="c4")  # not answered yet, due at(460)

    r = desk.report(now=at(430))
    assert (r["conversations"], r["unanswered"], r["unanswered_rate"]) == (4, 3, 0.75)
    sla = r["sla"]
    assert (sla["target_seconds"], sla["hit"], sla["missed"], sla["pending"]) == (3600, 1, 2, 1)
    assert [(b["conversation_id"], b["late_seconds"], b["answered_at"]) for b in sla["breaches"]] == [
        (desk.conv("t3"), (430 - 180) * 60, None), (desk.conv("t2"), 30 * 60, at(150))]
    assert sla["breaches"][0]["agent"] == "unassigned" and sla["breaches"][1]["agent"] == "Ada"
    # Time passes: t4's deadline goes by with no reply.
    later = desk.report(now=at(500))["sla"]
    assert (later["hit"], later["missed"], later["pending"], len(later["breaches"])) == (1, 3, 0, 3)


def test_targets_per_kind_and_per_account(desk):
    x, mail, vip = desk.account("acme-x", "x"), desk.account("support", "email"), desk.account("vip", "x")
    ada = desk.agent("Ada")
    desk.configure(sla={"first_response_minutes": 60, "kind_minutes": {"email": 240}},
                   accounts=[{"name": "acme-x", "kind": "x"}, {"name": "support", "kind": "email"},
                             {"name": "vip", "kind": "x", "sla_minutes": 15}])
    for account, thread in ((x, "x1"), (mail, "m1"), (vip, "v1")):
        desk.customer(account, at(0), thread, author=f"c-{thread}@example.com")
        desk.reply(thread, ada, at(90))
    desk.customer(vip, at(100), "v2", author="c-v2")
    desk.reply("v2", ada, at(110))

    r = desk.report()
    accounts = by(r["by_account"], "account")
    assert {a: (v["target_seconds"], v["sla"]["hit"], v["sla"]["missed"]) for a, v in accounts.items()} == {
        "acme-x": (3600, 0, 1), "support": (14400, 1, 0), "vip": (900, 1, 1)}
    assert r["sla"]["target_seconds"] == 3600 and r["sla"]["targets_differ"] is True
    assert desk.report(account="support")["sla"]["target_seconds"] == 14400
    assert by(r["by_channel"], "channel")["x"]["sla"] | {"pending": 0} == {"hit": 1, "missed": 2, "pending": 0}


def test_business_hours_stop_the_clock_overnight_and_at_the_weekend(desk):
    x = desk.account()
    ada = desk.agent("Ada")
    desk.configure(sla={"first_response_minutes": 60, "business_hours": "09:00-17:00",
                        "timezone": "Europe/Berlin"})
    friday_1630 = datetime(2026, 11, 6, 15, 30, tzinfo=UTC)  # 16:30 in Berlin
    monday = datetime(2026, 11, 9, 8, 0, tzinfo=UTC)  # 09:00 in Berlin; due 09:30 (30 min Friday + 30)
    desk.customer(x, friday_1630, "t1", author="c1")
    desk.reply("t1", ada, monday + timedelta(minutes=20))
    desk.customer(x, friday_1630, "t2", author="c2")
    desk.reply("t2", ada, monday + timedelta(minutes=40))

    r = desk.report(date(2026, 11, 6), date(2026, 11, 9))
    assert (r["sla"]["hit"], r["sla"]["missed"]) == (1, 1)
    assert r["sla"]["business_hours"] == "09:00-17:00 mon, tue, wed, thu, fri (Europe/Berlin)"
    [breach] = r["sla"]["breaches"]
    assert breach["due_at"] == monday + timedelta(minutes=30) and breach["late_seconds"] == 600
    # Response times themselves are wall-clock: the whole weekend. The two
    # (233400 s and 234600 s) share one histogram bucket, so the percentiles
    # are interpolated around its mean: within 3 % here, in order.
    first = r["first_response_seconds"]
    assert first["count"] == 2 and (first["median"], first["p90"]) == (227218, 240782)


def test_days_begin_at_midnight_in_the_report_time_zone(desk):
    x = desk.account()
    ada = desk.agent("Ada")
    desk.configure(sla={"timezone": "America/New_York"})
    desk.customer(x, datetime(2026, 11, 3, 4, 30, tzinfo=UTC), "t1", author="c1")  # Nov 2, 23:30 in New York
    desk.customer(x, datetime(2026, 11, 3, 5, 30, tzinfo=UTC), "t2", author="c2")  # Nov 3, 00:30
    desk.reply("t1", ada, datetime(2026, 11, 3, 6, 0, tzinfo=UTC))

    nov2 = desk.report(date(2026, 11, 2))
    assert nov2["conversations"] == 1 and nov2["volume"]["in"] == 1 and nov2["period"]["timezone"] == "America/New_York"
    both = desk.report(date(2026, 11, 2), date(2026, 11, 3))
    assert [(d["day"], d["in"], d["out"]) for d in both["volume"]["days"]] == [
        ("2026-11-02", 1, 0), ("2026-11-03", 1, 1)]
    # At midnight in New York t1 had waited 30 minutes; at the next, t2 23.5 hours.
    assert [(d["day"], d["total"], d["lt_1h"], d["4h_24h"]) for d in both["backlog"]["days"]] == [
        ("2026-11-02", 1, 1, 0), ("2026-11-03", 1, 0, 1)]

    desk.configure(sla={"timezone": "UTC"})  # the same messages, both on Nov 3 in UTC
    assert desk.report(date(2026, 11, 2))["conversations"] == 0
    assert desk.report(date(2026, 11, 3))["conversations"] == 2


def test_the_day_clocks_go_back_has_25_hours(desk):
    x = desk.account()
    desk.configure(sla={"timezone": "Europe/Berlin"})
    desk.customer(x, datetime(2026, 10, 24, 22, 30, tzinfo=UTC), "t1", author="c1")  # Oct 25, 00:30 CEST
    desk.customer(x, datetime(2026, 10, 25, 22, 30, tzinfo=UTC), "t2", author="c2")  # Oct 25, 23:30 CET
    desk.customer(x, datetime(2026, 10, 25, 23, 30, tzinfo=UTC), "t3", author="c3")  # Oct 26, 00:30 CET
    r = desk.report(date(2026, 10, 24), date(2026, 10, 26))
    assert [(d["day"], d["in"]) for d in r["volume"]["days"]] == [
        ("2026-10-24", 0), ("2026-10-25", 2), ("2026-10-26", 1)]


def test_backlog_over_time_by_age(desk):
    x = desk.account()
    ada = desk.agent("Ada")
    nov = lambda d, h, m=0: datetime(2026, 11, d, h, m, tzinfo=UTC)  # noqa: E731
    desk.customer(x, nov(2, 10), "t1", author="c1")
    desk.reply("t1", ada, nov(4, 12))
    desk.customer(x, nov(3, 21, 30), "t2", author="c2")
    desk.reply("t2", ada, nov(4, 1))
    desk.customer(x, nov(3, 23, 45), "t3", author="c3")  # never answered

    r = desk.report(date(2026, 11, 2), date(2026, 11, 4), now=nov(6, 12))
    assert r["backlog"]["days"] == [
        {"day": "2026-11-02", "total": 1, "lt_1h": 0, "1h_4h": 0, "4h_24h": 1, "gt_24h": 0},
        {"day": "2026-11-03", "total": 3, "lt_1h": 1, "1h_4h": 1, "4h_24h": 0, "gt_24h": 1},
        {"day": "2026-11-04", "total": 1, "lt_1h": 0, "1h_4h": 0, "4h_24h": 0, "gt_24h": 1},
    ]
    assert r["backlog"]["now"] == {"total": 1, "lt_1h": 0, "1h_4h": 0, "4h_24h": 0, "gt_24h": 1}
    # Soon after t3 arrived, the current backlog sees it young.
    young = desk.report(date(2026, 11, 4), now=nov(4, 0, 10))["backlog"]["now"]
    assert (young["total"], young["lt_1h"], young["gt_24h"]) == (1, 1, 0)


def test_an_empty_period(desk):
    r = desk.report(date(2026, 10, 1), date(2026, 10, 3))
    assert (r["conversations"], r["unanswered"], r["unanswered_rate"]) == (0, 0, None)
    for key in ("first_response_seconds", "response_seconds", "resolution_seconds"):
        assert r[key] == {"median": None, "p90": None, "count": 0}
    assert r["volume"]["in"] == 0 and [d["in"] for d in r["volume"]["days"]] == [0, 0, 0]
    assert [d["total"] for d in r["backlog"]["days"]] == [0, 0, 0]
    assert (r["sla"]["hit"], r["sla"]["missed"], r["sla"]["breaches"]) == (0, 0, [])
    assert r["by_channel"] == r["by_account"] == r["by_agent"] == []
    # Data outside the period changes nothing.
    desk.customer(desk.account(), at(0), "t1")
    assert desk.report(date(2026, 10, 1), date(2026, 10, 3))["conversations"] == 0


def test_filters_by_channel_account_and_agent(desk):
    x, mail = desk.account("acme-x", "x"), desk.account("support", "email")
    ada, bob = desk.agent("Ada"), desk.agent("Bob")
    desk.customer(x, at(0), "x1", author="c1")
    desk.assign("x1", ada)
    desk.reply("x1", ada, at(5))
    desk.customer(x, at(10), "x2", author="c2")
    desk.assign("x2", bob)
    desk.customer(mail, at(20), "m1", author="c3@example.com")
    desk.assign("m1", ada)
    desk.reply("m1", bob, at(80))

    full = desk.report()
    assert by(full["by_channel"], "channel")["x"]["conversations"] == 2
    assert by(full["by_channel"], "channel")["email"]["unanswered_rate"] == 0.0
    only_x = desk.report(kind="x")
    assert (only_x["conversations"], only_x["unanswered"]) == (2, 1)
    assert [a["account"] for a in only_x["by_account"]] == ["acme-x"]
    support = desk.report(account="support")
    assert support["conversations"] == 1 and support["first_response_seconds"]["median"] == 3600
    assert {a["agent"]: (a["conversations"], a["volume"]["out"]) for a in support["by_agent"]} == {
        "Ada": (1, 0), "Bob": (0, 1)}
    mine = desk.report(agent_id=ada.id)
    assert (mine["conversations"], mine["volume"]["in"], mine["volume"]["out"]) == (2, 2, 1)
    assert mine["first_response_seconds"] == {"median": 300, "p90": 300, "count": 1}
    assert [a["account"] for a in mine["by_account"]] == ["acme-x", "support"]


def test_moves_between_agents_merges_and_spam_keep_the_rollups_exact(desk):
    x = desk.account()
    ada, bob = desk.agent("Ada"), desk.agent("Bob")
    desk.customer(x, at(0), "t1", author="c1")
    desk.customer(x, at(5), "t2", author="c1")
    desk.assign("t1", ada)
    desk.assign("t1", bob)
    desk.reply("t2", ada, at(30))
    desk.spam("t2")
    from inbox import workflow as wf

    t1, t2 = desk.conv("t1"), desk.conv("t2")
    with desk.factory.begin() as s:
        wf.set_status(s, wf.get_conversation(s, t2), "open", by=None, spam=False)
        wf.merge(s, wf.get_conversation(s, t2), wf.get_conversation(s, t1), by=None)
    r = desk.report()
    assert r["conversations"] == 1 and r["volume"] == r["volume"] | {"in": 2, "out": 1}
    assert by(r["by_agent"], "agent")["Bob"]["conversations"] == 1
    assert r["response_seconds"] == {"median": 1500, "p90": 1800, "count": 2}
    assert desk.rebuild_matches()


def test_staff_corrections_decide_the_sentiment_mix(desk):
    x = desk.account()
    ada = desk.agent("Ada")
    first = desk.customer(x, at(0), "t1", author="c1")
    second = desk.customer(x, at(5), "t2", author="c2")
    desk.label(first, "negative", ada)
    desk.label(second, "positive", ada)
    r = desk.report()
    assert (r["sentiment"]["negative"], r["sentiment"]["positive"]) == (1, 1)
    assert r["sentiment"]["days"][0] | {"day": DAY.isoformat()} == {
        "day": DAY.isoformat(), "negative": 1, "neutral": 0, "positive": 1, "unknown": 0}


def test_closed_without_reply_leaves_the_backlog_but_stays_unanswered(desk):
    x = desk.account()
    nov = lambda d, h, m=0: datetime(2026, 11, d, h, m, tzinfo=UTC)  # noqa: E731
    desk.customer(x, nov(2, 10), "t1", author="c1", text="thanks, all good now!")
    desk.close("t1", nov(3, 9))  # an agent closes it without answering
    desk.customer(x, nov(2, 11), "t2", author="c2")  # still waiting

    r = desk.report(date(2026, 11, 2), date(2026, 11, 4), now=nov(5, 12))
    assert [d["total"] for d in r["backlog"]["days"]] == [2, 1, 1]
    assert r["backlog"]["now"]["total"] == 1
    assert (r["conversations"], r["unanswered"]) == (2, 2)
    assert desk.rebuild_matches()

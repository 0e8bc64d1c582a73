"""Manager report speed: a 90-day report over 1,000,000 messages on SQLite.

Fills a SQLite file with conversations spread over 100 days, 6 accounts
(X, Reddit, email), 15 agents: customer messages, replies by the assignee,
by colleagues and from outside Replydesk, internal notes, auto-replies and
bounces, unanswered and closed conversations. The rows go in with Core
executemany (ingest is not what is measured here); the report tables are
then built by `inbox.reports.rebuild`, the same code the live hook runs,
and that backfill is timed too. Prints the median of several report runs.

    python bench/reports.py                      # 1,000,000 messages
    python bench/reports.py --messages 100000 --keep /tmp/r.db
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, insert, select  # noqa: E402

from inbox import db  # noqa: E402
from inbox.derive import Fact, derive  # noqa: E402
from inbox.models import Account, Conversation, Message, ReportConversation, ReportCount, User  # noqa: E402
from inbox.reports import build_report, rebuild  # noqa: E402

END = datetime(2026, 11, 20, 18, 0, tzinfo=timezone.utc)
SPAN_DAYS = 100
ACCOUNTS = [("acme-x", "x"), ("acme-help-x", "x"), ("acme-reddit", "reddit"), ("acme-sub", "reddit"),
            ("support", "email"), ("billing", "email")]
AGENTS = 15
LABELS = ["negative", "neutral", "positive"]


def minutes(rng: random.Random, median: float, spread: float = 1.2) -> timedelta:
    return timedelta(minutes=rng.lognormvariate(0, spread) * median)


def conversation(rng: random.Random, cid: int, account: int, kind: str, start: datetime):
    """Messages of one conversation as dict rows, and its derived fields."""
    assignee = None if rng.random() < 0.15 else rng.randint(1, AGENTS)
    length = min(12, 1 + int(rng.expovariate(1 / 3)))
    rows, t = [], start
    unanswered = rng.random() < 0.08
    while len(rows) < length and t < END:
        for _ in range(1 if rng.random() < 0.7 else 2):  # one or two customer messages per turn
            rows.append(("in", None, t, None, rng.choice(LABELS)))
            t += timedelta(minutes=rng.randint(1, 20))
        if kind == "email" and rng.random() < 0.04:
            rows.append(("in", rng.choice(["auto_reply", "auto_reply", "bounce"]), t, None, None))
        if rng.random() < 0.05:
            rows.append(("note", None, t + timedelta(minutes=3), assignee or 1, None))
        if unanswered and len(rows) >= length - 1:
            break
        t += minutes(rng, 35 if kind != "email" else 120, 1.4)
        r = rng.random()
        user = assignee if (assignee and r < 0.8) else (None if r > 0.93 else rng.randint(1, AGENTS))
        rows.append(("out", None, t, user, None))
        t += minutes(rng, 180, 1.5)  # the customer writes back later, if at all
    rows = [r for r in rows if r[2] <= END]
    facts = [Fact(d, auto, at, d == "out", None, label, None) for d, auto, at, _, label in rows]
    derived = derive(facts)
    closed_at = None
    if not derived.awaiting_reply and derived.last_outbound_at and rng.random() < 0.75:
        closed_at = derived.last_outbound_at + minutes(rng, 600, 1.0)
        closed_at = closed_at if closed_at < END else None
    conv = {"id": cid, "account_id": account, "thread_key": f"t{cid}", "status": "closed" if closed_at else "open",
            "assignee_id": assignee, "closed_at": closed_at, "spam": rng.random() < 0.005,
            "created_at": start, "updated_at": start, **derived.as_dict()}
    if conv["spam"]:
        conv["awaiting_reply"], conv["awaiting_since"] = False, None
    return conv, rows


def fill(url: str, n_messages: int, seed: int) -> int:
    rng = random.Random(seed)
    engine = db.make_engine(url)
    db.upgrade(engine)
    factory = db.session_factory(engine)
    with factory.begin() as s:
        s.execute(insert(Account.__table__), [{"id": i + 1, "name": n, "kind": k, "health": "ok", "enabled": True,
                                               "auth_failures": 0, "consecutive_failures": 0}
                                              for i, (n, k) in enumerate(ACCOUNTS)])
        s.execute(insert(User.__table__), [{"id": i, "email": f"agent{i}@example.com", "name": f"Agent {i}",
                                            "role": "agent", "password_hash": "-", "active": True}
                                           for i in range(1, AGENTS + 1)])
    weights = [5, 2, 2, 1, 6, 2]
    convs, msgs, total, cid, mid = [], [], 0, 0, 0
    while total < n_messages:
        cid += 1
        day = rng.random() * SPAN_DAYS
        start = END - timedelta(days=day)
        if start.weekday() >= 5 and rng.random() < 0.5:  # quieter weekends
            continue
        a = rng.choices(range(len(ACCOUNTS)), weights)[0]
        conv, rows = conversation(rng, cid, a + 1, ACCOUNTS[a][1], start.replace(hour=rng.choice(range(24))))
        if not rows:
            continue
        convs.append(conv)
        for direction, auto, at, user, label in rows:
            mid += 1
            msgs.append({"id": mid, "conversation_id": cid, "account_id": a + 1, "direction": direction,
                         "auto": auto, "user_id": user, "created_at": at, "stored_at": at, "text": "…",
                         "external_id": None if direction == "note" else f"m{mid}", "sentiment_label": label})
        total += len(rows)
        if len(msgs) >= 20_000:
            _flush(factory, convs, msgs)
    _flush(factory, convs, msgs)
    engine.dispose()
    return total


def _flush(factory, convs: list, msgs: list) -> None:
    with factory.begin() as s:
        s.execute(insert(Conversation.__table__), convs)
        s.execute(insert(Message.__table__), msgs)
    convs.clear()
    msgs.clear()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=90, help="length of the report period")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--keep", metavar="PATH", help="keep the database at PATH (reused if it exists)")
    ap.add_argument("--rebuild", action="store_true", help="rebuild the report tables of a kept database")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.keep or f"{tmp}/reports.db")
        url = f"sqlite:///{path}"
        fresh = not path.exists()
        if fresh:
            t0 = time.perf_counter()
            n = fill(url, args.messages, args.seed)
            print(f"filled {n:,} messages in {time.perf_counter() - t0:.0f} s")
        if fresh or args.rebuild:
            engine = db.make_engine(url)
            with engine.begin() as c:  # from scratch: nothing to subtract
                c.execute(ReportCount.__table__.delete())
                c.execute(ReportConversation.__table__.delete())
            t0 = time.perf_counter()
            convs = rebuild(db.session_factory(engine))
            print(f"report tables built from scratch (rebuild) for {convs:,} conversations "
                  f"in {time.perf_counter() - t0:.0f} s")
            engine.dispose()
        engine = db.make_engine(url)
        reader = db.reader_factory(engine)
        with reader() as s:
            n = s.scalar(select(func.count()).select_from(Message))
            cells = s.scalar(select(func.count()).select_from(ReportCount))
        until = END.date()
        since = until - timedelta(days=args.days - 1)
        times, cpu, report = [], [], None
        for _ in range(args.runs):
            with reader() as s:
                t0, c0 = time.perf_counter(), time.process_time()
                report = build_report(s, since=since, until=until, now=END)
                times.append((time.perf_counter() - t0) * 1000)
                cpu.append((time.process_time() - c0) * 1000)
        engine.dispose()
    print(f"{n:,} messages, {cells:,} rollup rows; {args.days}-day report ({since}..{until}): "
          f"median {statistics.median(times):.0f} ms, best {min(times):.0f} ms over {args.runs} runs "
          f"(CPU time median {statistics.median(cpu):.0f} ms; load average {os.getloadavg()[0]:.1f})")
    print(f"  unanswered rate {report['unanswered_rate']}, {report['conversations']:,} conversations, "
          f"first response median {report['first_response_seconds']['median']} s, "
          f"p90 {report['first_response_seconds']['p90']} s")
    print(f"reproduce: python bench/reports.py --messages {args.messages} --days {args.days} --runs {args.runs} "
          f"--seed {args.seed}")
    print(f"same report from the CLI: replydesk report --since {since} --until {until} --format table")


if __name__ == "__main__":
    main()

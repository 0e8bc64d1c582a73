"""Web UI server time at scale: the inbox list under each filter, search,
counts and the conversation page, over 1,000,000 messages in SQLite.

The database is filled directly with Core executemany (the ingest path is
measured by bench/ingest.py): 5 accounts (email 45 %, X 35 %, Reddit 20 %
of messages), threads of 1-12 messages over two years with more recent
traffic, most old conversations closed, 20 agents, tags on a fifth of the
conversations, customers who come back. The full-text index is kept by its
triggers during the fill, as in production.

Each case is a real request through the Flask test client (routing, the
SQL, template rendering), repeated with varying values; p50/p95 are server
time. Reproduce:

    python bench/webui.py --messages 1000000 --db /tmp/replydesk-bench.db
"""
from __future__ import annotations

import argparse
import os
from urllib.parse import quote
import random
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, insert, select, text  # noqa: E402

from inbox import db  # noqa: E402
from inbox.models import (  # noqa: E402
    Account, Contact, ContactIdentity, Conversation, ConversationTag, Message, Tag, User,
)

NOW = datetime.now(timezone.utc).replace(microsecond=0)
SPAN = timedelta(days=730)
ACCOUNTS = [("support", "email", 0.30), ("billing", "email", 0.15), ("acme-x", "x", 0.25),
            ("acme-x-search", "x", 0.10), ("acme-reddit", "reddit", 0.20)]
TAGS = ["billing", "delivery", "refund", "bug", "feature-request", "vip", "press", "outage", "returns", "legal"]
FIRST = ["Ann", "Ben", "Carla", "Dmitri", "Eva", "Farid", "Gosia", "Hiro", "Ines", "Jonas", "Kemi", "Luca", "Mara",
         "Noor", "Oskar", "Priya", "Quinn", "Rosa", "Sami", "Tess", "Umar", "Vera", "Wen", "Ximena", "Yusuf", "Zoe"]
LAST = ["Novak", "Silva", "Kowalski", "Okafor", "Tanaka", "Müller", "Haddad", "Larsen", "Rossi", "Nguyen", "Dubois",
        "Patel", "Schmidt", "Moreau", "Costa", "Ivanova", "Jensen", "Fischer", "Garcia", "Khan"]
PRODUCTS = ["kettle", "blender", "router", "headphones", "smart plug", "vacuum", "toaster", "speaker", "camera"]
SENTENCES = [
    "my order #{n} still hasn't arrived and tracking has not moved for {d} days",
    "I was charged twice for my subscription this month, please refund the second payment",
    "the app keeps crashing when I open my account page since the last update",
    "thanks so much for the quick help yesterday, everything works perfectly now",
    "can you tell me whether the {p} comes with a charger in the box?",
    "is there an outage? nothing loads for me",
    "I want to cancel my plan, who do I talk to?",
    "your courier left the parcel in the rain and the {p} is ruined",
    "love the new {p}, best purchase this year",
    "I have been waiting {d} days for an answer, this is unacceptable",
    "my account was hacked and someone changed the password, urgent",
    "where can I find the invoice for order {n}? need it for my accountant",
    "the {p} makes a strange noise after {d} days of use",
    "do you ship to Portugal and how long does it take?",
]
REPLIES = ["Thanks for reaching out, we are looking into order #{n} now.", "Sorry about that! A refund is on its way.",
           "Could you send us your order number in a private message?", "Glad to hear it, enjoy the {p}!"]


def _text(rng: random.Random, outbound: bool) -> str:
    pick = rng.choice(REPLIES if outbound else SENTENCES)
    body = pick.format(n=rng.randint(10000, 99999), d=rng.randint(2, 20), p=rng.choice(PRODUCTS))
    if not outbound and rng.random() < 0.25:
        body += ". " + rng.choice(SENTENCES).format(n=rng.randint(10000, 99999), d=3, p=rng.choice(PRODUCTS))
    return body[0].upper() + body[1:]


def _when(rng: random.Random) -> datetime:
    # More traffic lately: the square pulls times towards now.
    return NOW - SPAN * (rng.random() ** 2) - timedelta(minutes=30)


def fill(url: str, messages: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    engine = db.make_engine(url)
    db.upgrade(engine)
    t0 = time.perf_counter()
    with engine.begin() as c:
        c.execute(insert(User.__table__), [
            {"email": f"agent{i}@example.com", "name": f"{FIRST[i % 26]} Agent{i}", "role": "admin" if i == 0 else "agent",
             "password_hash": "pbkdf2:sha256:1$x$y", "active": True, "created_at": NOW} for i in range(20)])
        c.execute(insert(Account.__table__), [
            {"name": n, "kind": k, "enabled": True, "health": "ok", "auth_failures": 0, "consecutive_failures": 0,
             "created_at": NOW} for n, k, _ in ACCOUNTS])
        c.execute(insert(Tag.__table__), [{"name": t} for t in TAGS])
    users = list(range(1, 21))
    contacts_n = max(10, messages // 7)
    with engine.begin() as c:
        for start in range(0, contacts_n, 20000):
            rows = [{"id": i, "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}", "origin": f"bench:{i}",
                     "created_at": NOW} for i in range(start + 1, min(contacts_n, start + 20000) + 1)]
            c.execute(insert(Contact.__table__), rows)
            c.execute(insert(ContactIdentity.__table__), [
                {"contact_id": r["id"], "namespace": "bench", "author_id": str(r["id"]),
                 "handle": r["name"].split()[0].lower() + str(r["id"]), "name": r["name"]} for r in rows])
    # Bulk load: the full-text triggers are set aside and the index is built
    # once at the end ('rebuild'), several times faster than row by row.
    with engine.begin() as c:
        triggers = c.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                                  "AND name LIKE 'messages_fts_%'")).all()
        for name, _ in triggers:
            c.execute(text(f"DROP TRIGGER {name}"))
    weights = [w for _, _, w in ACCOUNTS]
    msg_id = conv_id = 0
    convs, msgs, tags = [], [], []

    def flush(c):
        c.execute(insert(Conversation.__table__), convs)
        c.execute(insert(Message.__table__), msgs)
        if tags:
            c.execute(insert(ConversationTag.__table__), tags)
        convs.clear(), msgs.clear(), tags.clear()

    with engine.begin() as c:
        while msg_id < messages:
            conv_id += 1
            acc = rng.choices(range(len(ACCOUNTS)), weights)[0]
            kind = ACCOUNTS[acc][1]
            n = min(messages - msg_id, 1 + int(rng.expovariate(1 / (2.0 if kind == "email" else 1.0))))
            n = min(n, 12)
            contact = rng.randint(1, contacts_n) if rng.random() < 0.6 else 1 + (conv_id * 7919) % contacts_n
            name = f"{FIRST[contact % 26]} {LAST[contact % 20]}"
            gaps = [timedelta(minutes=rng.randint(3, 600)) for _ in range(n)]
            start = _when(rng) - sum(gaps, timedelta())
            at = start
            subject = f"{rng.choice(PRODUCTS).title()} order {rng.randint(10000, 99999)}" if kind == "email" else None
            first_in = last_in = last_out = first_resp = None
            awaiting_since = None
            urgency = 0
            sentiment, confidence = "neutral", None
            preview = ""
            for k in range(n):
                outbound = k % 2 == 1
                msg_id += 1
                body = _text(rng, outbound)
                label = rng.choices(["negative", "neutral", "positive", "unknown"], [25, 55, 15, 5])[0]
                # 0.34-1.0 spread evenly (a quarter below even odds), from the id so
                # the random stream, and so the rest of the data, stays as before
                sure = 0.2 if label == "unknown" else 0.34 + (msg_id * 2654435761 % 1000) * 0.00066
                urg = min(100, int(rng.expovariate(1 / 22))) if not outbound else None
                msgs.append({
                    "id": msg_id, "conversation_id": conv_id, "account_id": acc + 1,
                    "external_id": f"{kind}-{msg_id}", "direction": "out" if outbound else "in",
                    "contact_id": None if outbound else contact, "user_id": rng.choice(users) if outbound else None,
                    "author_id": "us" if outbound else str(contact), "author_handle": "acme" if outbound else f"@{name.split()[0].lower()}{contact}",
                    "author_name": "Acme" if outbound else name, "subject": subject, "text": body,
                    "created_at": at, "stored_at": at, "sentiment_label": None if outbound else label,
                    "sentiment_confidence": None if outbound else sure,
                    "urgency": urg, "urgency_reasons": ["refund request"] if urg and urg > 60 else None})
                if outbound:
                    last_out = at
                    first_resp = first_resp or at
                    awaiting_since = None
                else:
                    first_in = first_in or at
                    last_in = at
                    awaiting_since = awaiting_since or at
                    urgency, sentiment, confidence, preview = urg, label, sure, body[:200]
                at = at + gaps[k]
            at = at - gaps[-1]
            age = (NOW - at).total_seconds() / 86400
            if age < 14:
                status = rng.choices(["open", "pending", "snoozed", "closed"], [55, 10, 5, 30])[0]
            else:
                status = rng.choices(["open", "closed"], [1, 99])[0]
            awaiting = awaiting_since is not None and status != "closed" or (awaiting_since is not None and rng.random() < 0.05)
            convs.append({
                "id": conv_id, "account_id": acc + 1, "thread_key": f"bench-{conv_id}", "contact_id": contact,
                "subject": subject, "subject_key": subject.lower() if subject else None, "status": status,
                "snoozed_until": NOW + timedelta(days=2) if status == "snoozed" else None,
                "assignee_id": rng.choice(users) if rng.random() < (0.7 if status == "closed" else 0.5) else None,
                "priority": 0, "spam": False, "urgency": urgency or 0, "sentiment": sentiment,
                "sentiment_confidence": confidence, "preview": preview,
                "awaiting_reply": awaiting, "awaiting_since": awaiting_since if awaiting else None,
                "first_inbound_at": first_in, "first_response_at": first_resp, "last_inbound_at": last_in,
                "last_outbound_at": last_out, "last_message_at": at, "closed_at": at if status == "closed" else None,
                "message_count": n, "created_at": start, "updated_at": at})
            if rng.random() < 0.2:
                for t in rng.sample(range(1, len(TAGS) + 1), rng.choice([1, 1, 2])):
                    tags.append({"conversation_id": conv_id, "tag_id": t})
            if len(msgs) >= 20000:
                flush(c)
                print(f"\r  {msg_id:,} messages", end="", file=sys.stderr, flush=True)
        flush(c)
    with engine.begin() as c:
        c.execute(text("INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')"))
        for _, sql in triggers:
            c.execute(text(sql))
        c.execute(text("ANALYZE"))
    print(f"\rfilled {msg_id:,} messages, {conv_id:,} conversations in {time.perf_counter() - t0:.0f} s",
          file=sys.stderr)
    engine.dispose()


def cases(rng: random.Random, s) -> dict[str, callable]:
    """name -> function giving the next URL (values vary between runs)."""
    conv_max = s.scalar(select(func.max(Conversation.id)))
    long_threads = s.scalars(select(Conversation.id).where(Conversation.message_count >= 8).limit(200)).all()
    words = ["refund", "kettle", "invoice", "outage", "hacked", "courier", "charger", "portugal"]
    names = [f"{f} {ln}" for f in FIRST[:8] for ln in LAST[:3]]
    later = "/inbox/more?after={}"

    def order_no():
        return str(rng.randint(10000, 99999))

    return {
        "inbox: open, newest (default)": lambda: "/",
        "inbox: any status": lambda: "/?status=any",
        "inbox: closed": lambda: "/?status=closed",
        "inbox: mine": lambda: "/?assignee=mine",
        "inbox: unassigned": lambda: "/?assignee=unassigned",
        "inbox: awaiting reply": lambda: "/?awaiting=1",
        "inbox: account": lambda: f"/?account={rng.randint(1, 5)}",
        "inbox: channel": lambda: f"/?channel={rng.choice(['email', 'x', 'reddit'])}",
        "inbox: sentiment negative": lambda: "/?sentiment=negative",
        "inbox: sentiment unsure": lambda: "/?sentiment=unsure",
        "inbox: urgency >= 75": lambda: "/?urgency=75",
        "inbox: tag": lambda: f"/?tag={rng.choice(TAGS)}&status=any",
        "inbox: sort urgency": lambda: "/?sort=urgency",
        "inbox: sort waiting": lambda: "/?sort=waiting",
        "inbox: all statuses, urgency >= 90": lambda: "/?status=any&urgency=90",
        "inbox: combined": lambda: f"/?channel=x&sentiment=negative&urgency=50&assignee=unassigned&sort=urgency",
        "inbox: page 2 (keyset)": lambda: None,  # filled in by run(): needs a cursor
        "search: common word": lambda: f"/?status=any&q={rng.choice(words)}",
        "search: order number": lambda: f"/?status=any&q={order_no()}",
        "search: author name": lambda: f"/?status=any&q={rng.choice(names).replace(' ', '+')}",
        "search: prefix": lambda: f"/?status=any&q={rng.choice(words)[:4]}",
        "search: open + word": lambda: f"/?q={rng.choice(words)}",
        "counts": lambda: f"/inbox/counts?status=open",
        "conversation": lambda: f"/c/{rng.randint(1, conv_max)}",
        "conversation: long thread": lambda: f"/c/{rng.choice(long_threads)}" if long_threads else "/c/1",
        "live: poll": lambda: "/live/changes?since=0",
    }, later


def _login(app, email: str, password: str):
    import re

    from werkzeug.security import generate_password_hash

    with app.extensions["replydesk"].factory.begin() as s:
        s.execute(User.__table__.update().where(User.email == email).values(
            password_hash=generate_password_hash(password)))
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    resp = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    assert resp.status_code == 302, resp.status_code
    return client


def _percentiles(values: list[float]) -> tuple[float, float]:
    values = sorted(values)
    return statistics.median(values), values[min(len(values) - 1, int(round(0.95 * len(values))) - 1)]


def run(url: str, repeat: int, seed: int = 11) -> list[tuple[str, float, float, float]]:
    """Wall time is what a user waits for; CPU time is the same request
    without time spent waiting for a core (shown because a shared machine
    inflates wall time)."""
    from inbox.inbox_list import ListFilters, list_conversations
    from webui.app import create_app

    app = create_app({"database": {"url": url}, "web": {"secret_key": "bench", "secure_cookies": False}})
    rt = app.extensions["replydesk"]
    rng = random.Random(seed)
    with rt.reader() as s:
        table, later = cases(rng, s)
        cursors = [list_conversations(s, ListFilters(), user_id=2).next_cursor]
    client = _login(app, "agent1@example.com", "bench password")
    results = []
    for name, make in table.items():
        times, cpu = [], []
        for i in range(repeat + 2):
            path = make() if name != "inbox: page 2 (keyset)" else later.format(quote(cursors[0]))
            t, c = time.perf_counter(), time.process_time()
            resp = client.get(path)
            elapsed = (time.perf_counter() - t) * 1000
            used = (time.process_time() - c) * 1000
            assert resp.status_code in (200, 204), (path, resp.status_code, resp.get_data(as_text=True)[:500])
            if i >= 2:  # the first two warm caches
                times.append(elapsed)
                cpu.append(used)
        p50, p95 = _percentiles(times)
        c50, c95 = _percentiles(cpu)
        results.append((name, p50, p95, c95))
        print(f"{name:38s} {p50:7.1f} {p95:7.1f}   {c50:7.1f} {c95:7.1f}", flush=True)
    rt.engine.dispose()
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--messages", type=int, default=1_000_000)
    p.add_argument("--db", default="/tmp/replydesk-bench.db", help="SQLite file; reused when it holds enough messages")
    p.add_argument("--repeat", type=int, default=40)
    p.add_argument("--refill", action="store_true", help="start from an empty file even if one exists")
    p.add_argument("--cold", action="store_true",
                   help="do not read the file into the page cache first (a server's cache would hold it)")
    args = p.parse_args()
    url = f"sqlite:///{args.db}"
    path = Path(args.db)
    have = 0
    if path.exists() and not args.refill:
        engine = db.make_engine(url)
        try:
            with engine.connect() as c:
                have = c.execute(text("SELECT count(*) FROM messages")).scalar() or 0
        except Exception:
            have = 0
        engine.dispose()
    if have < args.messages:
        for suffix in ("", "-wal", "-shm"):
            Path(args.db + suffix).unlink(missing_ok=True)
        fill(url, args.messages)
    if not args.cold:
        # A running server's page cache holds its database; a freshly filled
        # or long-unread file is on disk, and on a slow disk the first
        # touches of random pages would be measured instead of the server.
        t = time.perf_counter()
        with open(args.db, "rb") as fh:
            while fh.read(1 << 24):
                pass
        print(f"read {path.stat().st_size / 1e6:,.0f} MB into the page cache in {time.perf_counter() - t:.1f} s "
              f"(--cold skips this)")
    print(f"server time per request in ms, {args.repeat} runs each, SQLite {args.db}:")
    print(f"{'case':38s} {'wall p50':>7s} {'p95':>7s}   {'cpu p50':>7s} {'p95':>7s}")
    results = run(url, args.repeat)
    print(f"worst p95: wall {max(r[2] for r in results):.1f} ms, cpu {max(r[3] for r in results):.1f} ms "
          f"(load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    print(f"reproduce: python bench/webui.py --messages {args.messages} --db {args.db}")


if __name__ == "__main__":
    main()

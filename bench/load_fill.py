"""Fill a PostgreSQL database with a care team's history for bench/load.py:
N messages (default 1,000,000) in threads of 1-12 over two years, on an
email, an X and a Reddit account, with contacts, tags, assignees, 50
agents who can sign in, sentiment and urgency as ingest would have left
them.

Rows go in with Core executemany (SQLAlchemy batches them into multi-row
INSERTs); the full-text GIN index is dropped during the fill and built
once at the end, which is several times faster than keeping it up to date
row by row. Ids are given explicitly so messages can point at their
conversation without a round trip; the sequences are moved past them.
"""
from __future__ import annotations

import random
import sys
import time
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, insert, select, text

NOW = datetime.now(timezone.utc).replace(microsecond=0)
SPAN = timedelta(days=730)
PASSWORD = "load test password"
AGENTS = 50
TAGS = ["billing", "delivery", "refund", "bug", "feature-request", "vip", "press", "outage", "returns", "legal"]
FIRST = ["Ann", "Ben", "Carla", "Dmitri", "Eva", "Farid", "Gosia", "Hiro", "Ines", "Jonas", "Kemi", "Luca", "Mara",
         "Noor", "Oskar", "Priya", "Quinn", "Rosa", "Sami", "Tess", "Umar", "Vera", "Wen", "Ximena", "Yusuf", "Zoe"]
LAST = ["Novak", "Silva", "Kowalski", "Okafor", "Tanaka", "Haddad", "Larsen", "Rossi", "Nguyen", "Dubois",
        "Patel", "Schmidt", "Moreau", "Costa", "Ivanova", "Jensen", "Fischer", "Garcia", "Khan", "Berg"]
PRODUCTS = ["kettle", "blender", "router", "headphones", "smart plug", "vacuum", "toaster", "speaker", "camera"]
ASK = ["my order #{n} still has not arrived and tracking has not moved for {d} days",
       "I was charged twice for my subscription this month, please refund the second payment",
       "the app keeps crashing when I open my account page since the last update",
       "thanks so much for the quick help yesterday, everything works perfectly now",
       "can you tell me whether the {p} comes with a charger in the box?", "is there an outage? nothing loads",
       "I want to cancel my plan, who do I talk to?", "your courier left the parcel in the rain and the {p} is ruined",
       "love the new {p}, best purchase this year", "I have been waiting {d} days for an answer, unacceptable",
       "my account was hacked and someone changed the password, urgent",
       "where can I find the invoice for order {n}? need it for my accountant",
       "the {p} makes a strange noise after {d} days of use", "do you ship to Portugal and how long does it take?"]
ANSWER = ["Thanks for reaching out, we are looking into order #{n} now.", "Sorry about that! A refund is on its way.",
          "Could you send us your order number in a private message?", "Glad to hear it, enjoy the {p}!"]
SHARE = [("email", 0.45), ("x", 0.35), ("reddit", 0.20)]
BATCH = 20_000


def _text(rng: random.Random, answer: bool) -> str:
    body = rng.choice(ANSWER if answer else ASK).format(n=rng.randint(10000, 99999), d=rng.randint(2, 20),
                                                        p=rng.choice(PRODUCTS))
    return body[0].upper() + body[1:]


def fill(url: str, messages: int, accounts: dict[str, int], seed: int = 7, report=print) -> dict:
    """`accounts`: kind -> account id (made by `replydesk init` from the load
    config). Returns what was made, for the load run to pick from."""
    from werkzeug.security import generate_password_hash

    from inbox import db
    from inbox.models import Contact, ContactIdentity, Conversation, ConversationTag, Message, Tag, User

    rng = random.Random(seed)
    engine = db.make_engine(url)
    t0 = time.perf_counter()
    hashed = generate_password_hash(PASSWORD)
    with engine.begin() as c:
        c.execute(insert(User.__table__), [
            {"email": f"agent{i}@example.com", "name": f"{FIRST[i % 26]} Agent{i}", "role": "agent",
             "password_hash": hashed, "active": True, "created_at": NOW} for i in range(1, AGENTS + 1)])
        c.execute(insert(Tag.__table__), [{"name": t} for t in TAGS])
        users = list(c.scalars(select(User.id)))
        index_sql = c.execute(text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_messages_search'")).scalar()
        c.execute(text("DROP INDEX IF EXISTS ix_messages_search"))
    contacts_n = max(10, messages // 7)
    with engine.begin() as c:
        for start in range(1, contacts_n + 1, BATCH):
            rows = [{"id": i, "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}", "origin": f"load:{i}",
                     "created_at": NOW} for i in range(start, min(contacts_n, start + BATCH - 1) + 1)]
            c.execute(insert(Contact.__table__), rows)
            c.execute(insert(ContactIdentity.__table__), [
                {"contact_id": r["id"], "namespace": "load", "author_id": str(r["id"]),
                 "handle": r["name"].split()[0].lower() + str(r["id"]), "name": r["name"]} for r in rows])
    kinds, weights = [k for k, _ in SHARE], [w for _, w in SHARE]
    msg_id = conv_id = 0
    convs, msgs, tags = [], [], []

    def flush(c) -> None:
        if not convs:
            return
        c.execute(insert(Conversation.__table__), convs)
        c.execute(insert(Message.__table__), msgs)
        if tags:
            c.execute(insert(ConversationTag.__table__), tags)
        convs.clear()
        msgs.clear()
        tags.clear()

    with engine.begin() as c:
        while msg_id < messages:
            conv_id += 1
            kind = rng.choices(kinds, weights)[0]
            n = min(messages - msg_id, 12, 1 + int(rng.expovariate(1 / (2.0 if kind == "email" else 1.0))))
            contact = rng.randint(1, contacts_n)
            name = f"{FIRST[contact % 26]} {LAST[contact % 20]}"
            gaps = [timedelta(minutes=rng.randint(3, 600)) for _ in range(n)]
            at = start = NOW - SPAN * (rng.random() ** 2) - timedelta(hours=1) - sum(gaps, timedelta())
            subject = f"{rng.choice(PRODUCTS).title()} order {rng.randint(10000, 99999)}" if kind == "email" else None
            first_in = last_in = last_out = first_resp = awaiting_since = None
            urgency, sentiment, preview = 0, "neutral", ""
            for k in range(n):
                out = k % 2 == 1
                msg_id += 1
                body = _text(rng, out)
                label = rng.choices(["negative", "neutral", "positive", "unknown"], [25, 55, 15, 5])[0]
                urg = None if out else min(100, int(rng.expovariate(1 / 22)))
                msgs.append({
                    "id": msg_id, "conversation_id": conv_id, "account_id": accounts[kind],
                    "external_id": f"load-{kind}-{msg_id}", "direction": "out" if out else "in",
                    "contact_id": None if out else contact, "user_id": rng.choice(users) if out else None,
                    "author_id": "us" if out else f"{name.split()[0].lower()}{contact}@example.org",
                    "author_handle": "acme" if out else f"@{name.split()[0].lower()}{contact}",
                    "author_name": "Acme" if out else name, "subject": subject, "text": body, "created_at": at,
                    "stored_at": at, "sentiment_label": None if out else label, "urgency": urg,
                    "urgency_reasons": ["refund request"] if urg and urg > 60 else None})
                if out:
                    last_out, first_resp, awaiting_since = at, first_resp or at, None
                else:
                    first_in, last_in = first_in or at, at
                    awaiting_since = awaiting_since or at
                    urgency, sentiment, preview = urg, label, body[:200]
                at += gaps[k]
            at -= gaps[-1]
            recent = (NOW - at).days < 14
            status = rng.choices(["open", "pending", "snoozed", "closed"], [55, 10, 5, 30])[0] if recent else \
                rng.choices(["open", "closed"], [1, 99])[0]
            awaiting = awaiting_since is not None and status != "closed"
            convs.append({
                "id": conv_id, "account_id": accounts[kind], "thread_key": f"load-{conv_id}", "contact_id": contact,
                "subject": subject, "subject_key": subject.lower() if subject else None, "status": status,
                "snoozed_until": NOW + timedelta(days=2) if status == "snoozed" else None,
                "assignee_id": rng.choice(users) if rng.random() < 0.5 else None, "priority": 0, "spam": False,
                "urgency": urgency or 0, "sentiment": sentiment, "preview": preview, "awaiting_reply": awaiting,
                "awaiting_since": awaiting_since if awaiting else None, "first_inbound_at": first_in,
                "first_response_at": first_resp, "last_inbound_at": last_in, "last_outbound_at": last_out,
                "last_message_at": at, "closed_at": at if status == "closed" else None, "message_count": n,
                "created_at": start, "updated_at": at})
            if rng.random() < 0.2:
                for t in rng.sample(range(1, len(TAGS) + 1), rng.choice([1, 1, 2])):
                    tags.append({"conversation_id": conv_id, "tag_id": t})
            if len(msgs) >= BATCH:
                flush(c)
                report(f"  {msg_id:,} messages ({time.perf_counter() - t0:.0f} s)")
        flush(c)
    report(f"rows in: {msg_id:,} messages, {conv_id:,} conversations in {time.perf_counter() - t0:.0f} s; "
           "building the search index")
    with engine.begin() as c:
        for table in ("contacts", "contact_identities", "conversations", "messages"):
            c.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
        c.execute(text("SET maintenance_work_mem = '512MB'"))
        if index_sql:
            c.execute(text(index_sql))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("VACUUM ANALYZE"))
    with engine.connect() as c:
        made = {"messages": c.scalar(select(func.count()).select_from(Message)),
                "conversations": conv_id, "users": users}
    engine.dispose()
    report(f"filled in {time.perf_counter() - t0:.0f} s")
    return made


if __name__ == "__main__":  # pragma: no cover - bench/load.py calls fill()
    sys.exit("run bench/load.py; it creates the database and calls fill()")

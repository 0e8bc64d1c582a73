"""Ingest throughput: synthetic normalised items through inbox ingest on SQLite.

Realistic lengths (a tweet to a short email), 10 % duplicates, threads of
1-8 messages, sentiment and urgency on every customer message, batches of
500 as a channel hands them over. Prints items/s, duplicates/s and peak RSS,
and how much of the CPU time sentiment alone takes (the same texts scored
again after the run). The machine these run on is shared, so the figure to
quote is items per CPU second of one core, not items per wall second.

    taskset -c 0 python bench/ingest.py --items 50000
    taskset -c 0 python bench/ingest.py --items 11000 --profile 30   # where the time goes
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import resource
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from inbox import db  # noqa: E402
from inbox.channel import Batch, InboundItem  # noqa: E402
from inbox.ingest import store_batch  # noqa: E402
from inbox.models import Account  # noqa: E402

OPENERS = ["Hi", "Hello", "Hey @acme", "@AcmeSupport", "Dear Acme team,", "Good morning", "Ugh.", "Quick question:"]
BODIES = [
    "my order #{n} still hasn't arrived and tracking has not moved for {d} days",
    "I was charged twice for my subscription this month, please refund the second payment",
    "the app keeps crashing when I open my account page since the last update",
    "thanks so much for the quick help yesterday, everything works perfectly now",
    "can you tell me whether the {p} comes with a charger in the box?",
    "is there an outage? nothing loads for me and my colleagues in {c}",
    "I want to cancel my plan, who do I talk to?",
    "your courier left the parcel in the rain and the {p} is ruined",
    "love the new {p}, best purchase this year",
    "I have been waiting {d} days for an answer to my email, this is unacceptable",
    "my account was hacked and someone changed the password, urgent!!",
    "where can I find the invoice for order {n}? need it for my accountant",
]
TAILS = ["", " Thanks.", " Please help.", " Regards, Sam", " 😡", " 🙏", " Any update?",
         "\n\nSent from my phone", " This is the third time I ask."]
PRODUCTS = ["kettle", "blender", "router", "headphones", "smart plug", "vacuum"]
CITIES = ["Lisbon", "Kraków", "Brno", "Leeds", "Austin", "Lyon"]


def text(rng: random.Random) -> str:
    body = rng.choice(BODIES).format(n=rng.randint(10000, 99999), d=rng.randint(2, 20),
                                     p=rng.choice(PRODUCTS), c=rng.choice(CITIES))
    t = f"{rng.choice(OPENERS)} {body}.{rng.choice(TAILS)}"
    if rng.random() < 0.2:  # some email-length messages
        t += "\n\n" + " ".join(rng.choice(BODIES).format(n=1, d=3, p="kettle", c="Leeds") for _ in range(4))
    return t


def make_items(n: int, rng: random.Random) -> list[InboundItem]:
    items: list[InboundItem] = []
    t0 = datetime(2026, 10, 1, tzinfo=timezone.utc)
    authors = max(1, n // 3)
    conv = 0
    while len(items) < n:
        conv += 1
        author = f"user{rng.randrange(authors)}"
        start = t0 + timedelta(seconds=rng.randrange(60 * 86400))
        parent = None
        for k in range(rng.randint(1, 8)):
            ext = f"{conv}-{k}"
            from_self = k % 2 == 1 and rng.random() < 0.5
            items.append(InboundItem(
                external_id=ext, created_at=start + timedelta(minutes=7 * k), text=text(rng),
                author_id="brand" if from_self else author, author_handle=f"@{author}", author_name=author.title(),
                author_reach=rng.choice([12, 150, 900, 4000, 120000]), thread_key=f"c{conv}",
                parent_external_id=parent, from_self=from_self, lang="en" if rng.random() < 0.9 else None))
            parent = ext
            if len(items) >= n:
                break
    rng.shuffle(items)  # channels hand threads over interleaved
    return items


def with_duplicates(items: list[InboundItem], rate: float, rng: random.Random) -> list[InboundItem]:
    out: list[InboundItem] = []
    for i, it in enumerate(items):
        out.append(it)
        if i and rng.random() < rate:
            out.append(rng.choice(items[max(0, i - 2000):i]))
    return out


def run(url: str, n: int, batch: int, seed: int, profile: int = 0) -> dict:
    rng = random.Random(seed)
    items = with_duplicates(make_items(n, rng), 0.10, rng)
    engine = db.make_engine(url)
    db.upgrade(engine)
    factory = db.session_factory(engine)
    with factory.begin() as s:
        acc = Account(name="bench", kind="x", health="ok")
        s.add(acc)
    batches = [items[i:i + batch] for i in range(0, len(items), batch)]
    import sentiment

    # Load the model and the language detector (texts without a language
    # that are not plainly English reach it) outside the timing.
    sentiment.analyze_many(["warm up the model", "Bonjour, ma commande"], langs=[None, None])
    new = dup = 0
    prof = cProfile.Profile(time.process_time) if profile else None
    t0, c0 = time.perf_counter(), time.process_time()
    if prof:
        prof.enable()
    for k, part in enumerate(batches):
        with factory.begin() as s:
            r = store_batch(s, s.merge(acc), Batch(items=part, cursors={"mentions": str(k)}))
        new += r.new
        dup += r.duplicates
    if prof:
        prof.disable()
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    # Sentiment alone: the customer texts ingest scored, in the same batches.
    seen: set[str] = set()
    scored = [it for it in items if not it.from_self and not (it.external_id in seen or seen.add(it.external_id))]
    c2 = time.process_time()
    for i in range(0, len(scored), batch):
        part = scored[i:i + batch]
        sentiment.analyze_many([it.text for it in part], langs=[it.lang for it in part],
                               contexts=[{"reach": it.author_reach, "channel": "x"} for it in part])
    sentiment_cpu = time.process_time() - c2
    # The report tables catch up after ingest (the worker does it every few
    # seconds); measured apart so both costs are visible.
    from inbox.reports import catch_up
    c1 = time.process_time()
    tracked = catch_up(factory)
    rollup_cpu = time.process_time() - c1
    # Re-ingesting what is already stored: the cost of a poll that finds nothing new.
    t1 = time.perf_counter()
    again = 0
    for part in batches:
        with factory.begin() as s:
            again += store_batch(s, s.merge(acc), Batch(items=part)).duplicates
    dup_elapsed = time.perf_counter() - t1
    engine.dispose()
    return {"items": len(items), "new": new, "duplicates_in_run": dup, "seconds": elapsed, "cpu": cpu,
            "items_per_s": len(items) / elapsed, "items_per_cpu_s": len(items) / cpu,
            "tracked": tracked, "rollup_cpu": rollup_cpu, "sentiment_cpu": sentiment_cpu, "scored": len(scored),
            "profile": prof,
            "dup_items": again, "dup_per_s": again / dup_elapsed,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=50_000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--url", help="database URL (default: a fresh SQLite file in a temp folder)")
    ap.add_argument("--profile", type=int, default=0, metavar="N",
                    help="profile the ingest (CPU time) and print its N most expensive functions")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{tmp}/bench.db"
        r = run(url, args.items, args.batch, args.seed, args.profile)
    import os

    print(f"ingest: {r['items']} items ({r['new']} new, {r['duplicates_in_run']} duplicates) "
          f"in {r['seconds']:.2f} s = {r['items_per_s']:,.0f} items/s "
          f"({r['cpu']:.2f} s CPU = {r['items_per_cpu_s']:,.0f} items per CPU second)")
    print(f"  of which sentiment (same {r['scored']} texts scored again alone): {r['sentiment_cpu']:.2f} s CPU; "
          f"everything else {r['cpu'] - r['sentiment_cpu']:.2f} s CPU = "
          f"{r['items'] / max(r['cpu'] - r['sentiment_cpu'], 1e-9):,.0f} items per CPU second")
    print(f"report tables caught up afterwards: {r['tracked']} conversations in {r['rollup_cpu']:.2f} s CPU "
          f"= {r['tracked'] / max(r['rollup_cpu'], 1e-9):,.0f} conversations per CPU second")
    print(f"re-ingest of stored items: {r['dup_items']} duplicates at {r['dup_per_s']:,.0f} items/s")
    print(f"peak RSS: {r['peak_rss_mb']:.0f} MB; load average during the run: {os.getloadavg()[0]:.1f}")
    print(f"reproduce: taskset -c 0 python bench/ingest.py --items {args.items} --batch {args.batch} --seed {args.seed}")
    if r["profile"]:
        print("\nprofile of the ingest (CPU seconds; profiling itself slows it down):")
        pstats.Stats(r["profile"], stream=sys.stdout).sort_stats("tottime").print_stats(args.profile)


if __name__ == "__main__":
    main()

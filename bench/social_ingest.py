"""Social ingest throughput: mentions from the local X and Reddit stand-ins,
through tweepy / praw and our channels, into the inbox.

For each kind, N mentions from N/5 authors are put in a stand-in (served
over real HTTP on 127.0.0.1, in this process, spec validation off; on
Reddit they are replies to the account's posts, five per post); then

- fetch: `channel.fetch` alone (HTTP, JSON, tweepy/praw, parsing), items/s;
- inbox: `replydesk collect --once` for the account (runner.poll_once:
  fetch + ingest with sentiment and urgency into SQLite), items/s.

X pages hold 100 tweets with author expansions; Reddit's unread inbox pages
hold 100 comments, each page marked read after it is stored.

    python bench/social_ingest.py --items 10000
"""
from __future__ import annotations

import argparse
import logging
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from collectors.reddit import RedditChannel  # noqa: E402
from collectors.runner import poll_once  # noqa: E402
from collectors.standins.reddit_api import RedditApi  # noqa: E402
from collectors.standins.x_api import XApi  # noqa: E402
from collectors.x import XChannel  # noqa: E402
from inbox import db  # noqa: E402
from inbox.config import AccountConfig, validate  # noqa: E402
from inbox.models import Account  # noqa: E402

TEXTS = ["my order #{n} never arrived, can you help?", "the app crashes since the update :(",
         "thanks for the quick fix yesterday!", "is there an outage in Lyon? nothing loads",
         "I was charged twice this month, please refund", "where is the invoice for order {n}?"]


def channel(cls, name: str, raw: dict):
    values = validate(raw, cls.settings, "bench", name, env={})
    return cls(AccountConfig(name=name, kind=cls.kind, enabled=True, sla_minutes=None, settings=values))


def x_setup(n: int):
    api = XApi(validate=False).start()
    api.record = False
    for i in range(n):
        api.add_mention(f"customer{i % max(1, n // 5)}", TEXTS[i % len(TEXTS)].format(n=10000 + i))
    raw = dict(username=api.me["username"], bearer_token=api.bearer_token, consumer_key=api.consumer_key,
               consumer_secret=api.consumer_secret, access_token=api.access_token,
               access_token_secret=api.access_token_secret, api_url=api.url, own_replies=False)
    return api, lambda: channel(XChannel, "bench-x", raw), lambda: None


def reddit_setup(n: int):
    api = RedditApi().start()
    api.record = False
    # Five answers under each of the account's posts: threads of a realistic size.
    post = None
    for i in range(n):
        if i % 5 == 0:
            post = api.add_submission(api.me, "acme", f"Update {i // 5}: known issues")
        api.add_comment(f"customer{i % max(1, n // 5)}", post["name"], TEXTS[i % len(TEXTS)].format(n=10000 + i))
    everything = set(api.inbox)
    raw = dict(client_id=api.client_id, client_secret=api.client_secret, username=api.me, password=api.password,
               user_agent="replydesk-bench/1.0", oauth_url=api.url, reddit_url=api.url, own_replies=False)
    return api, lambda: channel(RedditChannel, "bench-reddit", raw), lambda: api.unread.update(everything)


def timed(fn):
    """(result, wall seconds, CPU seconds of this process: client and stand-in
    threads together, which a busy machine does not inflate)."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def fetch_only(make) -> int:
    ch = make()
    n = 0
    for batch in ch.fetch({}):
        n += len(batch.items)
        if batch.after_commit:
            batch.after_commit()
    ch.close()
    return n


def into_inbox(make, kind: str, url: str):
    engine = db.make_engine(url)
    db.upgrade(engine)
    factory = db.session_factory(engine)
    ch = make()
    with factory.begin() as s:
        s.add(Account(name=ch.name, kind=kind, health="ok"))
    import sentiment
    sentiment.analyze_many(["warm up the model"])  # load it outside the timing
    result, wall, cpu = timed(lambda: poll_once(ch, factory))
    if result.error:
        raise SystemExit(f"{kind}: the poll failed: {result.error}")
    ch.close()
    engine.dispose()
    return result.new, wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=10_000)
    ap.add_argument("--kind", choices=("x", "reddit", "both"), default="both")
    ap.add_argument("--fetch-only", action="store_true", help="skip the into-the-inbox runs")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    kinds = ("x", "reddit") if args.kind == "both" else (args.kind,)
    with tempfile.TemporaryDirectory() as tmp:
        for kind in kinds:
            api, make, reset = (x_setup if kind == "x" else reddit_setup)(args.items)
            try:
                n, wall, cpu = timed(lambda: fetch_only(make))
                print(f"{kind} fetch: {n} mentions in {wall:.2f} s = {n / wall:,.0f} items/s "
                      f"({n / cpu:,.0f} per CPU-second)")
                if not args.fetch_only:
                    reset()
                    n, wall, cpu = into_inbox(make, kind, f"sqlite:///{tmp}/{kind}.db")
                    print(f"{kind} into the inbox (fetch + ingest, SQLite): {n} new in {wall:.2f} s = "
                          f"{n / wall:,.0f} items/s ({n / cpu:,.0f} per CPU-second)")
            finally:
                api.stop()
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    print(f"reproduce: python bench/social_ingest.py --items {args.items} --kind {args.kind}"
          + (" --fetch-only" if args.fetch_only else ""))


if __name__ == "__main__":
    main()

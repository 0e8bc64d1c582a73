"""Fault campaign: the outside world misbehaves on one request in five.

The X and Reddit stand-ins answer 20 % of requests with a 429 (with its
reset headers), a 500/502/503 or no answer at all (a timeout); the SMTP
server answers 20 % of messages with 451 or not at all; Dovecot drops the
worker's connections every 15 s. Meanwhile customers write in on all three
channels and an agent answers every conversation. Two worker processes on
PostgreSQL (one on SQLite) do the work.

At the end every message must be stored once and every reply sent once,
and the accounts' health must show what happened: the campaign samples it
twice a second and prints what staff would have seen.

    python bench/faults_flaky.py                       # 200 messages per channel, PostgreSQL, 2 workers
    python bench/faults_flaky.py --messages 40 --db sqlite
"""
from __future__ import annotations

import argparse
import asyncio
import random
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from sqlalchemy import func, select  # noqa: E402

from tests.scale.cluster import (  # noqa: E402
    Cluster, email_account, reddit_account, unlimited, wait_for, x_account,
)

RATE = 0.2
KINDS = ("429", "500", "502", "503", "timeout")


def flaky_apis(seed: int):
    """X and Reddit stand-ins failing RATE of requests with KINDS."""
    from collectors.standins import api_server, x_api
    from collectors.standins.api_server import Fault
    from collectors.standins.reddit_api import RedditApi
    from collectors.standins.x_api import XApi

    api_server.RANDOM_FAULTS = KINDS  # what a random fault can be (the default has no timeouts)
    for route in x_api.LIMITS:  # quotas are not under test; a 429 still empties its window
        x_api.LIMITS[route] = 10**6

    class FlakyX(XApi):
        hang_seconds = 6.0  # a "timeout": longer than the clients' 3 s

        def fault_reply(self, req, fault):
            if fault.kind == "429" and not fault.headers:  # X sends the window's reset time
                fault = Fault("429", headers={"reset_in": str(self.random.randint(2, 10))})
            return super().fault_reply(req, fault)

    class FlakyReddit(RedditApi):
        hang_seconds = 6.0

    x = FlakyX(validate=False, seed=seed, fault_rate=RATE)
    reddit = FlakyReddit(seed=seed + 1, fault_rate=RATE)
    for api in (x, reddit):
        api.record = False
        api.start()
    unlimited(x)
    return x, reddit


def flaky_smtp(seed: int):
    from collectors.standins.smtp import SmtpServer, _Handler

    rng = random.Random(seed)

    class Flaky(_Handler):
        async def handle_DATA(self, smtp, session, envelope):
            dice = rng.random()
            if dice < RATE / 2:
                server.injected["451"] += 1
                return "451 4.3.0 Temporary failure, try again later"
            if dice < RATE:
                server.injected["timeout"] += 1
                await asyncio.sleep(8)  # longer than the client's timeout; nothing was taken
                return "451 4.4.2 Timeout"
            return await super().handle_DATA(smtp, session, envelope)

    server = SmtpServer()
    server.injected = Counter()
    server.start()
    server._controller.handler = Flaky(server)
    return server


class Agent(threading.Thread):
    """Answers every conversation that waits for a reply and has none queued."""

    def __init__(self, c: Cluster):
        super().__init__(daemon=True, name="agent")
        self.c, self.stop, self.queued = c, threading.Event(), 0

    def run(self) -> None:
        from inbox import workflow
        from inbox.models import Conversation, OutboundReply, User
        from inbox.users import add_user

        with self.c.factory.begin() as s:
            agent_id = add_user(s, "ada@example.com", "correct horse battery", name="Ada").id
        while not self.stop.wait(1.0):
            with self.c.factory.begin() as s:
                waiting = s.scalars(select(Conversation).where(
                    Conversation.awaiting_reply.is_(True),
                    ~select(OutboundReply.id).where(OutboundReply.conversation_id == Conversation.id).exists())
                ).all()
                agent = s.get(User, agent_id)
                for conv in waiting:
                    workflow.queue_reply(s, conv, f"Thanks for writing in! We are on it (ref R{conv.id}).", by=agent)
                    self.queued += 1


def run(messages: int = 200, db: str = "postgresql", workers: int = 2, seed: int = 3, report=print) -> dict:
    import mailgen

    from collectors.standins.dovecot import Dovecot
    from inbox.models import Account, Message, OutboundReply

    from faults_imap_sync import _database
    from faults_send import _ascii_sender

    rng = random.Random(seed)
    x, reddit = flaky_apis(seed)
    smtp = flaky_smtp(seed)
    dovecot = Dovecot().start()
    user = dovecot.new_user()
    mails = [r for r in mailgen.messages(messages * 4, seed=seed) if _ascii_sender(r)
             and b"Auto-Submitted" not in r and b"MAILER-DAEMON" not in r][:messages]
    accounts = [x_account(x, "acme-x", poll_seconds=2), reddit_account(reddit, "acme-reddit", poll_seconds=2),
                email_account(dovecot, user, smtp, "support", poll_seconds=5, initial_days=3650)]
    workers = 1 if db == "sqlite" else workers
    samples: dict[str, Counter] = defaultdict(Counter)
    errors: dict[str, Counter] = defaultdict(Counter)
    try:
        with _database(db) as url, Cluster(url, accounts, worker={"outbox_seconds": 0.5,
                                                                   "max_send_attempts": 10}) as c:
            c.init()
            for n in range(workers):
                c.start(f"w{n}")
            for n in range(workers):
                c.started(f"w{n}")
            agent = Agent(c)
            agent.start()
            done = threading.Event()

            def customers() -> None:  # about 5 messages a second per channel
                for i in range(messages):
                    x.add_mention(f"xcustomer{i}", f"my order {i} has not arrived")
                    reddit.add_mention(f"rcustomer{i}", f"my order {i} has not arrived")
                    dovecot.append(mails[i], user=user[0])
                    time.sleep(0.2)
                done.set()

            def kicker() -> None:  # IMAP connections dropped, as a flaky network or a failover does
                while not done.wait(15):
                    try:
                        dovecot.kick(user[0])
                    except Exception:
                        pass

            def sampler() -> None:
                while not stop_sampling.wait(0.5):
                    with c.factory() as s:
                        for a in s.scalars(select(Account)):
                            samples[a.name][a.health] += 1
                            if a.last_error:
                                errors[a.name][_kind(a.last_error)] += 1

            stop_sampling = threading.Event()
            threads = [threading.Thread(target=f, daemon=True) for f in (customers, kicker, sampler)]
            for t in threads:
                t.start()
            t0 = time.monotonic()
            done.wait()

            def stored() -> int:
                with c.factory() as s:
                    return s.scalar(select(func.count()).select_from(Message).where(Message.direction == "in"))

            all_in = wait_for(lambda: stored() >= 2 * messages + len(mails), 600, every=1)
            time.sleep(3)
            agent.stop.set()
            agent.join()

            def settled() -> bool:
                with c.factory() as s:
                    return s.scalar(select(func.count()).select_from(OutboundReply).where(
                        OutboundReply.state.in_(("queued", "sending")))) == 0
            all_out = wait_for(settled, 900, every=1)
            seconds = time.monotonic() - t0
            stop_sampling.set()
            for n in range(workers):
                c.stop(f"w{n}")
            return _report(c, x, reddit, smtp, mails, messages, agent.queued, samples, errors, seconds,
                           bool(all_in), bool(all_out), report)
    finally:
        x.stop()
        reddit.stop()
        smtp.stop()
        dovecot.remove()


def _kind(error: str) -> str:
    e = error.lower()
    for key, label in (("429", "rate limited (429)"), ("rate limit", "rate limited (429)"),
                       ("timed out", "timeout"), ("timeout", "timeout"), ("50", "5xx"),
                       ("server error", "5xx"), ("dropped the connection", "connection dropped"),
                       ("could not be reached", "connection dropped"), ("451", "smtp 451")):
        if key in e:
            return label
    return error[:60]


def _report(c, x, reddit, smtp, mails, messages, queued, samples, errors, seconds, all_in, all_out, report) -> dict:
    from inbox.models import Account, Message, OutboundReply

    with c.factory() as s:
        names = dict(s.execute(select(Account.id, Account.name)).all())
        stored = Counter(names[a] for a in s.scalars(select(Message.account_id).where(Message.direction == "in")))
        rows = s.execute(select(OutboundReply.account_id, OutboundReply.state, OutboundReply.attempts,
                                OutboundReply.text, OutboundReply.planned_external_id)).all()
        health = s.scalars(select(Account).order_by(Account.name)).all()
    total, distinct = c.message_counts()
    injected = {name: dict(Counter(f.split()[0] for f in api.injected)) for name, api in (("x", x), ("reddit", reddit))}
    report(f"{seconds:.0f} s; faults injected: X {injected['x']}, Reddit {injected['reddit']}, "
           f"SMTP {dict(smtp.injected)}, IMAP connections dropped every 15 s")
    expected = {"acme-x": messages, "acme-reddit": messages, "support": len(mails)}
    ok = total == distinct and all_in and all_out
    for name in ("acme-x", "acme-reddit", "support"):
        mine = [r for r in rows if names[r.account_id] == name]
        states = Counter(r.state for r in mine)
        if name == "acme-x":
            posted = Counter(p["text"] for p in x.posted)
        elif name == "acme-reddit":
            posted = Counter(p["text"] for p in reddit.posted)
        else:
            posted = Counter(m.message["Message-ID"].strip("<>") for m in smtp.received)
        twice = sum(n - 1 for n in posted.values() if n > 1)
        attempts = Counter(r.attempts for r in mine)
        report(f"{name:12s} in: {stored[name]}/{expected[name]} stored | out: {len(mine)} queued, {dict(states)}, "
               f"{sum(posted.values())} received by the server, {twice} twice; attempts {dict(sorted(attempts.items()))}")
        ok = ok and stored[name] == expected[name] and states.get("sent", 0) == len(mine) and twice == 0 \
            and sum(posted.values()) == len(mine)
    report("what staff saw (share of half-second samples per health state; kinds of last errors):")
    for a in health:
        seen = samples[a.name]
        n = sum(seen.values()) or 1
        report(f"  {a.name:12s} " + ", ".join(f"{k} {v / n:.0%}" for k, v in seen.most_common()) +
               " | errors: " + ", ".join(f"{k} ({v})" for k, v in errors[a.name].most_common(5)))
        report(f"  {'':12s} now: health {a.health}, last error {a.last_error_at:%H:%M:%S} "
               f"\"{(a.last_error or '')[:90]}\", push {a.push_status!r}" if a.last_error_at else
               f"  {'':12s} now: health {a.health}, no error recorded")
    report(f"messages: {total} stored, {distinct} distinct; replies: {len(rows)} queued by the agent ({queued})")
    report("RESULT: " + ("everything stored and sent exactly once" if ok else "FAILED"))
    return {"ok": ok, "stored": dict(stored), "replies": len(rows), "seconds": seconds,
            "injected": {**injected, "smtp": dict(smtp.injected)},
            "health_samples": {k: dict(v) for k, v in samples.items()}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--messages", type=int, default=200, help="messages per channel")
    p.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seed", type=int, default=3)
    args = p.parse_args()
    result = run(args.messages, args.db, args.workers, args.seed)
    print(f"reproduce: python bench/faults_flaky.py --messages {args.messages} --db {args.db} "
          f"--workers {args.workers} --seed {args.seed}")
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()

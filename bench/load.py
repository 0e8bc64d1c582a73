"""Load: agents working the inbox through gunicorn while messages stream in,
on PostgreSQL holding a million messages.

What runs, all real processes talking HTTP and SQL:
- PostgreSQL: a database of its own (bench/load_fill.py fills it; dropped
  afterwards unless --keep; --reuse NAME runs again on a kept one);
- N web processes: `gunicorn -k gthread 'webui.wsgi:app()'`, whose access
  log gives the server-side time of every request (%(D)s);
- one worker process (`python -m webui.cli worker`) ingesting from the X
  and Reddit stand-ins, which get --ingest new mentions a second between
  them, and sending the agents' replies back to them;
- --agents simulated agents, each a thread with its own session: they sign
  in (a real password check), list, filter, search, open conversations and
  reply, waiting 2-6 s between actions; and, as the pages do in a browser,
  poll /live/changes every second, reload the list (the list alone, as
  htmx asks for it) when that says a change concerns it, at most every
  1.5 s, and its counts at most every 5 s, and send the presence heartbeat
  every 4 s on an open conversation. Every 50th action signs out and in
  again.

The load generator is a small threaded Python program rather than locust:
locust is not installable on these machines, and its gevent runtime would
compete with the server for the same CPUs. Figures are p50/p95/p99 of the
server-side time over the measured window (after the warm-up), per kind of
request and overall, and every status >= 500 or unexpected 4xx counts as
an error, as does every request the client could not complete.

    python bench/load.py                                  # 1,000,000 messages, 50 agents, 100 msg/s, 5 min
    python bench/load.py --keep                           # keep the filled database for another run
    python bench/load.py --reuse replydesk_load_1234_abcdef --duration 120
"""
from __future__ import annotations

import argparse
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import requests  # noqa: E402

from load_agents import Agent, kind_of  # noqa: E402
from load_fill import AGENTS  # noqa: E402
from tests.scale.cluster import Cluster, Feeder, reddit_account, unlimited, wait_for, x_account  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pids: list[int]) -> float:
    """User+system CPU of these processes and their children so far."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        for p in [pid] + _children(pid):
            try:
                f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
                total += (int(f[11]) + int(f[12])) / tick
            except (OSError, IndexError):
                pass
    return total


def _children(pid: int) -> list[int]:
    try:
        kids = open(f"/proc/{pid}/task/{pid}/children").read().split()
    except OSError:
        return []
    out = [int(k) for k in kids]
    for k in list(out):
        out += _children(k)
    return out


def postgres_cpu() -> float:
    """CPU of the PostgreSQL server: its live processes plus the ones it has
    reaped (the postmaster's children times), so short-lived parallel workers
    count too."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            if "(postgres)" in stat:
                f = stat.rsplit(")", 1)[1].split()
                total += (int(f[11]) + int(f[12])) / tick
                if f[1] != "postgres" and open(f"/proc/{f[1]}/comm").read().strip() != "postgres":
                    total += (int(f[13]) + int(f[14])) / tick  # the postmaster: children it reaped
    return total


def machine_cpu() -> float:
    """Busy CPU seconds of the whole machine so far (every process, ours or not)."""
    f = [int(v) for v in open("/proc/stat").readline().split()[1:]]
    return (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, max(0, int(round(q * len(values))) - 1))]


def parse_access_log(path: Path, start: float, stop: float) -> dict[str, list[tuple[int, float]]]:
    """kind -> [(status, server ms)] for requests that ended inside the window."""
    out: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for line in path.read_text(errors="replace").splitlines():
        m = re.match(r"\[([^\]]+)\] (\S+) (\S+) (\d+) (\d+)$", line)
        if not m:
            continue
        at = datetime.strptime(m.group(1), "%d/%b/%Y:%H:%M:%S %z").timestamp()
        if start <= at <= stop:
            out[kind_of(m.group(2), m.group(3))].append((int(m.group(4)), int(m.group(5)) / 1000))
    return out


def world(pipe, per_x: float, per_reddit: float) -> None:
    """The outside world, in a process of its own so the agents' threads do
    not slow the customers down: the X and Reddit stand-ins, and customers
    writing to them at a steady rate until told to stop."""
    from types import SimpleNamespace

    from collectors.standins.reddit_api import RedditApi
    from collectors.standins.x_api import XApi

    x, reddit = XApi(validate=False).start(), RedditApi().start()
    unlimited(x)
    # X ids come from the clock; Reddit's count up from fixed values, so on a
    # database kept from an earlier run (--reuse) every Reddit mention would
    # be a duplicate of one stored then, and 40 % of the ingest load would
    # never happen. Start them where no earlier run can have been.
    for kind in ("t1", "t3"):
        reddit._ids[kind] += int(time.time() * 100)
    for api in (x, reddit):
        api.record = False
    pipe.send((SimpleNamespace(me=x.me, bearer_token=x.bearer_token, consumer_key=x.consumer_key,
                               consumer_secret=x.consumer_secret, access_token=x.access_token,
                               access_token_secret=x.access_token_secret, url=x.url),
               SimpleNamespace(me=reddit.me, password=reddit.password, client_id=reddit.client_id,
                               client_secret=reddit.client_secret, url=reddit.url)))
    pipe.recv()  # start
    with Feeder(lambda n: x.add_mention(f"xc{n}", f"order {n} is late, please help"), per_x) as fx, \
            Feeder(lambda n: reddit.add_mention(f"rc{n}", f"order {n} is late, please help"), per_reddit) as fr:
        while True:
            if pipe.recv() == "count":
                pipe.send(fx.count + fr.count)
            else:
                break
    pipe.send(len(x.posted) + len(reddit.posted))
    x.stop()
    reddit.stop()


def catch_up_schema(engine) -> None:
    """A kept bench database may predate tables and columns added to the
    models since (while they are still edited in migration 0001): add them.
    Bench only; real databases are upgraded by `replydesk init`."""
    from sqlalchemy import inspect, text

    from inbox.models import Base

    Base.metadata.create_all(engine)
    have = inspect(engine)
    with engine.begin() as conn:
        for table in Base.metadata.sorted_tables:
            present = {col["name"] for col in have.get_columns(table.name)}
            for col in table.columns:
                if col.name not in present:
                    kind = col.type.compile(dialect=engine.dialect)
                    conn.execute(text(f'ALTER TABLE "{table.name}" ADD COLUMN "{col.name}" {kind}'))


def run(args) -> dict:
    import multiprocessing

    from inbox.models import Account, Message
    from load_fill import fill
    from sqlalchemy import func, insert, select
    from tests import pg

    pipe, child = multiprocessing.Pipe()
    outside = multiprocessing.get_context("fork").Process(
        target=world, args=(child, args.ingest * 0.6, args.ingest * 0.4), daemon=True)
    outside.start()
    x, reddit = pipe.recv()
    name = args.reuse or f"replydesk_load_{os.getpid()}_{random.randrange(16**6):06x}"
    url = pg.create_database(name) if not args.reuse else pg.server_url().rsplit("/", 1)[0] + "/" + name
    port = free_port()
    accounts = [x_account(x, "acme-x", poll_seconds=1), reddit_account(reddit, "acme-reddit", poll_seconds=1)]
    c = Cluster(url, accounts, worker={"outbox_seconds": 1.0})
    with open(c.config_path, "a") as f:
        f.write(f'\n[web]\nsecret_key = "load-{name}"\nsecure_cookies = false\nundo_seconds = 5\n')
    procs: list[subprocess.Popen] = []
    try:
        if args.reuse:
            catch_up_schema(c.engine)
        c.init()
        with c.factory.begin() as s:
            ids = dict(s.execute(select(Account.kind, Account.id)).all())
            if "email" not in ids:
                ids["email"] = s.execute(insert(Account).values(name="support", kind="email", enabled=False,
                                                                health="ok").returning(Account.id)).scalar()
        with c.factory() as s:
            have = s.scalar(select(func.count()).select_from(Message))
        if have < args.messages * 0.99:
            print(f"filling {args.messages:,} messages into {name} ...", flush=True)
            fill(url, args.messages, ids, report=lambda m: print(m, flush=True))
        with c.factory() as s:
            have = s.scalar(select(func.count()).select_from(Message))
            live_from = (s.scalar(select(func.max(Message.conversation_id))) or 0) + 1
        print(f"database {name}: {have:,} messages", flush=True)

        c.start("worker")
        c.started("worker")
        access = c.folder / "access.log"
        web = subprocess.Popen(
            ["gunicorn", "-w", str(args.web_workers), "-k", "gthread", "--threads", str(args.threads),
             "-b", f"127.0.0.1:{port}", "--access-logfile", str(access),
             "--access-logformat", "%(t)s %(m)s %(U)s?%(q)s %(s)s %(D)s", "--error-logfile", str(c.folder / "web.log"),
             "webui.wsgi:app()"], env=c.env, cwd=ROOT)
        procs.append(web)
        base = f"http://127.0.0.1:{port}"
        if not wait_for(lambda: _answers(base), 90, every=0.5):
            raise RuntimeError("gunicorn did not answer: " + (c.folder / "web.log").read_text()[-3000:])
        print(f"web: gunicorn {args.web_workers} processes x {args.threads} threads at {base}; "
              f"worker pid {c.procs['worker'].pid}", flush=True)

        samples: list[tuple[float, str, int | None, float, str | None]] = []
        lock = threading.Lock()

        def record(kind, status, ms, error):
            with lock:
                samples.append((time.time(), kind, status, ms, error))

        t_start = time.monotonic()
        end = t_start + args.warmup + args.duration
        agents = [Agent(n, base, live_from, end, record, seed=n, search=not args.no_search)
                  for n in range(1, args.agents + 1)]
        pipe.send("start")
        for a in agents:
            a.start()
        time.sleep(args.warmup)
        window = (time.time(), None)

        def inbound() -> int:
            # Only the newest messages: counting a million at the window's
            # edges was a 0.6 s query competing with the measured requests.
            with c.factory() as s:
                return s.scalar(select(func.count()).select_from(Message).where(
                    Message.id > first_id, Message.direction == "in"))
        with c.factory() as s:
            first_id = s.scalar(select(func.max(Message.id)))

        def fed() -> int:
            pipe.send("count")
            return pipe.recv()
        stored0, fed0 = inbound(), fed()
        cpu0 = (cpu_seconds([web.pid]), cpu_seconds([c.procs["worker"].pid]), postgres_cpu(),
                time.process_time() + cpu_seconds([outside.pid]), machine_cpu(), time.monotonic())
        for a in agents:
            a.join()
        window = (window[0], time.time())
        cpu1 = (cpu_seconds([web.pid]), cpu_seconds([c.procs["worker"].pid]), postgres_cpu(),
                time.process_time() + cpu_seconds([outside.pid]), machine_cpu(), time.monotonic())
        stored1, fed1 = inbound(), fed()
        pipe.send("stop")
        print(f"replies posted to the stand-ins: {pipe.recv()}", flush=True)
        web.send_signal(signal.SIGTERM)
        web.wait(30)
        time.sleep(1)
        return _report(args, access, samples, window, stored1 - stored0, fed1 - fed0, cpu0, cpu1, name)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        c.close()
        if outside.is_alive():
            outside.kill()
        if not args.keep and not args.reuse:
            pg.drop_database(name)
        elif not args.reuse:
            print(f"kept database {name}: run again with --reuse {name}")


def _answers(base: str) -> bool:
    try:
        return requests.get(base + "/login", timeout=5).status_code == 200
    except requests.RequestException:
        return False


def _report(args, access, samples, window, stored, fed, cpu0, cpu1, name) -> dict:
    start, stop = window
    seconds = stop - start
    server = parse_access_log(access, start, stop)
    client = [s for s in samples if start <= s[0] <= stop]
    errors = Counter(s[4] for s in client if s[4])
    server_errors = sum(1 for rows in server.values() for status, _ in rows if status >= 500)
    every = [ms for rows in server.values() for _, ms in rows]
    print(f"\n{len(every):,} requests in {seconds:.0f} s measured ({len(every) / seconds:.0f}/s) after a "
          f"{args.warmup} s warm-up; {args.agents} agents; {stored / seconds:.0f} messages/s stored "
          f"(fed {fed / seconds:.0f}/s)")
    print(f"{'request':22s} {'count':>7s} {'p50 ms':>8s} {'p95 ms':>8s} {'p99 ms':>8s} {'max ms':>8s}   (server side)")
    for kind in sorted(server, key=lambda k: -len(server[k])):
        ms = [m for _, m in server[kind]]
        print(f"{kind:22s} {len(ms):7d} {statistics.median(ms):8.1f} {pct(ms, .95):8.1f} {pct(ms, .99):8.1f} "
              f"{max(ms):8.1f}")
    p95 = pct(every, .95)
    print(f"{'all':22s} {len(every):7d} {statistics.median(every):8.1f} {p95:8.1f} {pct(every, .99):8.1f} "
          f"{max(every):8.1f}")
    cms = [s[3] for s in client]
    print(f"client side (includes queueing and the generator's own delays): p50 {statistics.median(cms):.1f} ms, "
          f"p95 {pct(cms, .95):.1f} ms, p99 {pct(cms, .99):.1f} ms")
    cores = os.cpu_count() or 1
    web_cpu, worker_cpu, pg_cpu, gen_cpu, busy = ((cpu1[i] - cpu0[i]) / (cpu1[5] - cpu0[5]) for i in range(5))
    load = os.getloadavg()[0]
    print(f"CPU (cores busy on average): web {web_cpu:.2f}, worker {worker_cpu:.2f}, PostgreSQL {pg_cpu:.2f}, "
          f"agents and stand-ins {gen_cpu:.2f}; the whole machine {busy:.2f} of {cores} cores busy "
          f"(the rest is other work on it); load average {load:.1f}")
    print(f"errors: {sum(errors.values())} client-side " + (str(dict(errors.most_common(8))) if errors else "")
          + f", {server_errors} responses >= 500")
    ok = p95 <= 200 and not errors and not server_errors
    print(f"RESULT: p95 {p95:.0f} ms (target 200 ms), {sum(errors.values())} errors: " + ("PASS" if ok else "FAIL"))
    return {"p95": p95, "errors": sum(errors.values()), "ok": ok, "requests": len(every), "seconds": seconds,
            "stored_per_s": stored / seconds, "database": name}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--messages", type=int, default=1_000_000)
    p.add_argument("--agents", type=int, default=AGENTS)
    p.add_argument("--ingest", type=float, default=100.0, help="new messages per second (60 %% X, 40 %% Reddit)")
    p.add_argument("--duration", type=int, default=300, help="measured seconds")
    p.add_argument("--warmup", type=int, default=30)
    p.add_argument("--web-workers", type=int, default=4)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--keep", action="store_true", help="keep the filled database")
    p.add_argument("--no-search", action="store_true",
                   help="diagnostic: agents filter instead of searching (shows what search costs)")
    p.add_argument("--reuse", metavar="NAME", help="a database kept by --keep")
    args = p.parse_args()
    result = run(args)
    print("reproduce: python bench/load.py " + " ".join(sys.argv[1:]))
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()

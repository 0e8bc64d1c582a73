"""Email over IMAP, measured against a real Dovecot, with mbsync as the reference.

1. N realistic messages (bench/mailgen.py) are appended to a private Dovecot.
2. mbsync (Debian `isync`, the reference C syncer) copies the same mailbox
   to a Maildir: once as installed (FSync yes, its default) and once with
   FSync no, which only measures the network and parsing of IMAP.
3. Replydesk's full first sync into a fresh inbox database: fetched,
   parsed, threaded, scored (sentiment/urgency) and stored, through the same
   `poll_once` the worker runs; messages/s and the peak RSS of that process.
   Twice: parsing inline (one process, so its CPU time per message can be
   counted and compared with mbsync's) and as the worker does it for a sync
   this size (parser processes beside the process that stores).
4. A poll that finds no new mail (the worker's safety-net poll): median ms.
5. IDLE: the real worker runs with IDLE on; a message is appended and the
   time from the server accepting it to the row being in the database is
   taken, over several messages.

    python bench/imap_sync.py --messages 10000 [--rounds 5]

With --rounds N the mbsync and Replydesk syncs are repeated N times on
the same mailbox and the spread of both rates and of their ratio within
a round is printed: both vary by a fifth or more from run to run on a
small VM (mbsync's with the disk's fsync time).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The repository first (bench/ holds scripts named like packages, e.g. sentiment.py);
# bench/ itself is on the path as the script's folder, for mailgen.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mailgen import messages  # noqa: E402

from collectors.standins.common import apt_install  # noqa: E402
from collectors.standins.dovecot import Dovecot  # noqa: E402


def find_mbsync() -> None:
    """mbsync from Debian's isync, installed when we may (root)."""
    if shutil.which("mbsync") or (apt_install("isync") and shutil.which("mbsync")):
        return
    raise SystemExit("mbsync is not installed: apt-get install isync (Debian/Ubuntu), or run with --no-mbsync")


def run_mbsync(dovecot: Dovecot, user: str, password: str, fsync: bool) -> dict:
    work = Path(tempfile.mkdtemp(prefix="replydesk-mbsync-"))
    (work / "mail").mkdir()
    conf = work / "mbsyncrc"
    conf.write_text(f"""FSync {"yes" if fsync else "no"}
IMAPAccount bench
Host {dovecot.host}
Port {dovecot.port}
User {user}
Pass {password}
SSLType None
AuthMechs PLAIN

IMAPStore remote
Account bench

MaildirStore local
Path {work}/mail/
Inbox {work}/mail/INBOX

Channel bench
Far :remote:
Near :local:
Patterns INBOX
Sync Pull
Create Near
SyncState *
""")
    cpu0 = _cpu(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(["mbsync", "-c", str(conf), "-a", "-q"], capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    cpu = _cpu(resource.RUSAGE_CHILDREN) - cpu0
    if done.returncode != 0:
        raise SystemExit(f"mbsync failed: {done.stderr.strip()}")
    count = sum(len(os.listdir(work / "mail" / "INBOX" / sub)) for sub in ("cur", "new"))
    subprocess.run(["rm", "-rf", str(work)])
    return {"messages": count, "seconds": seconds, "per_s": count / seconds, "cpu_ms": cpu * 1000 / count}


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def child(spec: dict) -> dict:
    """Runs in its own process so its peak RSS is the sync's alone."""
    import sentiment
    from collectors import runner
    from collectors.registry import make_channel, settings_by_kind
    from collectors.worker import Worker
    from imapclient import IMAPClient
    from inbox import accounts, config, db
    from inbox.models import Conversation, Message
    from sqlalchemy import func, select

    engine = db.make_engine(spec["db"])
    db.upgrade(engine)
    factory = db.session_factory(engine)
    cfg = config.parse({"accounts": [spec["account"]]}, "bench", settings_by_kind(), env={})
    with factory.begin() as s:
        accounts.sync_accounts(s, cfg.accounts)
    channel = make_channel(cfg.account("bench"))
    # Model loading (the scorer's, and the language detector's for non-English) is not sync time.
    sentiment.analyze_many(["warm up the model", "Dzień dobry, gdzie jest moja paczka?"])

    profiler = None
    if spec.get("profile"):
        import cProfile
        profiler = cProfile.Profile()
        profiler.enable()
    cpu0 = _cpu(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    result = runner.poll_once(channel, factory)
    seconds = time.perf_counter() - t0
    if profiler is not None:
        import pstats
        profiler.disable()
        for order in ("cumulative", "tottime"):
            pstats.Stats(profiler, stream=sys.stderr).sort_stats(order).print_stats(spec["profile"])
    cpu = _cpu(resource.RUSAGE_SELF) - cpu0  # parser processes, when used, are not counted
    if result.error:
        raise SystemExit(result.error)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with factory() as s:
        stored = s.scalar(select(func.count()).select_from(Message))
        conversations = s.scalar(select(func.count()).select_from(Conversation))

    empty, fetch_only = [0.0], [0.0]
    if spec["polls"]:
        empty, fetch_only = _empty_polls(channel, factory, spec["polls"])

    latencies = []
    if spec["idle"]:
        worker = Worker(cfg, factory, channels={"bench": channel})
        worker.start()
        time.sleep(1.0)  # IDLE connection up
        a = spec["account"]
        imap = IMAPClient(a["imap_host"], port=a["imap_port"], ssl=False)
        imap.login(a["imap_username"], a["imap_password"])
        for n in range(spec["idle"]):
            mid = f"idle-{n}-{os.getpid()}@bench.example"
            raw = (f"From: Idle Tester <idle{n}@example.org>\r\nTo: support@acme.test\r\n"
                   f"Subject: Where is my order {n}?\r\nMessage-ID: <{mid}>\r\n"
                   f"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\nHello, any news?\r\n")
            imap.append("INBOX", raw.encode())
            delivered = time.perf_counter()
            while True:
                with factory() as s:
                    if s.scalar(select(Message.id).where(Message.external_id == mid)):
                        break
                if time.perf_counter() - delivered > 30:
                    raise SystemExit("IDLE delivery took over 30 s")
                time.sleep(0.005)
            latencies.append((time.perf_counter() - delivered) * 1000)
            time.sleep(0.3)
        imap.logout()
        worker.shutdown()
    channel.close()
    return {"new": result.new, "duplicates": result.duplicates, "stored": stored, "conversations": conversations,
            "seconds": seconds, "per_s": result.new / seconds, "peak_rss_mb": rss, "cpu_ms": cpu * 1000 / result.new,
            "empty_poll_ms": statistics.median(empty), "empty_poll_p90_ms": sorted(empty)[int(len(empty) * 0.9)],
            "fetch_only_ms": statistics.median(fetch_only),
            "idle_ms": latencies}


def _empty_polls(channel, factory, count: int) -> tuple[list[float], list[float]]:
    from collectors import runner
    from inbox.models import Cursor
    from sqlalchemy import select

    whole, fetch_only = [], []
    for _ in range(count):
        t = time.perf_counter()
        r = runner.poll_once(channel, factory)
        whole.append((time.perf_counter() - t) * 1000)
        assert r.new == 0 and not r.error, r
    with factory() as s:
        cursors = dict(s.execute(select(Cursor.key, Cursor.value)).all())
    for _ in range(count):
        t = time.perf_counter()
        assert not list(channel.fetch(cursors))
        fetch_only.append((time.perf_counter() - t) * 1000)
    return whole, fetch_only


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--db", help="database URL for the inbox (default: a fresh SQLite file)")
    ap.add_argument("--polls", type=int, default=50, help="empty polls to time")
    ap.add_argument("--idle", type=int, default=20, help="messages delivered while IDLE is on")
    ap.add_argument("--no-mbsync", action="store_true")
    ap.add_argument("--rounds", type=int, default=1,
                    help="repeat the mbsync and replydesk syncs (both rates vary from run to run); "
                         "parsing inline, empty polls and IDLE are measured once")
    ap.add_argument("--profile", type=int, default=0, metavar="N",
                    help="print the N functions each sync spends most time in (slows it)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    if args.rounds > 1 and args.db:
        ap.error("--rounds needs a fresh database each round: leave out --db (SQLite files are made)")

    with Dovecot() as dovecot, tempfile.TemporaryDirectory() as tmp:
        user, password = dovecot.new_user()
        raws = messages(args.messages, seed=args.seed)
        size = sum(map(len, raws))
        t0 = time.perf_counter()
        dovecot.append_many(raws, user=user)
        append_s = time.perf_counter() - t0
        del raws
        print(f"mailbox: {args.messages} messages, {size / 1e6:.1f} MB, appended in {append_s:.1f} s")
        if not args.no_mbsync:
            find_mbsync()
        account = {"name": "bench", "kind": "email", "address": "support@acme.test", "imap_host": dovecot.host,
                   "imap_port": dovecot.port, "imap_security": "none", "imap_username": user,
                   "imap_password": password, "initial_days": 36500, "smtp_host": "127.0.0.1",
                   "smtp_security": "none", "poll_seconds": 60.0}
        runs, rounds = {}, []
        for k in range(args.rounds):
            if args.rounds > 1:
                print(f"-- round {k + 1} of {args.rounds}")
            ref = {}
            for fsync in (() if args.no_mbsync else (True, False)):
                r = ref[fsync] = run_mbsync(dovecot, user, password, fsync)
                print(f"mbsync (FSync {'yes, its default' if fsync else 'no'}): {r['messages']} messages in "
                      f"{r['seconds']:.2f} s = {r['per_s']:,.0f} messages/s, CPU {r['cpu_ms']:.2f} ms/message")
            # Once parsing inline (all CPU in one process, so it can be counted), and
            # every round as the worker does it (parser processes for a sync this big).
            modes = [("inline", {"REPLYDESK_PARSE_PROCESSES": "1"})] if k == 0 else []
            for mode, env in modes + [("pool", {})]:
                final = mode == "pool" and k == args.rounds - 1
                path = Path(tmp) / f"inbox-{mode}-{k}.db"
                spec = {"db": (args.db if mode == "pool" else None) or f"sqlite:///{path}",
                        "polls": args.polls if final else 0, "idle": args.idle if final else 0,
                        "account": account, "profile": args.profile}
                out = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True,
                                     text=True, env={**os.environ, **env})
                for leftover in Path(tmp).glob(f"{path.name}*"):
                    leftover.unlink()  # 300 MB a round
                if out.returncode != 0:
                    raise SystemExit(out.stderr[-3000:])
                if args.profile:
                    print(f"--- profile, parsing {mode} (the process that stores) ---\n{out.stderr}")
                runs[mode] = r = json.loads(out.stdout.strip().splitlines()[-1])
                print(f"replydesk first sync, parsing {mode}: {r['new']} messages stored ({r['conversations']} "
                      f"conversations) in {r['seconds']:.2f} s = {r['per_s']:,.0f} messages/s, "
                      f"peak RSS {r['peak_rss_mb']:.0f} MB" + (f", CPU {r['cpu_ms']:.2f} ms/message"
                                                                if mode == "inline" else ""))
                if ref:
                    print(f"  = {r['per_s'] / ref[True]['per_s']:.2f}x mbsync's default rate, "
                          f"{r['per_s'] / ref[False]['per_s']:.2f}x with FSync no")
            rounds.append((runs["pool"]["per_s"], ref[True]["per_s"] if ref else None))
    if len(rounds) > 1:
        ours = [a for a, _ in rounds]
        print(f"over {len(rounds)} rounds, replydesk (parser processes): {min(ours):,.0f}-{max(ours):,.0f} "
              f"messages/s, median {statistics.median(ours):,.0f}")
        if not args.no_mbsync:
            theirs = [b for _, b in rounds]
            ratios = [a / b for a, b in rounds]
            print(f"  mbsync (FSync yes): {min(theirs):,.0f}-{max(theirs):,.0f} messages/s, median "
                  f"{statistics.median(theirs):,.0f}; replydesk / mbsync in the same round: "
                  f"{min(ratios):.2f}-{max(ratios):.2f}x, median {statistics.median(ratios):.2f}x")
    r = runs["pool"]
    print(f"poll with no new mail: median {r['empty_poll_ms']:.1f} ms (p90 {r['empty_poll_p90_ms']:.1f} ms) "
          f"for the whole poll; {r['fetch_only_ms']:.2f} ms of it the IMAP check")
    if r["idle_ms"]:
        lat = r["idle_ms"]
        print(f"IDLE delivery -> stored: median {statistics.median(lat):.0f} ms, max {max(lat):.0f} ms "
              f"over {len(lat)} messages")
    print(f"load average during the run: {os.getloadavg()[1]:.1f} (1 = one core busy)")
    print(f"reproduce: python bench/imap_sync.py --messages {args.messages} --seed {args.seed}"
          + (f" --rounds {args.rounds}" if args.rounds > 1 else "") + (f" --db {args.db}" if args.db else ""))


if __name__ == "__main__":
    main()

"""Fault campaign: SIGKILL the worker at random moments during a large IMAP
first sync from Dovecot; at the end every message is stored exactly once.

A private Dovecot gets N messages (bench/mailgen.py: realistic support mail,
threads, attachments, auto-replies). The real worker process
(`python -m webui.cli worker`) syncs them into PostgreSQL (or SQLite) and is
killed with SIGKILL `--kills` times: mostly after a random share of the
work plus a random pause (so a kill can land while fetching, parsing or
storing a batch), sometimes right after start-up. Then it runs to the end.
The findings: what was stored after each kill, whether any child process
outlived the worker, and the final check against the Message-IDs in the
mailbox.

    python bench/faults_imap_sync.py                      # 10,000 messages, 20 kills, PostgreSQL
    python bench/faults_imap_sync.py --messages 2000 --kills 5 --db sqlite
"""
from __future__ import annotations

import argparse
import email
import random
import sys
import time
from email import policy
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from sqlalchemy import func, select  # noqa: E402

from tests.scale.cluster import Cluster, email_account, kill_repeatedly, pg_database, wait_for  # noqa: E402


def expected_ids(raws: list[bytes]) -> set[str]:
    """Message-IDs as the email channel stores them (without angle brackets)."""
    out = set()
    for raw in raws:
        head = raw.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
        mid = email.message_from_bytes(head, policy=policy.compat32).get("Message-ID", "")
        out.add(mid.strip().strip("<>"))
    return out


def run(messages: int = 10_000, kills: int = 20, db: str = "postgresql", seed: int = 1,
        report=print) -> dict:
    import mailgen

    from collectors.standins.dovecot import Dovecot
    from collectors.standins.smtp import SmtpServer
    from inbox.models import Message

    rng = random.Random(seed)
    raws = mailgen.messages(messages, seed=seed)
    ids = expected_ids(raws)
    dovecot, smtp = Dovecot().start(), SmtpServer().start()
    try:
        user = dovecot.new_user()
        t = time.perf_counter()
        dovecot.append_many(raws, user=user[0])
        report(f"Dovecot: {len(raws):,} messages appended in {time.perf_counter() - t:.1f} s "
               f"({len(ids):,} distinct Message-IDs)")
        account = email_account(dovecot, user, smtp, "support", poll_seconds=2, initial_days=3650)
        with _database(db) as url, Cluster(url, [account]) as c:
            c.init()

            def stored() -> int:
                with c.factory() as s:
                    return s.scalar(select(func.count()).select_from(Message))

            t0 = time.monotonic()
            lives = kill_repeatedly(c, "worker", stored, len(ids), kills, rng, report)
            c.start("worker")
            c.started("worker")
            finished = wait_for(lambda: stored() >= len(ids), 600, every=0.5)
            seconds = time.monotonic() - t0
            time.sleep(3)  # a few more polls: nothing new may appear
            code = c.stop("worker")
            total, distinct = c.message_counts()
            with c.factory() as s:
                got = set(s.scalars(select(Message.external_id)))
            result = {
                "messages": len(ids), "kills": len(lives), "stored": total, "distinct": distinct,
                "missing": len(ids - got), "unexpected": len(got - ids), "orphans": c.orphans,
                "partial_batches": sum(1 for life in lives if life["after"] != life["at_kill"]),
                "seconds": seconds, "finished": bool(finished), "exit_code": code,
                "kills_during_work": sum(1 for life in lives if life["at_kill"] < len(ids)),
            }
            report(f"after {result['kills']} kills ({result['kills_during_work']} while the sync was unfinished) "
                   f"and a last run: {total:,} stored, {distinct:,} distinct, {result['missing']} missing, "
                   f"{result['unexpected']} unexpected, of {len(ids):,} in the mailbox; "
                   f"{c.orphans} child process(es) outlived a killed worker; {seconds:.0f} s in all; "
                   f"clean stop exit code {code}")
            ok = total == distinct == len(ids) and not result["missing"] and not result["unexpected"]
            report("RESULT: " + ("exactly once: every message stored, none twice" if ok else "FAILED"))
            result["ok"] = ok
            return result
    finally:
        dovecot.remove()
        smtp.stop()


def _database(kind: str):
    import contextlib
    import tempfile

    if kind == "postgresql":
        return pg_database("replydesk_faults")

    @contextlib.contextmanager
    def sqlite():
        folder = tempfile.mkdtemp(prefix="replydesk-faults-")
        yield f"sqlite:///{folder}/replydesk.db"
    return sqlite()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--messages", type=int, default=10_000)
    p.add_argument("--kills", type=int, default=20)
    p.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    result = run(args.messages, args.kills, args.db, args.seed)
    print(f"reproduce: python bench/faults_imap_sync.py --messages {args.messages} --kills {args.kills} "
          f"--db {args.db} --seed {args.seed}")
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()

"""Parser processes: they score sentiment as the worker would, and they
end when the worker that started them is killed."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import sentiment
from collectors.email import pool
from collectors.email.pool import ParsePool, parse_chunks
from inbox.tagging import sentiment_text

ROOT = Path(__file__).resolve().parents[2]


def _mail(n: int, text: str) -> tuple[bytes, None]:
    return (f"From: c{n}@example.org\r\nSubject: order {n}\r\nMessage-ID: <p{n}@example.org>\r\n\r\n"
            f"{text}\r\n").encode(), None


def test_parser_processes_score_sentiment_with_the_workers_scorer():
    texts = ["I love it, thank you so much!", "Worst service ever, I want a refund", "Where is my parcel?"]
    raws = [_mail(n, texts[n % 3]) for n in range(300)]
    for scorer in ("default", "vader"):
        sentiment.configure(scorer=scorer)
        pool = ParsePool(frozenset({"support@acme.test"}), 1000)
        try:
            items = pool.submit(raws)()
        finally:
            pool.close()
        assert len(items) == 300 and all(i.scored is not None and i.scored.scorer == scorer for i in items)
        here = sentiment.score_many([sentiment_text(i) for i in items])
        assert [i.scored for i in items] == here
    sentiment.configure(scorer="default")

def test_chunks_are_parsed_here_until_the_parser_processes_are_up(monkeypatch):
    monkeypatch.setattr(pool, "processes", lambda: 2)  # a pool even on one core (taskset -c 0)
    chunks = [[_mail(c * 1000 + n, "Where is my parcel?") for n in range(400)] for c in range(4)]

    def fetched():
        for n, chunk in enumerate(chunks):
            yield chunk
            if n == 0:
                time.sleep(3)  # the pool started with chunk 0 is up by the time chunk 1 comes

    got = list(parse_chunks(fetched(), lambda c: c, lambda c: 1600, frozenset(), 1000))
    assert [c for c, _ in got] == chunks  # every chunk, in order
    assert [[i.external_id for i in items] for _, items in got] == \
        [[f"p{c * 1000 + n}@example.org" for n in range(400)] for c in range(4)]
    # Chunk 0 was parsed in this process (sentiment is then scored at ingest);
    # the rest by the parser processes, which score it ahead.
    assert all(i.scored is None for i in got[0][1])
    assert all(i.scored is not None for _, items in got[1:] for i in items)


# A stand-in worker: starts a parse pool, makes sure its processes are up,
# prints their pids and waits to be killed.
WORKER = textwrap.dedent("""
    import os, sys, time
    sys.path.insert(0, sys.argv[1])
    from collectors.email.pool import ParsePool
    pool = ParsePool(frozenset(), 1000)
    pool.submit([(b"Subject: hi\\r\\n\\r\\nhello\\r\\n", None)] * 300)()
    print(" ".join(str(p) for p in pool.executor._processes), flush=True)
    time.sleep(600)
""")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead but not yet reaped by its parent (the forkserver).
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def test_parsers_end_when_the_worker_is_sigkilled():
    proc = subprocess.Popen([sys.executable, "-c", WORKER, str(ROOT)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "REPLYDESK_PARSE_PROCESSES": "2"})
    try:
        parsers = [int(p) for p in proc.stdout.readline().split()]
        assert parsers and all(alive(p) for p in parsers)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 15
        while any(alive(p) for p in parsers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(alive(p) for p in parsers), "parser processes outlived their worker"
    finally:
        proc.kill()

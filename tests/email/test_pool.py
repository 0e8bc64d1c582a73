"""Parser processes end when the worker that started them is killed."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

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

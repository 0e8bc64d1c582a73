"""What each kind of request costs the server, one at a time, on the load
database (bench/load.py --keep): wall time and the web process's own CPU
time, through the real Flask app (routing, SQL on PostgreSQL, templates).

bench/load.py measures latency under load; on a shared machine that mostly
measures the queue for a CPU. This measures the work itself, so the load a
deployment can carry per core can be worked out:

    python bench/load_costs.py replydesk_load_1234_abcdef
"""
from __future__ import annotations

import random
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from load_agents import FILTERS, WORDS  # noqa: E402
from load_fill import PASSWORD, TAGS  # noqa: E402

RUNS = 30


def main() -> None:
    from sqlalchemy import func, select

    from inbox.models import Change, Conversation
    from tests import pg
    from webui.app import create_app

    name = sys.argv[1]
    url = pg.server_url().rsplit("/", 1)[0] + "/" + name
    app = create_app({"database": {"url": url}, "web": {"secret_key": "costs", "secure_cookies": False}})
    rt = app.extensions["replydesk"]
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    assert client.post("/login", data={"email": "agent1@example.com", "password": PASSWORD,
                                       "csrf_token": token}).status_code == 302
    csrf = re.search(r'"X-CSRFToken": "([^"]+)"', client.get("/").get_data(as_text=True)).group(1)
    rng = random.Random(5)
    with rt.reader() as s:
        convs = s.scalars(select(Conversation.id).where(Conversation.id % 997 == 0)).all()
        latest = s.scalar(select(func.max(Change.id))) or 0
    cases = {
        "list": lambda: ("GET", "/"),
        "list, live reload": lambda: ("GET", "/", {"HX-Target": "list"}),  # htmx asks for #list alone
        "filter": lambda: ("GET", "/?" + rng.choice(FILTERS + [f"tag={rng.choice(TAGS)}&status=any"])),
        "search": lambda: ("GET", f"/?status=any&q={rng.choice(WORDS)}"),
        "open conversation": lambda: ("GET", f"/c/{rng.choice(convs)}"),
        "live poll, nothing new": lambda: ("GET", f"/live/changes?since={latest + 10**9}"),
        "live poll, changes": lambda: ("GET", f"/live/changes?since={max(0, latest - 100)}"),
        "presence": lambda: ("POST", f"/c/{rng.choice(convs)}/presence"),
    }
    print(f"{RUNS} runs each, one at a time, database {name}")
    print(f"{'request':24s} {'wall p50':>9s} {'wall p95':>9s} {'CPU p50':>8s}  (ms; CPU = the web process's own)")
    for kind, make in cases.items():
        walls, cpus = [], []
        for i in range(RUNS + 3):
            method, path, *extra = make()
            w, c = time.perf_counter(), time.process_time()
            resp = client.open(path, method=method,
                               headers={"X-CSRFToken": csrf, "HX-Request": "true", **(extra[0] if extra else {})})
            wall, cpu = (time.perf_counter() - w) * 1000, (time.process_time() - c) * 1000
            assert resp.status_code in (200, 204), (path, resp.status_code)
            if i >= 3:
                walls.append(wall)
                cpus.append(cpu)
        walls.sort()
        print(f"{kind:24s} {statistics.median(walls):9.1f} {walls[int(0.95 * len(walls)) - 1]:9.1f} "
              f"{statistics.median(cpus):8.1f}")
    rt.engine.dispose()


if __name__ == "__main__":
    main()

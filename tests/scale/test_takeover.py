"""Two real worker processes on one PostgreSQL; one is killed with SIGKILL
while customers keep writing in. Its accounts are polled by the other
within 30 s (the lock heartbeat runs every 10 s), and every message is
stored exactly once."""
from __future__ import annotations

import time

import pytest

from collectors.standins.x_api import XApi
from tests.scale.cluster import Cluster, Feeder, pg_database, unlimited, wait_for, worker_pid, x_account

pytestmark = pytest.mark.postgres
ACCOUNTS = 4
TAKEOVER_LIMIT = 30.0


@pytest.fixture
def apis():
    started = [XApi(username=f"acme{i}", validate=False).start() for i in range(ACCOUNTS)]
    for api in started:
        unlimited(api)
    yield started
    for api in started:
        api.stop()


def test_killed_workers_accounts_are_taken_over_within_30_s(apis):
    accounts = [x_account(api, f"acme-x{i}", poll_seconds=1) for i, api in enumerate(apis)]
    with pg_database() as url, Cluster(url, accounts) as c:
        c.init()
        with Feeder(lambda n: apis[n % ACCOUNTS].add_mention(f"customer{n}", f"order {n} is late"), 20) as feed:
            c.start("a")
            c.start("b")
            pids = {c.procs["a"].pid: "a", c.procs["b"].pid: "b"}

            def shared():  # every account owned, by both workers between them
                owners = c.owners()
                by = {worker_pid(o) for o in owners.values()}
                return owners if None not in by and by == set(pids) else None
            owners = wait_for(shared, 45, every=0.5)
            assert owners, f"the accounts were not shared out: {c.owners()}\n{c.log('a')}\n{c.log('b')}"

            victim = pids[worker_pid(owners["acme-x0"])]
            survivor = "b" if victim == "a" else "a"
            survivor_pid = c.procs[survivor].pid
            t0 = time.monotonic()
            c.kill(victim)

            def all_taken():
                return all(worker_pid(o) == survivor_pid for o in c.owners().values())
            assert wait_for(all_taken, TAKEOVER_LIMIT + 5, every=0.2), c.owners()
            takeover = time.monotonic() - t0
            time.sleep(3)  # the survivor keeps up with new mail on all accounts
        sent = feed.count
        assert wait_for(lambda: c.message_counts()[0] >= sent, 30), (c.message_counts(), sent)
        total, distinct = c.message_counts()
        print(f"takeover after SIGKILL: {takeover:.1f} s; {sent} mentions, {total} stored, {distinct} distinct")
        assert takeover <= TAKEOVER_LIMIT
        assert total == distinct == sent
        assert f"this worker now polls acme-x" in c.log(survivor)
        c.stop_all()

"""Writers in parallel on the same conversations (several workers and web
processes): the rollups must end exactly where a rebuild puts them."""
from __future__ import annotations

import threading
from datetime import timedelta

from inbox.channel import Batch, InboundItem, SentRef
from inbox.ingest import store_batch
from inbox.outbox import mark_sent
from inbox.workflow import get_conversation, queue_reply
from tests.reports.conftest import at


def test_parallel_ingest_and_replies_keep_the_rollups_exact(desk):
    x = desk.account()
    ada = desk.agent("Ada")
    for t in range(3):
        desk.customer(x, at(t), f"t{t}", author=f"c{t}")
    ids = [desk.conv(f"t{t}") for t in range(3)]
    errors = []

    def customers(worker: int):
        try:
            for i in range(8):
                item = InboundItem(external_id=f"w{worker}-{i}", created_at=at(10 + i, hours=worker), text="hello?",
                                   author_id=f"c{i % 3}", thread_key=f"t{i % 3}")
                with desk.factory.begin() as s:
                    store_batch(s, s.merge(x), Batch(items=[item]))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    def replies():
        try:
            for i in range(6):
                with desk.factory.begin() as s:
                    r = queue_reply(s, get_conversation(s, ids[i % 3]), "On it.", by=s.merge(ada),
                                    confirm_collision=True)
                    mark_sent(s, r.id, SentRef(external_id=f"r{i}", created_at=at(30 + i * 20) + timedelta(hours=1)))
        except Exception as e:  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=customers, args=(w,)) for w in range(3)] + [threading.Thread(target=replies)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    r = desk.report()
    assert r["volume"]["in"] == 3 + 3 * 8 and r["volume"]["out"] == 6
    assert desk.rebuild_matches()

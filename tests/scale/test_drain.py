"""Three real worker processes drain 1,000 queued replies into the X and
Reddit stand-ins, which record every post they receive: each reply arrives
exactly once, and the work is spread over the three workers."""
from __future__ import annotations

import time
from collections import Counter

import pytest
from sqlalchemy import func, select

from collectors.standins.reddit_api import RedditApi
from collectors.standins.x_api import XApi
from inbox import workflow
from inbox.models import Conversation, OutboundReply
from inbox.users import add_user
from tests.scale.cluster import Cluster, pg_database, reddit_account, unlimited, wait_for, x_account

pytestmark = pytest.mark.postgres
X_REPLIES, REDDIT_REPLIES = 600, 400


@pytest.fixture
def stand_ins():
    x, reddit = XApi(validate=False).start(), RedditApi().start()
    unlimited(x)
    yield x, reddit
    x.stop()
    reddit.stop()
    assert x.errors == [] and reddit.errors == []


def queue_replies(c: Cluster) -> int:
    with c.factory.begin() as s:
        agent = add_user(s, "ada@example.com", "correct horse battery", name="Ada")
        convs = s.scalars(select(Conversation).order_by(Conversation.id)).all()
        for conv in convs:
            workflow.queue_reply(s, conv, f"Sorry about that! A new one is on its way (ref R{conv.id}).", by=agent)
    return len(convs)


def test_three_workers_send_a_thousand_replies_exactly_once(stand_ins):
    x, reddit = stand_ins
    for n in range(X_REPLIES):
        x.add_mention(f"xcustomer{n}", f"my order {n} has not arrived")
    for n in range(REDDIT_REPLIES):
        reddit.add_mention(f"rcustomer{n}", f"my order {n} has not arrived")
    accounts = [x_account(x, "acme-x", poll_seconds=30), reddit_account(reddit, "acme-reddit", poll_seconds=30)]
    with pg_database() as url, Cluster(url, accounts, worker={"outbox_seconds": 0.2}) as c:
        c.init()
        c.ingest()  # the customers' messages, through the channels and the real ingest path
        assert queue_replies(c) == X_REPLIES + REDDIT_REPLIES
        t0 = time.monotonic()
        for name in ("a", "b", "c"):
            c.start(name)

        def settled():
            with c.factory() as s:
                return s.scalar(select(func.count()).select_from(OutboundReply).where(
                    OutboundReply.state.in_(("queued", "sending")))) == 0
        assert wait_for(settled, 240, every=0.5), "\n".join(c.log(n)[-2000:] for n in "abc")
        seconds = time.monotonic() - t0
        c.stop_all()

        with c.factory() as s:
            rows = s.execute(select(OutboundReply.state, OutboundReply.external_id, OutboundReply.text,
                                    OutboundReply.claimed_by)).all()
        assert Counter(r.state for r in rows) == {"sent": X_REPLIES + REDDIT_REPLIES}
        x_texts = Counter(p["text"] for p in x.posted)
        reddit_texts = Counter(p["text"] for p in reddit.posted)
        assert len(x.posted) == X_REPLIES and max(x_texts.values()) == 1
        assert len(reddit.posted) == REDDIT_REPLIES and max(reddit_texts.values()) == 1
        posted_ids = {p["id"] for p in x.posted} | {p["name"] for p in reddit.posted}
        assert {r.external_id for r in rows} == posted_ids  # each row records the post it made
        assert set(x_texts) | set(reddit_texts) == {r.text for r in rows}
        by_worker = Counter(r.claimed_by.split(":")[1] for r in rows)
        print(f"{len(rows)} replies sent by 3 workers in {seconds:.1f} s; per worker: {sorted(by_worker.values())}")
        assert len(by_worker) == 3, by_worker

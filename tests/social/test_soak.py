"""Random faults (seeded) under repeated polls: nothing but channel errors
escapes, and in the end every mention is in, none twice."""
from __future__ import annotations

import pytest

from inbox.channel import ChannelError


def poll_until_quiet(make_channel, api, expected: set[str], polls: int = 60) -> tuple[list[str], list[str]]:
    """Poll like the worker (a fresh process each time, cursors kept) until
    everything is in; returns (stored ids in order, error kinds seen)."""
    cursors: dict[str, str] = {}
    stored: list[str] = []
    errors: list[str] = []
    for _ in range(polls):
        ch = make_channel()
        try:
            for batch in ch.fetch(dict(cursors)):
                stored += [i.external_id for i in batch.items if i.external_id not in stored]
                cursors.update(batch.cursors)
                if batch.after_commit:
                    try:
                        batch.after_commit()
                    except ChannelError:
                        pass  # the runner logs it; the entries come again and are dropped as duplicates
        except ChannelError as e:
            errors.append(e.kind)
        finally:
            ch.close()
        api.clock_offset += 3600  # rate-limit windows pass between polls
        if expected <= set(stored):
            break
    return stored, errors


@pytest.fixture
def clocked():
    """Give a stand-in a clock the test can move forward."""
    import time

    def apply(api):
        api.clock_offset = 0
        api.clock = lambda: time.time() + api.clock_offset
        return api
    return apply


def test_x_under_random_faults(x_api, make_x, clocked):
    clocked(x_api)
    expected = {x_api.add_mention(f"user{i % 13}", f"help {i}")["id"] for i in range(800)}
    x_api.random.seed(11)
    x_api.fault_rate = 0.3
    stored, errors = poll_until_quiet(lambda: make_x(own_replies=False, retries=0), x_api, expected)
    assert set(stored) == expected and len(stored) == len(expected)
    assert len(x_api.injected) >= 3 and errors  # the seed gives faults, and some reached the channel


def test_reddit_under_random_faults(reddit_api, make_reddit, clocked):
    clocked(reddit_api)
    post = reddit_api.add_submission(reddit_api.me, "acme", "Support")
    expected = {reddit_api.add_comment(f"user{i % 13}", post["name"], f"help {i}")["name"] for i in range(230)}
    reddit_api.random.seed(5)
    reddit_api.fault_rate = 0.15
    # prawcore retries 5xx itself, so random faults alone may never reach the
    # channel: one scripted 429 makes sure the channel's own handling runs too.
    reddit_api.fail(429, method="GET", path="/message/unread/")
    stored, errors = poll_until_quiet(lambda: make_reddit(own_replies=False, karma_lookups=0), reddit_api,
                                      expected)
    assert set(stored) == expected and len(stored) == len(expected)
    assert len(reddit_api.injected) >= 3 and errors  # the seed gives faults, and some reached the channel

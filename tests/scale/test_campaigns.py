"""Short versions of the fault campaigns in bench/ (the same code, smaller
numbers), so the suite proves on every run what the campaigns prove at
length: SIGKILL during an IMAP first sync loses and doubles nothing; SIGKILL
while replies go out (at the worst moment, too) posts none twice and loses
none; with one request in five failing, everything still gets through."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import faults_flaky  # noqa: E402
import faults_imap_sync  # noqa: E402
import faults_send  # noqa: E402

pytestmark = pytest.mark.postgres


def test_sigkill_during_imap_sync_stores_every_message_once():
    result = faults_imap_sync.run(messages=1200, kills=3, seed=11)
    assert result["kills_during_work"] >= 2
    assert result["stored"] == result["distinct"] == result["messages"]
    assert result["missing"] == result["unexpected"] == 0


def test_sigkill_while_sending_to_x_and_reddit_posts_each_reply_once():
    """Kills 1 and 2 at the worst moment (the stand-in has the post and holds
    its answer: X, then Reddit), kill 3 at a random moment."""
    result = faults_send.run(replies=25, seed=12, channels=("x", "reddit"), schedule=("x", "reddit", "random"))
    assert result["worst_moment"]["x"] == 1 and result["worst_moment"]["reddit"] == 1
    for channel in ("x", "reddit"):
        assert result[channel]["posted_twice"] == 0 and result[channel]["distinct"] == 25, result
    assert result["states"] == {"sent": 50} and result["x_resends_refused"] == 0


def test_one_request_in_five_failing_still_stores_and_sends_everything_once():
    result = faults_flaky.run(messages=20, workers=2, seed=13)
    assert result["ok"], result

"""Stand-ins of the X and Reddit APIs, and channels pointed at them.

Every test talks real HTTP through tweepy or praw to a stand-in started
here; after the test, nothing the stand-in received or served may have
broken the API's shapes, and no stand-in handler may have crashed.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from collectors.standins.x_api import XApi
from collectors.x import XChannel
from inbox.config import AccountConfig, validate

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def recording(group: str, name: str):
    return json.loads((FIXTURES / group / name).read_text(encoding="utf-8"))


def account(kind: str, settings, raw: dict, name: str | None = None) -> AccountConfig:
    values = validate(raw, settings, "test.toml", f"[[accounts]] {kind}", env={})
    return AccountConfig(name=name or f"acme-{kind}", kind=kind, enabled=True, sla_minutes=None, settings=values)


@pytest.fixture
def x_api():
    api = XApi().start()
    yield api
    api.stop()
    assert api.violations == [], "requests or responses broke the X API v2 spec"
    assert api.errors == []


def x_settings(api: XApi, **overrides) -> dict:
    raw = dict(username=api.me["username"], bearer_token=api.bearer_token, consumer_key=api.consumer_key,
               consumer_secret=api.consumer_secret, access_token=api.access_token,
               access_token_secret=api.access_token_secret, api_url=api.url, timeout_seconds=2.0, retries=1)
    raw.update(overrides)
    return {k: v for k, v in raw.items() if v is not None}


@pytest.fixture
def make_x(x_api):
    channels = []

    def make(**overrides) -> XChannel:
        ch = XChannel(account("x", XChannel.settings, x_settings(x_api, **overrides)))
        ch.retry_backoff = 0.01
        channels.append(ch)
        return ch
    yield make
    for ch in channels:
        ch.close()


@pytest.fixture
def reddit_api():
    from collectors.standins.reddit_api import RedditApi

    api = RedditApi().start()
    yield api
    api.stop()
    assert api.errors == []


def reddit_settings(api, **overrides) -> dict:
    raw = dict(client_id=api.client_id, client_secret=api.client_secret, username=api.me,
               password=api.password, user_agent="replydesk-tests/1.0 (by u/acme)",
               oauth_url=api.url, reddit_url=api.url, timeout_seconds=2.0)
    raw.update(overrides)
    return {k: v for k, v in raw.items() if v is not None}


@pytest.fixture
def make_reddit(reddit_api):
    from collectors.reddit import RedditChannel

    channels = []

    def make(**overrides) -> RedditChannel:
        ch = RedditChannel(account("reddit", RedditChannel.settings, reddit_settings(reddit_api, **overrides)))
        channels.append(ch)
        return ch
    yield make
    for ch in channels:
        ch.close()

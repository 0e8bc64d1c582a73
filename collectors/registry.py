"""Which channel kinds exist. A kind is the module name under collectors/,
the `kind = "..."` in the config and the value stored in the database."""
from __future__ import annotations

import importlib

from inbox.config import AccountConfig, Setting

from .base import Channel

# kind -> "module:Class"; imported on first use so a broken optional library
# only affects its own channel.
KINDS: dict[str, str] = {
    "email": "collectors.email:EmailChannel",
    "maildir": "collectors.maildir:MaildirChannel",
    "x": "collectors.x:XChannel",
    "reddit": "collectors.reddit:RedditChannel",
}


def channel_class(kind: str) -> type[Channel]:
    module, _, cls = KINDS[kind].partition(":")
    return getattr(importlib.import_module(module), cls)


def settings_by_kind() -> dict[str, list[Setting]]:
    return {kind: channel_class(kind).settings for kind in KINDS}


def make_channel(account: AccountConfig) -> Channel:
    return channel_class(account.kind)(account)

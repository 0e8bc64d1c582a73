"""Accounts follow the config, also when several workers start at once."""
from __future__ import annotations

import threading

from sqlalchemy import func, select

from inbox.accounts import sync_accounts
from inbox.config import AccountConfig
from inbox.db import session_factory
from inbox.models import Account


def configs(*names: str) -> list[AccountConfig]:
    return [AccountConfig(name=n, kind="x", enabled=True, sla_minutes=None, settings={}) for n in names]


def test_new_accounts_are_added_and_dropped_ones_disabled(factory):
    with factory.begin() as s:
        sync_accounts(s, configs("a", "b"))
    with factory.begin() as s:
        synced = sync_accounts(s, configs("b", "c"))
        assert set(synced) == {"b", "c"}
    with factory() as s:
        assert dict(s.execute(select(Account.name, Account.enabled)).all()) == {"a": False, "b": True, "c": True}


def test_workers_starting_together_do_not_collide(engine):
    """Each thread is a worker process starting with the same new config."""
    factory = session_factory(engine)
    start = threading.Barrier(6)
    errors: list[BaseException] = []

    def worker():
        try:
            start.wait()
            with factory.begin() as s:
                sync_accounts(s, configs("support", "acme-x", "acme-reddit"))
        except BaseException as e:  # noqa: BLE001 - the test reports it
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Account)) == 3

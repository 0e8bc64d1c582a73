"""Shared fixtures: a migrated database on SQLite and on PostgreSQL.

The schema is migrated once per test session and database kind; each test
then gets it empty (a copied SQLite file; truncated PostgreSQL tables), so
the storage tests run on both databases without paying for migrations each
time.
"""
from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from inbox import db
from inbox.models import Account, Base, User

# Tests must never use a developer's real config by accident.
os.environ.pop("REPLYDESK_CONFIG", None)


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = db.make_engine(f"sqlite:///{path}")
    db.upgrade(engine)
    engine.dispose()  # the last connection to close folds the WAL into the file
    return path


@pytest.fixture(scope="session")
def _pg_database():
    from tests import pg

    name = f"replydesk_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = pg.create_database(name)
    engine = db.make_engine(url)
    db.upgrade(engine)
    engine.dispose()
    yield url
    pg.drop_database(name)


def _truncate_pg(engine) -> None:
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as c:
        c.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path) -> str:
    """URL of an empty, migrated database; the test runs once per kind."""
    if request.param == "sqlite":
        path = tmp_path / "replydesk.db"
        shutil.copy(request.getfixturevalue("_sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("_pg_database")
    engine = db.make_engine(url)
    _truncate_pg(engine)
    engine.dispose()
    return url


@pytest.fixture
def sqlite_url(tmp_path, _sqlite_template) -> str:
    """For tests that only need a database, not both kinds."""
    path = tmp_path / "replydesk.db"
    shutil.copy(_sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def engine(db_url):
    e = db.make_engine(db_url)
    yield e
    e.dispose()


@pytest.fixture
def factory(engine):
    return db.session_factory(engine)


@pytest.fixture
def make_account(factory):
    def make(name: str = "acme-x", kind: str = "x") -> Account:
        with factory.begin() as s:
            acc = Account(name=name, kind=kind, health="ok")
            s.add(acc)
        return acc
    return make


@pytest.fixture
def make_user(factory):
    from inbox.users import add_user

    def make(email: str = "agent@example.com", role: str = "agent", name: str = "Ada Agent") -> User:
        with factory.begin() as s:
            return add_user(s, email, "correct horse battery", role=role, name=name)
    return make

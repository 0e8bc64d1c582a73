"""The migrations create exactly the schema the models describe, on both
databases; the hand-written search objects (0002, 0003), which the models
leave out, are checked on their own."""
from datetime import timedelta

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, inspect, text

from inbox import db, search
from inbox.models import Account, Base, Conversation, Message, utcnow


def test_models_match_migrations(engine):
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(
            conn, opts={"compare_type": True, "include_name": search.include_name}), Base.metadata)
    assert diff == [], "models and migrations differ; run python -m inbox.migrations.regenerate_initial"


def test_only_the_search_objects_are_left_out_of_the_models(engine):
    """Without the hook, the differences are the search objects and nothing
    else: the hook hides no real drift."""
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    found = set()
    for d in diff:
        if d[0] == "remove_table":
            found.add(("table", d[1].name))
        elif d[0] == "remove_index":
            found.add(("index", d[1].name))
        elif d[0] == "remove_column":
            found.add(("column", f"{d[2]}.{d[3].name}"))
        else:
            found.add(d[:1])
    if engine.dialect.name == "postgresql":
        assert found == {("column", f"messages.{search.PG_COLUMN}"), ("index", search.PG_INDEX)}
    else:
        assert found == {("table", name) for name in search.SQLITE_OBJECTS}


def test_postgresql_search_column_is_generated_and_indexed(engine):
    if engine.dialect.name != "postgresql":
        assert inspect(engine).has_table(search.FTS_TABLE)
        return
    columns = {c["name"]: c for c in inspect(engine).get_columns("messages")}
    computed = columns[search.PG_COLUMN]["computed"]
    assert computed["persisted"] and "to_tsvector" in computed["sqltext"]
    indexes = {i["name"]: i for i in inspect(engine).get_indexes("messages")}
    assert indexes[search.PG_INDEX]["column_names"] == [search.PG_COLUMN]
    with engine.connect() as c:
        using = c.scalar(text("SELECT indexdef FROM pg_indexes WHERE indexname = :n"), {"n": search.PG_INDEX})
    assert "USING gin (search_document)" in using


@pytest.fixture
def fresh_engine(db_url, tmp_path):
    """An empty database of the same kind, not migrated yet."""
    if db_url.startswith("sqlite"):
        e = db.make_engine(f"sqlite:///{tmp_path}/fresh.db")
        yield e
        e.dispose()
        return
    import os
    import uuid

    from tests import pg

    name = f"replydesk_mig_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    e = db.make_engine(pg.create_database(name))
    try:
        yield e
    finally:
        e.dispose()
        pg.drop_database(name)


def test_search_survives_upgrade_and_downgrade_of_0003(fresh_engine):
    """Messages stored before 0003 are found after it (the column is
    computed for existing rows); a downgrade puts 0002's expression index
    back; after upgrading again the stored document is exactly
    search.PG_DOCUMENT and follows the message's text."""
    cfg = db.alembic_config(fresh_engine)
    dialect = fresh_engine.dialect.name
    command.upgrade(cfg, "0002")
    with fresh_engine.begin() as c:  # only the columns 0002 has: the models have later ones
        conv = _conversation(c)
        c.execute(insert(Message).values(
            conversation_id=conv, account_id=1, external_id="e1", direction="in", author_name="Ann Novak",
            author_handle="@ann", subject="Kettle order 4711", text="My kettle leaks, refund please",
            created_at=utcnow()))

    def found(q: str) -> list[int]:
        with fresh_engine.connect() as c:
            return list(c.scalars(search.matching_messages(dialect, q)))

    def index_on() -> str:
        with fresh_engine.connect() as c:
            return c.scalar(text("SELECT indexdef FROM pg_indexes WHERE indexname = :n"), {"n": search.PG_INDEX})

    for revision in ("head", "0002", "head"):
        (command.upgrade if revision == "head" else command.downgrade)(cfg, revision)
        if dialect == "postgresql" and revision == "0002":  # today's code needs the column: look at the schema
            assert search.PG_COLUMN not in {c["name"] for c in inspect(fresh_engine).get_columns("messages")}
            assert "to_tsvector" in index_on()
            continue
        assert found("refu") == [1] and found("novak kettle") == [1] and found("4711") == [1], revision
        assert found("blender") == []
    if dialect == "postgresql":
        with fresh_engine.connect() as c:
            assert c.scalar(text(f"SELECT count(*) FROM messages WHERE {search.PG_COLUMN} = {search.PG_DOCUMENT}")) == 1
    with fresh_engine.begin() as c:
        c.execute(text("UPDATE messages SET text = 'now about a blender'"))
    assert found("blender") == [1] and found("refund") == []  # the index follows the text


def _conversation(c, thread_key: str = "t1", **values) -> int:
    """A conversation (and its account, once) written with Core, naming only
    the columns given, so it works at an older revision than the models'."""
    if not c.scalar(text("SELECT count(*) FROM accounts")):
        c.execute(insert(Account).values(name="acme-x", kind="x", health="ok"))
    return c.execute(insert(Conversation).values(account_id=1, thread_key=thread_key, **values)).inserted_primary_key[0]


def test_0004_gives_conversations_the_confidence_and_corrected_label_of_their_last_customer_message(fresh_engine):
    cfg = db.alembic_config(fresh_engine)
    command.upgrade(cfg, "0003")
    t0 = utcnow()
    with fresh_engine.begin() as c:
        def message(conv, ext, minutes, label, confidence, corrected=None, direction="in", auto=None):
            c.execute(insert(Message).values(
                conversation_id=conv, account_id=1, external_id=ext, direction=direction, auto=auto, text=ext,
                created_at=t0 + timedelta(minutes=minutes), sentiment_label=label, sentiment_confidence=confidence,
                corrected_label=corrected))
        plain = _conversation(c, "plain", sentiment="negative")
        message(plain, "p1", 0, "positive", 0.9)
        message(plain, "p2", 5, "negative", 0.42)
        message(plain, "p3", 9, None, None, direction="out")  # our reply: not a customer message
        corrected = _conversation(c, "corrected", sentiment="negative")
        message(corrected, "c1", 0, "negative", 0.8, corrected="positive")
        message(corrected, "c2", 3, "neutral", 0.7, auto="auto_reply")  # an auto-reply: not the customer
        untouched = _conversation(c, "none")  # no customer message yet
    command.upgrade(cfg, "head")
    with fresh_engine.connect() as c:
        rows = dict((r[0], r[1:]) for r in c.execute(text("SELECT id, sentiment, sentiment_confidence FROM conversations")))
    assert rows[plain] == ("negative", pytest.approx(0.42))
    assert rows[corrected] == ("positive", None)  # the person's label; their correction has no confidence
    assert rows[untouched] == (None, None)
    command.downgrade(cfg, "0003")
    assert "sentiment_confidence" not in {c["name"] for c in inspect(fresh_engine).get_columns("conversations")}
    command.upgrade(cfg, "head")

"""Full-text search over messages: text, author and subject.

SQLite: an FTS5 table with `messages` as its external content, kept in step
by triggers (migration 0002). PostgreSQL: a stored generated `tsvector`
column, `messages.search_document`, with a GIN index (migration 0003; 0002
indexed the expression, which cannot serve "newest first": PostgreSQL
walked messages newest first computing each one's vector again, seconds at
a million messages). Alembic cannot autogenerate these, and `include_name`
keeps them out of autogenerate's comparison with the models; the column is
not in the models either, since SQLite has no such column.

All words must match; the last one also as a prefix ("refu" finds
"refund"), since the list follows the search box as the agent types. Only
the last: a prefix query reads every term it covers, an exact one a single
list. Results are capped to the newest `MATCH_LIMIT` matching
messages, so a common word costs the same as a rare one; the inbox says so
when the cap is reached.
"""
from __future__ import annotations

import re

from sqlalchemy import column, func, literal_column, select, table, text
from sqlalchemy.sql import Select

from inbox.models import Message

MATCH_LIMIT = 1000
MAX_TERMS = 8

FTS_TABLE = "messages_fts"
# FTS5 keeps its index in these shadow tables (external content: no _content).
SQLITE_OBJECTS = {FTS_TABLE, *(f"{FTS_TABLE}_{s}" for s in ("data", "idx", "docsize", "config"))}
PG_INDEX = "ix_messages_search"
PG_COLUMN = "search_document"
# The indexed document; migration 0003 generates the column from exactly this.
# Punctuation becomes a space first, so PostgreSQL splits words the way FTS5's
# unicode61 tokenizer does (its parser would keep "ann@example.com" whole).
PG_DOCUMENT = ("to_tsvector('simple'::regconfig, regexp_replace(coalesce(subject, '') || ' ' || "
               "coalesce(author_name, '') || ' ' || coalesce(author_handle, '') || ' ' || "
               "left(coalesce(text, ''), 100000), '[^[:alnum:]]+', ' ', 'g'))")

_WORD = re.compile(r"[^\W_]+")


def include_name(name, type_, parent_names) -> bool:
    """Alembic hook: the search objects are not in the models on purpose."""
    if type_ == "column" and name == PG_COLUMN and parent_names.get("table_name") == Message.__tablename__:
        return False
    return name not in SQLITE_OBJECTS and name != PG_INDEX


def terms(query: str) -> list[str]:
    """The words of a search, as both engines split them (punctuation,
    @ and . separate words, so "@ann" and "ann@example.com" work)."""
    return [w.lower() for w in _WORD.findall(query or "")][:MAX_TERMS]


def matching_messages(dialect: str, query: str, limit: int = MATCH_LIMIT) -> Select | None:
    """SELECT of the ids of the newest messages matching `query`, or None
    when the query has no words."""
    words = terms(query)
    if not words:
        return None
    if dialect == "sqlite":
        return (select(literal_column("rowid").label("id")).select_from(text(FTS_TABLE))
                .where(_fts_match(words))
                .order_by(literal_column("rowid").desc()).limit(limit))
    return select(Message.id).where(_pg_match(words)).order_by(Message.id.desc()).limit(limit)


def matching_conversations(dialect: str, query: str, conversation_ids: list[int]) -> Select | None:
    """SELECT of those of `conversation_ids` that hold a message matching
    `query` (None when the query has no words): whether a changed
    conversation belongs in a search's list, without running the search.
    The ids are given, not correlated: PostgreSQL would otherwise hash every
    match of a common word instead of looking at these few conversations."""
    words = terms(query)
    if not words:
        return None
    q = select(Message.conversation_id).where(Message.conversation_id.in_(conversation_ids))
    if dialect == "sqlite":
        # rowid = messages.id lets FTS5 look up each message instead of listing every match.
        fts = table(FTS_TABLE, column("rowid"))
        inside = select(literal_column("1")).select_from(fts).where(_fts_match(words), fts.c.rowid == Message.id)
        return q.where(inside.exists())
    return q.where(_pg_match(words))


def _fts_match(words: list[str]):
    fts = " ".join(f'"{w}"' for w in words) + "*"
    return text(f"{FTS_TABLE} MATCH :fts").bindparams(fts=fts)


def _pg_match(words: list[str]):
    tsq = " & ".join(words) + ":*"
    doc = literal_column(f"{Message.__tablename__}.{PG_COLUMN}")
    return doc.op("@@")(func.to_tsquery(literal_column("'simple'::regconfig"), tsq))


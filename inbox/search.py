"""Full-text search over messages: text, author and subject.

SQLite: an FTS5 table with `messages` as its external content, kept in step
by triggers. PostgreSQL: a GIN index over a `to_tsvector` expression. Both
are created by migration 0002 (Alembic cannot autogenerate them), and
`include_name` keeps them out of autogenerate's comparison with the models.

All words must match; the last one also as a prefix ("refu" finds
"refund"), since the list follows the search box as the agent types. Only
the last: a prefix query reads every term it covers, an exact one a single
list. Results are capped to the newest `MATCH_LIMIT` matching
messages, so a common word costs the same as a rare one; the inbox says so
when the cap is reached.
"""
from __future__ import annotations

import re

from sqlalchemy import func, literal_column, select, text
from sqlalchemy.sql import Select

from inbox.models import Message

MATCH_LIMIT = 1000
MAX_TERMS = 8

FTS_TABLE = "messages_fts"
# FTS5 keeps its index in these shadow tables (external content: no _content).
SQLITE_OBJECTS = {FTS_TABLE, *(f"{FTS_TABLE}_{s}" for s in ("data", "idx", "docsize", "config"))}
PG_INDEX = "ix_messages_search"
# The indexed document; the migration creates the index on exactly this.
# Punctuation becomes a space first, so PostgreSQL splits words the way FTS5's
# unicode61 tokenizer does (its parser would keep "ann@example.com" whole).
PG_DOCUMENT = ("to_tsvector('simple'::regconfig, regexp_replace(coalesce(subject, '') || ' ' || "
               "coalesce(author_name, '') || ' ' || coalesce(author_handle, '') || ' ' || "
               "left(coalesce(text, ''), 100000), '[^[:alnum:]]+', ' ', 'g'))")

_WORD = re.compile(r"[^\W_]+")


def include_name(name, type_, parent_names) -> bool:
    """Alembic hook: the search objects are not in the models on purpose."""
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
        fts = " ".join(f'"{w}"' for w in words) + "*"
        return (select(literal_column("rowid").label("id")).select_from(text(FTS_TABLE))
                .where(text(f"{FTS_TABLE} MATCH :fts").bindparams(fts=fts))
                .order_by(literal_column("rowid").desc()).limit(limit))
    tsq = " & ".join(words) + ":*"
    doc = literal_column(PG_DOCUMENT)
    return (select(Message.id).where(doc.op("@@")(func.to_tsquery(literal_column("'simple'::regconfig"), tsq)))
            .order_by(Message.id.desc()).limit(limit))


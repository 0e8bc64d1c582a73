"""Multi-row SQL for ingest's hot path, below SQLAlchemy's per-row work.

For each row of an executemany, SQLAlchemy builds a parameter dict and runs
every column's type processors in Python; for a message that costs more
than SQLite takes to store it (FTS5 trigger included). Ingest writes
hundreds of rows per batch, so here it writes plain SQL with positional
parameters, many rows per INSERT, and converts the two types that need it
exactly the way the models store them:

- `UTCDateTime`: aware UTC; on SQLite naive text in SQLAlchemy's format
  (`2026-10-01 10:55:22.000000`, so text comparisons order correctly);
- `JSON`: `json.dumps`, None included (stored as JSON `null`, as
  SQLAlchemy does for a JSON column).

tests/test_ingest.py checks both against SQLAlchemy's own processors, on
both databases. Only ingest uses this; everything else stays on the ORM.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, Table
from sqlalchemy.orm import Session

from inbox.models import UTCDateTime

UTC = timezone.utc
CHUNK = 500  # values per IN (...) list
# Bound parameters per statement: SQLite's default limit is 32766,
# PostgreSQL's protocol allows 65535.
MAX_PARAMS = {"sqlite": 32_000, "postgresql": 65_000}
MAX_ROWS = 1000  # rows per multi-row INSERT


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: use timezone-aware UTC")
    return value if value.tzinfo is UTC else value.astimezone(UTC)


def sqlite_time(value: datetime | None) -> str | None:
    if value is None:
        return None
    return _aware(value).replace(tzinfo=None).isoformat(" ", "microseconds")


def pg_time(value: datetime | None) -> datetime | None:
    return None if value is None else _aware(value)


def json_text(value: Any) -> str:
    return json.dumps(value)


def time_from_db(value: str | datetime | None) -> datetime | None:
    """A UTCDateTime column read with plain SQL: text on SQLite, timestamptz
    on PostgreSQL; aware UTC either way, as the model returns it."""
    if value is None:
        return None
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Bulk:
    """Plain-SQL statements on the session's connection (its transaction)."""

    def __init__(self, session: Session):
        self.conn = session.connection()
        self.dialect = self.conn.dialect.name
        self.sqlite = self.dialect == "sqlite"
        self.mark = "?" if self.sqlite else "%s"
        self.max_params = MAX_PARAMS.get(self.dialect, 30_000)
        self._quote = self.conn.dialect.identifier_preparer.quote
        self._time = sqlite_time if self.sqlite else pg_time

    def converter(self, table: Table, column: str) -> Callable[[Any], Any] | None:
        t = table.c[column].type
        if isinstance(t, UTCDateTime):
            return self._time
        if isinstance(t, JSON):
            return json_text
        return None

    def time(self, value: datetime | None):
        return self._time(value)

    def execute(self, sql: str, params: tuple | list = ()) -> list:
        result = self.conn.exec_driver_sql(sql.replace("?", self.mark) if not self.sqlite else sql, tuple(params))
        return result.fetchall() if result.returns_rows else []

    def executemany(self, sql: str, rows: list[tuple]) -> None:
        if rows:
            self.conn.exec_driver_sql(sql if self.sqlite else sql.replace("?", self.mark), rows)

    def select_in(self, sql: str, params: Sequence, values: Iterable) -> list:
        """Rows of `sql`, whose `{in}` stands for a list of `values` (sent in
        chunks); `params` fill the other placeholders, before the list."""
        values = list(values)
        rows: list = []
        for i in range(0, len(values), CHUNK):
            part = values[i:i + CHUNK]
            rows.extend(self.execute(sql.replace("{in}", ", ".join("?" * len(part))), (*params, *part)))
        return rows

    def insert(self, table: Table, rows: list[dict], returning: Sequence[str] = ()) -> list:
        """INSERT `rows` (dicts with the same keys) many per statement.
        Columns a row leaves out get their model default, as the ORM would
        give them (so a column added later cannot silently become NULL).
        Returns the `returning` columns of every row, in no particular order."""
        if not rows:
            return []
        given = list(rows[0])
        defaults = []
        for col in table.columns:
            if col.key in rows[0] or col.primary_key and col.autoincrement in (True, "auto") and col.default is None:
                continue
            if col.default is not None and col.default.is_scalar:
                defaults.append((col.key, col.default.arg))
            elif col.default is not None and col.default.is_callable:
                defaults.append((col.key, col.default.arg(None)))
        names = given + [k for k, _ in defaults]
        extra = tuple(v for _, v in defaults)
        convert = [self.converter(table, k) for k in names]
        extra = tuple(f(v) if f else v for f, v in zip(convert[len(given):], extra))
        head_convert = list(zip(given, convert[: len(given)]))
        plain = [k for k, f in head_convert if f is None]
        if len(plain) == len(given):
            values = [(*(r[k] for k in given), *extra) for r in rows]
        else:
            values = [(*(f(r[k]) if f else r[k] for k, f in head_convert), *extra) for r in rows]
        cols = ", ".join(self._quote(table.c[k].name) for k in names)
        one = "(" + ", ".join("?" * len(names)) + ")"
        tail = f" RETURNING {', '.join(self._quote(table.c[k].name) for k in returning)}" if returning else ""
        per = max(1, min(MAX_ROWS, self.max_params // len(names)))
        out: list = []
        for i in range(0, len(values), per):
            part = values[i:i + per]
            sql = f"INSERT INTO {self._quote(table.name)} ({cols}) VALUES {', '.join([one] * len(part))}{tail}"
            out.extend(self.execute(sql, [v for row in part for v in row]))
        return out

    def update(self, table: Table, columns: Sequence[str], rows: list[tuple], *, key: str = "id",
               where: str = "", fixed: dict[str, Any] | None = None) -> None:
        """UPDATE one row per tuple (the values of `columns`, then the key),
        as one executemany; `fixed` values are the same for every row."""
        if not rows:
            return
        convert = [self.converter(table, c) for c in columns]
        if any(convert):
            n = len(columns)
            rows = [tuple(f(v) if f else v for f, v in zip(convert, r[:n])) + tuple(r[n:]) for r in rows]
        sets = [f"{self._quote(table.c[c].name)} = ?" for c in columns]
        for c, v in (fixed or {}).items():
            sets.append(f"{self._quote(table.c[c].name)} = {'NULL' if v is None else self._literal(v)}")
        sql = f"UPDATE {self._quote(table.name)} SET {', '.join(sets)} WHERE {self._quote(table.c[key].name)} = ?"
        self.executemany(sql + (f" AND {where}" if where else ""), rows)

    @staticmethod
    def _literal(value: Any) -> str:
        if isinstance(value, str) and "'" not in value:
            return f"'{value}'"
        raise TypeError(f"Bulk.update: fixed value {value!r} must be a plain string or None")

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
    if value.tzinfo is not UTC:
        value = _aware(value)
    # "2026-10-01 10:55:22.000000+00:00" without its offset: one C call.
    return value.isoformat(" ", "microseconds")[:-6]


def pg_time(value: datetime | None) -> datetime | None:
    return None if value is None else _aware(value)


def json_text(value: Any) -> str:
    return "null" if value is None else json.dumps(value)


def time_from_db(value: str | datetime | None) -> datetime | None:
    """A UTCDateTime column read with plain SQL: text on SQLite, timestamptz
    on PostgreSQL; aware UTC either way, as the model returns it."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value + "+00:00")  # faster than .replace(tzinfo=UTC)
        except ValueError:  # not SQLAlchemy's format (it has an offset): as SQLAlchemy would read it
            parsed = datetime.fromisoformat(value)
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _raw_cursor():
    import psycopg

    return psycopg.RawCursor


class Bulk:
    """Plain-SQL statements on the session's connection (its transaction)."""

    def __init__(self, session: Session):
        self.conn = session.connection()
        self.dialect = self.conn.dialect.name
        self.sqlite = self.dialect == "sqlite"
        self.mark = "?" if self.sqlite else "%s"
        self.max_params = MAX_PARAMS.get(self.dialect, 30_000)
        self._quote = self.conn.dialect.identifier_preparer.quote
        # A UTCDateTime value in the database's form.
        self.time: Callable[[datetime | None], Any] = sqlite_time if self.sqlite else pg_time

    def converter(self, table: Table, column: str) -> Callable[[Any], Any] | None:
        t = table.c[column].type
        if isinstance(t, UTCDateTime):
            return self.time
        if isinstance(t, JSON):
            return json_text
        return None

    def execute(self, sql: str, params: tuple | list = ()) -> list:
        """One statement, `?` marking its parameters; its rows, if any."""
        if self.sqlite:
            result = self.conn.exec_driver_sql(sql, tuple(params))
        else:
            result = self._pg_execute(sql, tuple(params))
        return result.fetchall() if result.returns_rows else []

    def _pg_execute(self, sql: str, params: tuple):
        # psycopg turns %s placeholders into $1.. by parsing the query in
        # Python, and caches the result only for short queries: for a
        # multi-row INSERT that parsing costs more than the insert. Its
        # RawCursor takes $n as they are; it is swapped in for this one
        # statement so SQLAlchemy still runs it (and wraps its errors).
        parts = sql.split("?")
        numbered = "".join(f"{p}${n}" for n, p in enumerate(parts[:-1], 1)) + parts[-1]
        # Nor prepared: after a few runs psycopg would prepare it, and the
        # generic plan PostgreSQL then picks for an IN list of untyped
        # parameters is many times slower (duplicate checks went 15x slower).
        raw = self.conn.connection.driver_connection
        factory, threshold = raw.cursor_factory, raw.prepare_threshold
        raw.cursor_factory, raw.prepare_threshold = _raw_cursor(), None
        try:
            return self.conn.exec_driver_sql(numbered, params)
        finally:
            raw.cursor_factory, raw.prepare_threshold = factory, threshold

    def executemany(self, sql: str, rows: list[tuple]) -> None:
        """One short statement for many rows (psycopg caches its parsing)."""
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
        """INSERT `rows` (dicts with the same keys, Python values) many per
        statement. Columns a row leaves out get their model default, as the
        ORM would give them (so a column added later cannot silently become
        NULL). Returns the `returning` columns of every row, in no
        particular order."""
        if not rows:
            return []
        names = list(rows[0])
        convert = [(k, self.converter(table, k)) for k in names]
        if any(f for _, f in convert):
            values = [tuple(f(r[k]) if f else r[k] for k, f in convert) for r in rows]
        else:
            values = [tuple(r[k] for k in names) for r in rows]
        return self.insert_values(table, names, values, returning)

    def insert_values(self, table: Table, columns: Sequence[str], values: list[tuple],
                      returning: Sequence[str] = ()) -> list:
        """insert() for rows already in the database's form (see the module
        docstring): the caller converts times and JSON itself."""
        if not values:
            return []
        defaults = []
        for col in table.columns:
            if col.key in columns or col.default is None:
                continue  # given, or NULL / the database's own default
            if col.default.is_scalar:
                value = col.default.arg
            elif col.default.is_callable:
                value = col.default.arg(None)
            else:
                raise TypeError(f"Bulk: default of {table.name}.{col.name} is neither a value nor a function")
            f = self.converter(table, col.key)
            defaults.append((col.key, f(value) if f else value))
        if defaults:
            extra = tuple(v for _, v in defaults)
            values = [v + extra for v in values]
        names = [*columns, *(k for k, _ in defaults)]
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
               where: str = "", fixed: dict[str, Any] | None = None, converted: bool = False) -> None:
        """UPDATE one row per tuple (the values of `columns`, then the key),
        as one executemany; `fixed` values are the same for every row.
        `converted`: the values are already in the database's form."""
        if not rows:
            return
        convert = [self.converter(table, c) for c in columns]
        if any(convert) and not converted:
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

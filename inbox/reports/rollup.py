"""Keeping the report tables right as conversations change.

Writers (ingest, the outbox, workflow) call `mark(session, ids)` in their
transaction: one cheap row per conversation in report_dirty. `catch_up`
(the worker every few seconds, and every report read first) takes dirty
conversations in batches and runs `track` on them, which recomputes what each conversation
contributes (contributions.py), subtracts what it contributed before (kept
in report_conversations) and adds the difference to report_counts. Being a
difference, it is right however often it runs, and `rebuild` is nothing
but `track` over every conversation.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from inbox.models import (
    INBOUND, OUTBOUND, Account, Conversation, Message, ReportConversation, ReportCount, ReportDirty,
)
from inbox.reports import settings as settings_mod
from inbox.reports.contributions import (
    ALL_ACCOUNTS, ALL_AGENTS, BACKLOG, HISTOGRAMS, SPANS, Conv, Msg, contributions,
)

CHUNK = 500  # conversations per statement (bounds IN lists)
COUNTS = ReportCount.__table__
LEDGER = ReportConversation.__table__
KEY = ("metric", "cell", "span", "day", "account_id", "agent_id", "bucket")


DIRTY = ReportDirty.__table__


def mark(session: Session, conversation_ids: Iterable[int]) -> None:
    """Note that these conversations changed; `catch_up` brings their report
    contribution up to date later (seconds, or before the next report)."""
    ids = sorted(set(conversation_ids))
    if not ids:
        return
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert
    session.execute(upsert(DIRTY).on_conflict_do_nothing(), [{"conversation_id": i} for i in ids])


def catch_up(factory: sessionmaker[Session], *, chunk: int = 2000) -> int:
    """Track every dirty conversation, `chunk` per transaction; returns how
    many. Several processes may run it at once: on PostgreSQL each takes
    rows the others have not locked, and a conversation marked again while
    it is being tracked stays dirty for the next round (its new row waits
    for this transaction's delete), so nothing is missed."""
    done = 0
    while True:
        with factory.begin() as session:
            q = select(DIRTY.c.conversation_id).order_by(DIRTY.c.conversation_id).limit(chunk)
            if session.get_bind().dialect.name == "postgresql":
                q = q.with_for_update(skip_locked=True)
            ids = list(session.scalars(q))
            if not ids:
                return done
            session.execute(delete(DIRTY).where(DIRTY.c.conversation_id.in_(ids)))
            track(session, ids)
        done += len(ids)
        if len(ids) < chunk:
            return done


def pending(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(DIRTY)) or 0


def track(session: Session, conversation_ids: Iterable[int]) -> None:
    """Bring the report tables up to date for these conversations."""
    ids = sorted(set(conversation_ids))
    if not ids:
        return
    session.flush()  # the ORM changes of the caller (assignee, status) must be visible
    s = settings_mod.load(session)
    for i in range(0, len(ids), CHUNK):
        _track(session, ids[i:i + CHUNK], s)


def _track(session: Session, ids: Sequence[int], s) -> None:
    if session.get_bind().dialect.name == "postgresql":
        # Two transactions tracking one conversation must not both subtract
        # the same old contribution: the second waits for the first. NO KEY
        # UPDATE (what the caller's UPDATE of the row holds already), not
        # UPDATE: that would wait for writers merely inserting messages that
        # reference the row (KEY SHARE) while they wait for us: a deadlock.
        session.execute(select(Conversation.id).where(Conversation.id.in_(ids))
                        .order_by(Conversation.id).with_for_update(key_share=True))
    convs = {row.id: Conv(row.id, row.account_id, row.kind, row.assignee_id, row.status, row.closed_at,
                          row.spam, row.merged_into_id is not None)
             for row in session.execute(
                 select(Conversation.id, Conversation.account_id, Account.kind, Conversation.assignee_id,
                        Conversation.status, Conversation.closed_at, Conversation.spam, Conversation.merged_into_id)
                 .join(Account, Account.id == Conversation.account_id).where(Conversation.id.in_(ids)))}
    msgs: dict[int, list[Msg]] = defaultdict(list)
    for row in session.execute(
            select(Message.conversation_id, Message.id, Message.direction, Message.auto, Message.created_at,
                   Message.external_id.is_not(None), Message.user_id,
                   Message.corrected_label, Message.sentiment_label)
            .where(Message.conversation_id.in_(ids), Message.direction.in_((INBOUND, OUTBOUND)))):
        msgs[row[0]].append(Msg(row[1], row[2], row[3], row[4], bool(row[5]), row[6], row[7] or row[8]))
    old = {row.conversation_id: row for row in session.execute(
        select(LEDGER).where(LEDGER.c.conversation_id.in_(ids)))}

    delta: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    changed, ledger = [], []
    for cid in ids:
        before = old.get(cid)
        was = {tuple(c[:4]): (c[4], c[5]) for c in (before.counts or [])} if before else {}
        conv = convs.get(cid)
        new, sla = contributions(conv, msgs.get(cid, []), s) if conv else ({}, None)
        new = {k: tuple(v) for k, v in new.items()}
        row = _ledger_row(cid, conv, new, sla) if conv and (new or sla) else None
        if before is not None and row is not None and _same(before, row):
            continue  # nothing moved: the common case of a rebuild
        changed.append(cid)
        if row:
            ledger.append(row)
        if before is not None and conv is not None and before.account_id != conv.account_id:
            _spread(delta, before.account_id, {k: (-n, -t) for k, (n, t) in was.items()})
            was = {}
        diff = {k: (new.get(k, (0, 0))[0] - was.get(k, (0, 0))[0], new.get(k, (0, 0))[1] - was.get(k, (0, 0))[1])
                for k in new.keys() | was.keys()}
        _spread(delta, conv.account_id if conv else before.account_id, diff)
    _apply(session, delta)
    if changed:
        session.execute(delete(LEDGER).where(LEDGER.c.conversation_id.in_(changed)))
    if ledger:
        session.execute(insert(LEDGER), ledger)


def _ledger_row(cid: int, conv: Conv, new: dict, sla) -> dict:
    return {"conversation_id": cid, "account_id": conv.account_id,
            "agent_id": sla.agent_id if sla else 0, "first_day": sla.first_day if sla else None,
            "sla_state": sla.state if sla else None, "first_inbound_at": sla.first_inbound_at if sla else None,
            "sla_due_at": sla.due_at if sla else None, "first_response_at": sla.first_response_at if sla else None,
            "counts": sorted([*k, *v] for k, v in new.items())}


def _same(before, row: dict) -> bool:
    return all(getattr(before, k) == row[k] for k in row if k != "conversation_id")


def _spread(delta: dict, account_id: int, diff: dict) -> None:
    """A contribution counts in three cells (see ReportCount); histograms of
    the summed cells also in the aligned spans holding their day."""
    for (metric, agent, day, bucket), (n, total) in diff.items():
        if not n and not total:
            continue
        spans = SPANS if metric in HISTOGRAMS else (1,)
        for cell, acc, ag in ((0, account_id, agent), (1, account_id, ALL_AGENTS), (2, ALL_ACCOUNTS, agent)):
            # Cell 0 serves only filtered reports, which read few rows anyway.
            for span in spans if cell else (1,):
                c = delta[(metric, cell, span, day - day % span, acc, ag, bucket)]
                c[0] += n
                c[1] += total


def _apply(session: Session, delta: dict) -> None:
    # Sorted, so concurrent writers take row locks in the same order. Plain
    # driver executemany: SQLAlchemy's per-row parameter handling cost more
    # than the writes themselves.
    rows = [(*k, n, t) for k, (n, t) in sorted(delta.items()) if n or t]
    if not rows:
        return
    conn = session.connection()
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    columns = ", ".join(KEY)
    conn.exec_driver_sql(
        f"INSERT INTO report_counts ({columns}, n, total) VALUES ({', '.join([mark] * (len(KEY) + 2))}) "
        f"ON CONFLICT ({columns}) DO UPDATE SET n = report_counts.n + excluded.n, "
        f"total = report_counts.total + excluded.total", rows)
    # A cell that went back to nothing is dropped, so reports never read dead
    # rows. Only a decrease can empty a cell, or an increase of a backlog
    # change (those may be negative).
    emptied = [r[:len(KEY)] for r in rows if r[-2] < 0 or r[-1] < 0 or r[0] == BACKLOG]
    if emptied:
        match = " AND ".join(f"{k} = {mark}" for k in KEY)
        conn.exec_driver_sql(f"DELETE FROM report_counts WHERE {match} AND n = 0 AND total = 0", emptied)


def rebuild(factory: sessionmaker[Session], *, chunk: int = 5000,
            progress: Callable[[int, int], None] | None = None) -> int:
    """Recompute every conversation's contribution, `chunk` conversations per
    transaction (writers are never held up for long). Returns how many."""
    with factory() as session:
        ids = sorted(set(session.scalars(select(Conversation.id)))
                     | set(session.scalars(select(LEDGER.c.conversation_id))))
    for i in range(0, len(ids), chunk):
        with factory.begin() as session:
            track(session, ids[i:i + chunk])
        if progress:
            progress(min(i + chunk, len(ids)), len(ids))
    return len(ids)


def apply_settings(factory: sessionmaker[Session], config, *,
                   progress: Callable[[int, int], None] | None = None) -> bool:
    """Store the config's SLA settings; rebuild the rollups if they changed.
    Call once at start-up (after the accounts are synced). True if rebuilt."""
    with factory.begin() as session:
        changed = settings_mod.store(session, settings_mod.from_config_in(session, config))
    if changed:
        rebuild(factory, progress=progress)
    return changed

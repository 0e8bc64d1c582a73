"""Backlog (conversations awaiting reply) over time, by age, and now.

The rollup stores backlog changes, not levels: +1 on the day an awaiting
conversation enters an age bucket, -1 on the day it leaves (see
contributions._backlog), and the number awaiting today per cell
(`awaiting`). The level at the end of day d is then what is awaiting in the
end minus every change after d, which reads only the rows from the start of
the period on, however long the history.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import Integer, case, cast, func, literal, literal_column, select, true, union_all

from inbox.models import CLOSED, Conversation
from inbox.reports.contributions import AGE_NAMES, AGES, AWAITING, BACKLOG
from inbox.reports.scope import COUNTS, Scope


def series(session, scope: Scope) -> dict[int, list[int]]:
    """day ordinal -> [awaiting per age bucket] at the end of each day."""
    c = COUNTS.c
    days = select(cast(literal(scope.a), Integer).label("d")).cte("days", recursive=True)
    days = days.union_all(select(days.c.d + 1).where(days.c.d < scope.b))
    ages = union_all(*[select(literal_column(str(b)).label("age")) for b in range(len(AGES))]).cte("ages")
    changes = (select(c.day, c.bucket, func.sum(c.n).label("n"))
               .where(c.metric == BACKLOG, scope.account_cells(), c.span == 1, c.day > scope.a)
               .group_by(c.day, c.bucket).cte("changes"))
    in_the_end = (select(func.coalesce(func.sum(c.n), 0))
                  .where(c.metric == AWAITING, scope.account_cells(), c.span == 1).scalar_subquery())
    later = (select(func.coalesce(func.sum(changes.c.n), 0))
             .where(changes.c.day > days.c.d, changes.c.bucket == ages.c.age).scalar_subquery())
    oldest = len(AGES) - 1  # everything still awaiting ends up in the oldest bucket
    level = case((ages.c.age == oldest, in_the_end), else_=0) - later
    q = select(days.c.d, ages.c.age, level).select_from(days.join(ages, true()))
    out: dict[int, list[int]] = {}
    for d, age, n in session.execute(q):
        out.setdefault(d, [0] * len(AGES))[age] = int(n)
    return out


def now(session, scope: Scope, awaiting_total: int, at: datetime) -> dict:
    """Awaiting reply right now, by age. Only the last day's conversations are
    read one by one (through the awaiting index); older ones are the rest of
    the rollup's total."""
    recent = at - timedelta(seconds=AGES[-1][0])
    since = Conversation.awaiting_since
    age = case(*[(since > at - timedelta(seconds=hi), b) for b, (_, hi) in enumerate(AGES[:-1])],
               else_=len(AGES) - 2)
    q = (select(age, func.count()).where(
        Conversation.awaiting_reply.is_(True), Conversation.status != CLOSED, since > recent,
        scope.accounts_of(Conversation.account_id), scope.assignee_of(Conversation.assignee_id))
         .group_by(age))
    counts = [0] * len(AGES)
    for b, n in session.execute(q):
        counts[b] = n
    counts[-1] = max(0, awaiting_total - sum(counts[:-1]))
    return {"total": sum(counts), **dict(zip(AGE_NAMES, counts))}


def as_rows(levels: dict[int, list[int]]) -> list[dict]:
    return [{"day": date.fromordinal(d).isoformat(), "total": sum(v), **dict(zip(AGE_NAMES, v))}
            for d, v in sorted(levels.items())]


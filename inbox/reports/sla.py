"""First-response SLA: what is still pending, and the list of breaches.

A conversation with no response yet is counted as missed in the rollup the
moment it arrives, because nothing writes when its deadline passes. Until
then it is *pending*: the few whose deadline is still ahead are found
through the (sla_state, sla_due_at) index and taken back out of "missed".
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, union_all

from inbox.models import Conversation, ReportConversation
from inbox.reports.scope import Scope

LEDGER = ReportConversation.__table__


def _filters(scope: Scope):
    c = LEDGER.c
    out = [c.first_day.between(scope.a, scope.b), scope.accounts_of(c.account_id)]
    if scope.agent_id is not None:
        out.append(c.agent_id == scope.agent_id)
    return out


def pending(session, scope: Scope, now: datetime) -> list[tuple[int, int, int]]:
    """(account_id, agent_id, count) of unanswered conversations whose deadline is ahead."""
    c = LEDGER.c
    q = (select(c.account_id, c.agent_id, func.count())
         .where(c.sla_state == "open", c.sla_due_at > now, *_filters(scope))
         .group_by(c.account_id, c.agent_id))
    return [tuple(r) for r in session.execute(q)]


def breaches(session, scope: Scope, now: datetime, *, limit: int | None = 100) -> list[dict]:
    """Conversations whose first response came after the deadline, or has not
    come and the deadline has passed; newest first. Each kind is read newest
    first along (sla_state, first_inbound_at), so only `limit` rows are read."""
    c = LEDGER.c
    start, end = scope.instants()
    where = [c.first_inbound_at >= start, c.first_inbound_at < end, scope.accounts_of(c.account_id)]
    if scope.agent_id is not None:
        where.append(c.agent_id == scope.agent_id)
    newest = (c.first_inbound_at.desc(), c.conversation_id.desc())
    parts = [select(c).where(c.sla_state == "missed", *where).order_by(*newest),
             select(c).where(c.sla_state == "open", c.sla_due_at <= now, *where).order_by(*newest)]
    if limit is not None:
        parts = [p.limit(limit) for p in parts]
    both = union_all(*[p.subquery().select() for p in parts]).subquery()
    q = (select(both.c.conversation_id, both.c.account_id, both.c.agent_id, both.c.first_inbound_at,
                both.c.sla_due_at, both.c.first_response_at, Conversation.subject)
         .join(Conversation, Conversation.id == both.c.conversation_id)
         .order_by(both.c.first_inbound_at.desc(), both.c.conversation_id.desc()))
    if limit is not None:
        q = q.limit(limit)
    rows = []
    for cid, account_id, agent_id, first_in, due, answered, subject in session.execute(q):
        late_by = (answered or now) - due
        rows.append({"conversation_id": cid, "account_id": account_id, "agent_id": agent_id,
                     "subject": subject, "received_at": first_in, "due_at": due, "answered_at": answered,
                     "late_seconds": round(late_by.total_seconds())})
    return rows

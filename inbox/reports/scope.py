"""A report's period and filters, and which rollup cells answer it.

report_counts holds every contribution three times (see ReportCount): per
account and agent, per account for all agents, per agent for all accounts.
Account-side figures (overall, per channel, per account) read the
all-agents cells unless an agent is chosen; per-agent figures read the
all-accounts cells unless accounts are chosen. Either way a cell is summed
at most once per figure.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import and_, true

from inbox.models import ReportCount
from inbox.reports.contributions import SPANS, UNASSIGNED

COUNTS = ReportCount.__table__


class ReportError(Exception):
    """The report cannot be made as asked; the message says why and what to do."""


@dataclass(frozen=True)
class Scope:
    since: date
    until: date
    account_ids: tuple[int, ...] | None  # None: every account
    agent_id: int | None  # a user id, UNASSIGNED (0) or OUTSIDE (-2); None: everyone
    timezone: str = "UTC"  # of the report's days

    @property
    def a(self) -> int:
        return self.since.toordinal()

    @property
    def b(self) -> int:
        return self.until.toordinal()

    def account_cells(self, c=COUNTS.c):
        agent = true() if self.agent_id is None else c.agent_id == self.agent_id
        return and_(c.cell == self.account_cell, self._accounts(c), agent)

    def agent_cells(self, c=COUNTS.c):
        agent = true() if self.agent_id is None else c.agent_id == self.agent_id
        return and_(c.cell == self.agent_cell, self._accounts(c), agent)

    def _accounts(self, c):
        return true() if self.account_ids is None else c.account_id.in_(self.account_ids)

    def days(self, c=COUNTS.c):
        """Rows of single days in the period."""
        return and_(c.span == 1, c.day.between(self.a, self.b))

    def units(self, cell: int) -> list[tuple[int, int, int]]:
        """(span, first, last start day) ranges of the histogram rows that tile
        the period: summed cells have spans, the per-account-and-agent cell
        single days only."""
        if cell == 0:
            return [(1, self.a, self.b)]
        return [(span, day, day) for span, day in cover(self.a, self.b)]

    @property
    def account_cell(self) -> int:
        return 1 if self.agent_id is None else 0

    @property
    def agent_cell(self) -> int:
        return 2 if self.account_ids is None else 0

    def instants(self) -> tuple[datetime, datetime]:
        """The period as UTC instants: from the first local midnight to the last."""
        tz = ZoneInfo(self.timezone)
        start = datetime.combine(self.since, time(0), tzinfo=tz)
        end = datetime.combine(self.until + timedelta(days=1), time(0), tzinfo=tz)
        return start.astimezone(timezone.utc), end.astimezone(timezone.utc)

    def accounts_of(self, column):
        """The account filter on a table with an account_id column."""
        return true() if self.account_ids is None else column.in_(self.account_ids)

    def assignee_of(self, column):
        """The agent filter on conversations.assignee_id."""
        if self.agent_id is None:
            return true()
        return column.is_(None) if self.agent_id == UNASSIGNED else column == self.agent_id


def cover(a: int, b: int) -> list[tuple[int, int]]:
    """Aligned spans (span, first day) that tile days a..b: at most three of
    each size per end, so ~12 for 90 days instead of 90."""
    out, d = [], a
    while d <= b:
        span = next(n for n in reversed(SPANS) if d % n == 0 and d + n - 1 <= b)
        out.append((span, d))
        d += span
    return out

"""Hand-built report scenarios: a small customer-care desk driven through the
real ingest, workflow and outbox functions, so the report reads what the
inbox actually stored. Every scenario runs on SQLite and PostgreSQL (the
`factory` fixture of tests/conftest.py)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from inbox import workflow as wf
from inbox.channel import Batch, InboundItem, SentRef
from inbox.config import parse
from inbox.ingest import store_batch
from inbox.models import CLOSED, Account, Conversation, User
from inbox.outbox import mark_sent
from inbox.reports import build_report, catch_up, track
from inbox.reports.rollup import apply_settings

UTC = timezone.utc
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday
DAY = date(2026, 11, 2)


def at(minutes: float = 0, *, days: int = 0, hours: float = 0) -> datetime:
    return T0 + timedelta(days=days, hours=hours, minutes=minutes)


class Desk:
    """Accounts, agents and the things that happen in an inbox, each one call."""

    def __init__(self, factory, make_account, make_user):
        self.factory = factory
        self._make_account = make_account
        self._make_user = make_user
        self._n = 0

    # --- setup ---------------------------------------------------------------
    def account(self, name: str = "acme-x", kind: str = "x") -> Account:
        return self._make_account(name, kind)

    def agent(self, name: str, role: str = "agent") -> User:
        return self._make_user(f"{name.split()[0].lower()}@example.com", role, name)

    def configure(self, sla: dict | None = None, accounts: list[dict] | None = None) -> None:
        """Store [sla] settings (as in replydesk.toml) and rebuild the rollups."""
        data = {"sla": sla or {}, "accounts": accounts or []}
        config = parse(data, "replydesk.toml", {k: [] for k in ("x", "reddit", "email", "maildir")}, env={})
        apply_settings(self.factory, config)

    # --- what customers and the channel do -----------------------------------
    def customer(self, account: Account, when: datetime, thread: str, *, author: str = "c1", auto=None,
                 text: str = "my order never arrived") -> str:
        return self._ingest(account, InboundItem(
            external_id=self._ext(), created_at=when, text=text, author_id=author, author_handle=f"@{author}",
            thread_key=thread, auto=auto))

    def outside_reply(self, account: Account, when: datetime, thread: str) -> str:
        """Our account answered on the channel itself, not through Replydesk."""
        return self._ingest(account, InboundItem(
            external_id=self._ext(), created_at=when, text="Answered from the phone app", author_id="brand",
            thread_key=thread, from_self=True))

    def _ingest(self, account: Account, item: InboundItem) -> str:
        with self.factory.begin() as s:
            store_batch(s, s.merge(account), Batch(items=[item]))
        return item.external_id

    def _ext(self) -> str:
        self._n += 1
        return f"m{self._n}"

    # --- what staff do -------------------------------------------------------
    def conv(self, thread: str) -> int:
        with self.factory() as s:
            return s.scalar(select(Conversation.id).where(Conversation.thread_key == thread))

    def reply(self, thread: str, by: User, when: datetime, *, deliver: bool = True) -> None:
        """Queue a reply and let the channel confirm it was posted at `when`."""
        with self.factory.begin() as s:
            conv = wf.get_conversation(s, self.conv(thread))
            r = wf.queue_reply(s, conv, "Sorry about that, we are on it.", by=s.merge(by), confirm_collision=True)
            if deliver:
                mark_sent(s, r.id, SentRef(external_id=self._ext(), created_at=when))

    def note(self, thread: str, by: User) -> None:
        with self.factory.begin() as s:
            wf.add_note(s, wf.get_conversation(s, self.conv(thread)), "Checked with the warehouse.", by=s.merge(by))

    def assign(self, thread: str, to: User | None) -> None:
        with self.factory.begin() as s:
            wf.assign(s, wf.get_conversation(s, self.conv(thread)), s.merge(to) if to else None, by=None)

    def close(self, thread: str, when: datetime) -> None:
        # set_status stamps closed_at with the clock; give it the scenario's.
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(wf, "utcnow", lambda: when)
            with self.factory.begin() as s:
                wf.set_status(s, wf.get_conversation(s, self.conv(thread)), CLOSED, by=None)

    def spam(self, thread: str) -> None:
        with self.factory.begin() as s:
            wf.set_status(s, wf.get_conversation(s, self.conv(thread)), CLOSED, by=None, spam=True)

    def label(self, ext: str, label: str, by: User) -> None:
        """A staff correction of a message's sentiment (what the mix counts first)."""
        from inbox.models import Message

        with self.factory.begin() as s:
            msg = s.scalar(select(Message).where(Message.external_id == ext))
            wf.correct_sentiment(s, msg, label, by=s.merge(by))

    # --- reading -------------------------------------------------------------
    def report(self, since: date = DAY, until: date | None = None, *, now: datetime | None = None, **kw) -> dict:
        catch_up(self.factory)
        with self.factory() as s:
            return build_report(s, since=since, until=until or since, now=now or at(days=30), **kw)

    def rebuild_matches(self) -> bool:
        """The rollups kept step by step equal a rebuild from scratch."""
        from inbox.models import ReportConversation, ReportCount

        def snapshot():
            with self.factory() as s:
                counts = sorted(tuple(r) for r in s.execute(select(ReportCount.__table__)))
                ledger = sorted((r.conversation_id, r.sla_state, r.agent_id) for r in s.execute(
                    select(ReportConversation.__table__)))
                return counts, ledger

        before = snapshot()
        with self.factory.begin() as s:
            s.execute(ReportCount.__table__.delete())
            s.execute(ReportConversation.__table__.delete())
            track(s, s.scalars(select(Conversation.id)).all())
        return snapshot() == before


@pytest.fixture
def desk(factory, make_account, make_user) -> Desk:
    return Desk(factory, make_account, make_user)


"""Channel accounts as data: which exist (from the config) and their health.

Health is what an admin sees: the last error, how many auth failures, when
the account may be polled again after a rate limit, the last good poll.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from inbox.channel import ChannelError
from inbox.config import AccountConfig
from inbox.models import HEALTH_AUTH, HEALTH_DOWN, HEALTH_OK, HEALTH_RATE, Account, utcnow

# Consecutive transient failures before an account is shown as unreachable;
# one timeout is not worth a banner in every agent's screen.
UNREACHABLE_AFTER = 3


def sync_accounts(session: Session, accounts: list[AccountConfig]) -> dict[str, Account]:
    """Make the accounts table match the config: new accounts are added,
    accounts no longer configured are disabled (their history stays)."""
    rows = {a.name: a for a in session.scalars(select(Account))}
    missing = [cfg for cfg in accounts if cfg.name not in rows]
    if missing:
        # Several workers starting together may all find an account missing:
        # whoever inserts first wins, the others take its row, none fails.
        insert = (postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert)(Account)
        for cfg in missing:
            session.execute(insert.values(name=cfg.name, kind=cfg.kind, enabled=cfg.enabled)
                            .on_conflict_do_nothing(index_elements=["name"]))
        rows = {a.name: a for a in session.scalars(select(Account))}
    for cfg in accounts:
        row = rows[cfg.name]
        row.kind, row.enabled = cfg.kind, cfg.enabled
    configured = {a.name for a in accounts}
    for name, row in rows.items():
        if name not in configured:
            row.enabled = False
    session.flush()
    return {name: row for name, row in rows.items() if name in configured}


def account_by_name(session: Session, name: str) -> Account:
    row = session.scalar(select(Account).where(Account.name == name))
    if row is None:
        raise LookupError(f"no account named {name!r} in the database; run `replydesk init` after adding it to the config")
    return row


def record_success(session: Session, account_id: int, *, at: datetime | None = None) -> None:
    at = at or utcnow()
    session.execute(update(Account).where(Account.id == account_id).values(
        health=HEALTH_OK, health_reason=None, last_poll_at=at, last_success_at=at,
        consecutive_failures=0, auth_failures=0, rate_limited_until=None))


def record_failure(session: Session, account_id: int, err: ChannelError, *, at: datetime | None = None) -> Account:
    """Write what went wrong where staff can see it; returns the account."""
    at = at or utcnow()
    acc = session.get(Account, account_id, with_for_update=False)
    acc.last_poll_at = at
    acc.last_error = str(err)[:2000]
    acc.last_error_at = at
    acc.consecutive_failures += 1
    if err.kind == "auth_failed":
        acc.auth_failures += 1
        acc.health, acc.health_reason = HEALTH_AUTH, f"Sign-in refused: {err}"
    elif err.kind == "rate_limited":
        reset = getattr(err, "reset_at", None) or at + timedelta(minutes=1)
        acc.rate_limited_until = reset
        acc.health, acc.health_reason = HEALTH_RATE, f"Rate limited until {reset:%Y-%m-%d %H:%M:%S} UTC"
    elif acc.consecutive_failures >= UNREACHABLE_AFTER:
        acc.health, acc.health_reason = HEALTH_DOWN, f"Unreachable ({acc.consecutive_failures} failures in a row): {err}"
    return acc


def set_push_status(session: Session, account_id: int, status: str | None) -> None:
    session.execute(update(Account).where(Account.id == account_id).values(push_status=status))


def add_note(session: Session, account_id: int, note: str) -> None:
    session.execute(update(Account).where(Account.id == account_id).values(note=note[:2000], note_at=utcnow()))


def set_progress(session: Session, account_id: int, progress: str | None) -> None:
    session.execute(update(Account).where(Account.id == account_id).values(sync_progress=progress))


def unhealthy(session: Session) -> list[Account]:
    """Accounts that need a banner: auth failed, rate limited now, unreachable."""
    now = utcnow()
    rows = session.scalars(select(Account).where(Account.enabled.is_(True), Account.health.in_(
        (HEALTH_AUTH, HEALTH_RATE, HEALTH_DOWN))).order_by(Account.name)).all()
    return [a for a in rows if a.health != HEALTH_RATE or (a.rate_limited_until and a.rate_limited_until > now)]

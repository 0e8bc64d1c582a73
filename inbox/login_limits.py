"""Sign-in rate limiting that holds across web processes: failed attempts
are rows in the database, counted per email and per client address over a
sliding window."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from inbox.models import LoginAttempt, utcnow

WINDOW = timedelta(minutes=15)
PER_EMAIL = 5  # guessing one person's password
PER_ADDRESS = 30  # trying many people from one place (an office NAT shares an address)


def _keys(email: str, address: str | None) -> list[tuple[str, int]]:
    keys = [(f"email:{email.strip().lower()}"[:400], PER_EMAIL)]
    if address:
        keys.append((f"ip:{address}"[:400], PER_ADDRESS))
    return keys


def retry_after(session: Session, email: str, address: str | None, *, now: datetime | None = None) -> int:
    """Seconds until another attempt is allowed; 0 when it is allowed now."""
    now = now or utcnow()
    wait = 0
    for key, limit in _keys(email, address):
        times = session.scalars(select(LoginAttempt.at).where(LoginAttempt.key == key, LoginAttempt.at > now - WINDOW)
                                .order_by(LoginAttempt.at.desc()).limit(limit)).all()
        if len(times) >= limit:
            wait = max(wait, int((times[-1] + WINDOW - now).total_seconds()) + 1)
    return wait


def failed(session: Session, email: str, address: str | None, *, now: datetime | None = None) -> None:
    now = now or utcnow()
    for key, _ in _keys(email, address):
        session.add(LoginAttempt(key=key, at=now))
    session.execute(delete(LoginAttempt).where(LoginAttempt.at < now - 2 * WINDOW))


def succeeded(session: Session, email: str) -> None:
    """A correct password clears that person's failures (not the address's)."""
    session.execute(delete(LoginAttempt).where(LoginAttempt.key == f"email:{email.strip().lower()}"[:400]))


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(LoginAttempt)) or 0

"""Who else has a conversation open, and who is typing in it.

Rows with a heartbeat in the database, so every web process sees every
viewer; a row older than `GONE_AFTER` means the page was closed.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from inbox.models import Presence, User, utcnow

HEARTBEAT_SECONDS = 4  # how often an open conversation page reports itself
GONE_AFTER = timedelta(seconds=12)  # three missed heartbeats
TYPING_FOR = timedelta(seconds=6)  # a keystroke shows "typing" this long


@dataclass(frozen=True, slots=True)
class Viewer:
    user_id: int
    name: str
    typing: bool


def beat(session: Session, user_id: int, conversation_id: int, *, typing: bool = False,
         now: datetime | None = None) -> None:
    """Record that `user_id` has the conversation open (and is typing)."""
    now = now or utcnow()
    # An upsert: two tabs of one person beat at the same moment without a
    # unique-key error.
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert

        # A heartbeat lost in a crash is worth nothing (the next comes in 4 s):
        # its commit need not wait for the disk.
        session.execute(text("SET LOCAL synchronous_commit TO OFF"))
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert
    stmt = upsert(Presence).values(user_id=user_id, conversation_id=conversation_id, seen_at=now,
                                   typing_at=now if typing else None)
    changes = {"seen_at": stmt.excluded.seen_at, **({"typing_at": stmt.excluded.typing_at} if typing else {})}
    session.execute(stmt.on_conflict_do_update(index_elements=[Presence.user_id, Presence.conversation_id],
                                               set_=changes))


def leave(session: Session, user_id: int, conversation_id: int) -> None:
    session.execute(delete(Presence).where(Presence.user_id == user_id, Presence.conversation_id == conversation_id))


def others(session: Session, conversation_id: int, user_id: int, *, now: datetime | None = None) -> list[Viewer]:
    now = now or utcnow()
    rows = session.execute(
        select(Presence.user_id, User.name, User.email, Presence.typing_at).join(User, User.id == Presence.user_id)
        .where(Presence.conversation_id == conversation_id, Presence.user_id != user_id,
               Presence.seen_at >= now - GONE_AFTER).order_by(User.name))
    return [Viewer(uid, name or email, typing_at is not None and typing_at >= now - TYPING_FOR)
            for uid, name, email, typing_at in rows]


def prune(session: Session, *, now: datetime | None = None) -> int:
    """Forget viewers long gone (called now and then, not on every beat)."""
    now = now or utcnow()
    return session.execute(delete(Presence).where(Presence.seen_at < now - timedelta(hours=1))).rowcount

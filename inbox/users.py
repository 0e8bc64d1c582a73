"""Staff accounts: agents, managers, admins."""
from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from inbox.models import ROLES, User, utcnow
from inbox.workflow import WorkflowError, audit

MIN_PASSWORD = 10
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def add_user(session: Session, email: str, password: str, *, role: str = "agent", name: str = "",
             by: User | None = None) -> User:
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise WorkflowError(f"{email!r} is not an email address.")
    if role not in ROLES:
        raise WorkflowError(f"Unknown role {role!r}; expected one of {', '.join(ROLES)}.")
    if session.scalar(select(User).where(User.email == email)):
        raise WorkflowError(f"A user {email} already exists.")
    _check_password(password)
    user = User(email=email, name=name.strip(), role=role, password_hash=generate_password_hash(password))
    session.add(user)
    session.flush()
    audit(session, "user_added", user=by, email=email, role=role)
    return user


def set_password(session: Session, user: User, password: str, *, by: User | None = None) -> None:
    _check_password(password)
    user.password_hash = generate_password_hash(password)
    audit(session, "password_changed", user=by, email=user.email)


def set_role(session: Session, user: User, role: str, *, by: User | None) -> None:
    if role not in ROLES:
        raise WorkflowError(f"Unknown role {role!r}; expected one of {', '.join(ROLES)}.")
    if user.role == "admin" and role != "admin" and _admins(session) <= 1:
        raise WorkflowError("This is the last admin; make someone else admin first.")
    user.role = role
    audit(session, "role_changed", user=by, email=user.email, role=role)


def set_active(session: Session, user: User, active: bool, *, by: User | None) -> None:
    if not active and user.role == "admin" and _admins(session) <= 1:
        raise WorkflowError("This is the last admin; it cannot be deactivated.")
    user.active = active
    audit(session, "user_activated" if active else "user_deactivated", user=by, email=user.email)


def authenticate(session: Session, email: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or not user.active:
        # Same work as a real check, so timing does not reveal which emails exist.
        check_password_hash(_DUMMY, password)
        return None
    if not check_password_hash(user.password_hash, password):
        return None
    user.last_login_at = utcnow()
    return user


def _admins(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User).where(User.role == "admin", User.active.is_(True)))


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise WorkflowError(f"The password must be at least {MIN_PASSWORD} characters.")


_DUMMY = generate_password_hash("replydesk-timing-equaliser")

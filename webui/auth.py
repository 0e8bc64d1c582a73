"""Signing in and out, and the role checks every other blueprint uses.

Roles grow: agent (the inbox), manager (+ reports), admin (+ accounts,
users, canned replies). Failed sign-ins are limited per email and per
client address in the database (inbox.login_limits), so the limit holds
however many web processes there are.
"""
from __future__ import annotations

import threading
import time
from functools import wraps
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from inbox import login_limits
from inbox.models import User
from inbox.users import authenticate
from webui.app import web

bp = Blueprint("auth", __name__)

# Endpoints reachable without signing in; everything else needs a login
# (checked for the whole URL map by the tests).
PUBLIC = {"auth.login", "static"}


class Staff:
    """A signed-in `inbox.models.User` as Flask-Login wants it; everything
    else (id, name, role, has_role) is the user's own, so views pass
    `current_user` straight to inbox functions as the acting user."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, user):
        self.user = user

    @property
    def is_active(self) -> bool:
        return bool(self.user.active)

    def get_id(self) -> str:
        return str(self.user.id)

    def __getattr__(self, name):
        return getattr(self.user, name)


# Every request needs its signed-in user, and the pages poll every second:
# each process keeps the users it loaded for USER_FRESH_SECONDS instead of
# reading the row on every request. A change made here (role, deactivation,
# sign-out) takes effect at once in this process (`forget`), in the other
# web processes within USER_FRESH_SECONDS.
USER_FRESH_SECONDS = 2.0
_users_lock = threading.Lock()


def signed_in(user_id: str) -> Staff | None:
    """Flask-Login's user loader: the active user with this id, or None."""
    if not user_id.isdigit():
        return None
    cache = current_app.extensions.setdefault("replydesk_users", {})
    with _users_lock:
        hit = cache.get(user_id)
    if hit is not None and time.monotonic() - hit[0] < USER_FRESH_SECONDS:
        user = hit[1]
    else:
        # A session of its own, closed at once: the cached row is detached,
        # complete, and never attached to a request's session (threads share it).
        with web().reader() as s:
            user = s.get(User, int(user_id))
        with _users_lock:
            cache[user_id] = (time.monotonic(), user)
    return Staff(user) if user is not None and user.active else None


def forget(user_id: int) -> None:
    """Drop a user from this process's cache (after a change to the user)."""
    with _users_lock:
        current_app.extensions.setdefault("replydesk_users", {}).pop(str(user_id), None)


def role_required(role: str):
    """Decorator: the signed-in user must have `role` or a higher one."""
    def decorate(view):
        @wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            if not current_user.has_role(role):
                abort(403)
            return view(*args, **kwargs)
        return wrapper
    return decorate


def _next_url(target: str | None) -> str:
    """Only a path on this site: an open redirect would help phishing."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("inbox.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("inbox.index"))
    if request.method == "GET":
        return render_template("auth/login.html", next=request.args.get("next", ""))
    email = request.form.get("email", "").strip()
    password = request.form.get("password", "")
    address = request.remote_addr
    with web().factory.begin() as s:
        wait = login_limits.retry_after(s, email, address)
        if wait:
            minutes = max(1, round(wait / 60))
            flash(f"Too many failed sign-ins. Try again in about {minutes} minute{'s' if minutes > 1 else ''}.",
                  "error")
            return render_template("auth/login.html", email=email, next=request.form.get("next", "")), 429
        user = authenticate(s, email, password)
        if user is None:
            login_limits.failed(s, email, address)
        else:
            login_limits.succeeded(s, email)
    if user is None:
        flash("That email and password do not match an active user.", "error")
        return render_template("auth/login.html", email=email, next=request.form.get("next", "")), 401
    login_user(Staff(user))
    return redirect(_next_url(request.form.get("next")))


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    forget(current_user.id)
    logout_user()
    flash("Signed out.", "info")
    return redirect(url_for("auth.login"))

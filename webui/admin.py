"""Admin pages: users and roles, canned replies, account health, audit log.

Account credentials live in the config file and are never read here: the
accounts page shows only what the database knows (health, last error as the
runner redacted it, poll times, push status, sync progress).
"""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from inbox import conversation_view, users, workflow
from inbox.models import ROLES, Account, AuditEvent, CannedReply, User
from inbox.reply_rules import LIMITS
from inbox.workflow import WorkflowError
from webui.app import read_session, web
from webui.auth import forget, role_required

bp = Blueprint("admin", __name__, url_prefix="/admin")

AUDIT_PAGE = 200


def _done(endpoint: str, fn, message: str | None = None):
    try:
        with web().factory.begin() as s:
            fn(s)
        if message:
            flash(message, "info")
    except WorkflowError as e:
        flash(str(e), "error")
    return redirect(url_for(endpoint))


@bp.route("/")
@role_required("admin")
def index():
    return redirect(url_for(".accounts"))


@bp.route("/accounts")
@role_required("admin")
def accounts():
    rows = read_session().scalars(select(Account).order_by(Account.name)).all()
    return render_template("admin/accounts.html", accounts=rows)


@bp.route("/users")
@role_required("admin")
def users_page():
    rows = read_session().scalars(select(User).order_by(User.email)).all()
    return render_template("admin/users.html", users=rows, roles=ROLES)


@bp.route("/users", methods=["POST"])
@role_required("admin")
def add_user():
    f = request.form
    return _done(".users_page", lambda s: users.add_user(s, f.get("email", ""), f.get("password", ""),
                                                         role=f.get("role", "agent"), name=f.get("name", ""),
                                                         by=current_user),
                 f"Added {f.get('email', '').strip().lower()}.")


def _target(s, user_id: int) -> User:
    user = s.get(User, user_id)
    if user is None:
        raise WorkflowError("That user does not exist.")
    return user


@bp.route("/users/<int:user_id>/role", methods=["POST"])
@role_required("admin")
def set_role(user_id: int):
    role = request.form.get("role", "")
    done = _done(".users_page", lambda s: users.set_role(s, _target(s, user_id), role, by=current_user), "Role changed.")
    forget(user_id)  # after the commit, or a request in between could cache the old row again
    return done


@bp.route("/users/<int:user_id>/active", methods=["POST"])
@role_required("admin")
def set_active(user_id: int):
    active = request.form.get("active") == "1"
    done = _done(".users_page", lambda s: users.set_active(s, _target(s, user_id), active, by=current_user),
                 "User activated." if active else "User deactivated.")
    forget(user_id)
    return done


@bp.route("/users/<int:user_id>/password", methods=["POST"])
@role_required("admin")
def set_password(user_id: int):
    password = request.form.get("password", "")
    return _done(".users_page", lambda s: users.set_password(s, _target(s, user_id), password, by=current_user),
                 "Password set.")


@bp.route("/canned")
@role_required("admin")
def canned():
    rows = conversation_view.canned_for(read_session(), None)
    edit_id = request.args.get("edit", "")
    editing = read_session().get(CannedReply, int(edit_id)) if edit_id.isdigit() else None
    return render_template("admin/canned.html", canned=rows, editing=editing, kinds=sorted(LIMITS),
                           placeholders=workflow.PLACEHOLDERS)


@bp.route("/canned", methods=["POST"])
@role_required("admin")
def save_canned():
    f = request.form
    raw = f.get("id", "")

    def save(s):
        existing = s.get(CannedReply, int(raw)) if raw.isdigit() else None
        workflow.save_canned(s, f.get("title", ""), f.get("body", ""), by=current_user,
                             kind=f.get("kind") or None, canned=existing)
    return _done(".canned", save, "Canned reply saved.")


@bp.route("/canned/<int:canned_id>/delete", methods=["POST"])
@role_required("admin")
def delete_canned(canned_id: int):
    return _done(".canned", lambda s: conversation_view.delete_canned(s, canned_id, by=current_user),
                 "Canned reply deleted.")


@bp.route("/audit")
@role_required("admin")
def audit():
    rows = read_session().scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(AUDIT_PAGE)
                                  .options(joinedload(AuditEvent.user))).all()
    return render_template("admin/audit.html", events=rows)

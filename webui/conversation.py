"""One conversation: the thread, the contact panel, and what staff do to it.

Actions are plain POST forms that redirect back (they work without
JavaScript); each calls one function of inbox.workflow, which writes the
audit event the history shows.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from inbox import conversation_view, presence, workflow
from inbox.models import User
from inbox.workflow import WorkflowError
from webui.app import read_session, web

bp = Blueprint("conversation", __name__, url_prefix="/c")


def _view(conversation_id: int):
    try:
        return conversation_view.load(read_session(), conversation_id)
    except WorkflowError:
        abort(404)


def page_context(conversation_id: int) -> dict:
    """Everything the conversation templates need (the composer adds its own)."""
    from webui import composer

    v = _view(conversation_id)
    s = read_session()
    return {
        "v": v, "c": v.conversation, "users": conversation_view.active_users(s),
        "viewers": presence.others(s, v.conversation.id, current_user.id),
        "composer": composer.composer_state(v), "heartbeat": presence.HEARTBEAT_SECONDS,
    }


@bp.route("/<int:conversation_id>")
@login_required
def show(conversation_id: int):
    ctx = page_context(conversation_id)
    c = ctx["c"]
    if c.merged_into_id:
        flash(f"Conversation {c.id} was merged into this one.", "info")
        return redirect(url_for(".show", conversation_id=c.merged_into_id))
    return render_template("conversation/show.html", **ctx)


# Served inline only when a browser cannot be tricked into running them.
INLINE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}


@bp.route("/attachments/<int:attachment_id>")
@login_required
def attachment(attachment_id: int):
    """A file a customer sent. Anything but a plain image is a download of
    opaque bytes, so customer HTML or SVG can never run on our origin."""
    from io import BytesIO

    from flask import send_file

    from inbox.models import Attachment

    a = read_session().get(Attachment, attachment_id)
    if a is None:
        abort(404)
    if a.content is None or a.truncated:
        abort(410, description=f"{a.filename} was larger than the size limit and was not kept.")
    inline = a.content_type.lower() in INLINE_TYPES
    resp = send_file(BytesIO(a.content), mimetype=a.content_type if inline else "application/octet-stream",
                     as_attachment=not inline, download_name=a.filename or f"attachment-{a.id}")
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return resp


@bp.route("/<int:conversation_id>/live")
@login_required
def live(conversation_id: int):
    """The parts of the page that change while it is open (not the composer)."""
    return render_template("conversation/_live.html", **page_context(conversation_id))


def _act(conversation_id: int, action, done: str | None = None):
    """Run `action(session, conversation)` in one transaction, then go back."""
    try:
        with web().factory.begin() as s:
            action(s, workflow.get_conversation(s, conversation_id))
        if done:
            flash(done, "info")
    except WorkflowError as e:
        flash(str(e), "error")
    return redirect(url_for(".show", conversation_id=conversation_id))


def _user(s, raw: str) -> User | None:
    if raw == "me":
        return s.get(User, current_user.id)
    if not raw:
        return None
    user = s.get(User, int(raw)) if raw.isdigit() else None
    if user is None or not user.active:
        raise WorkflowError("Pick an active user to assign.")
    return user


@bp.route("/<int:conversation_id>/assign", methods=["POST"])
@login_required
def assign(conversation_id: int):
    raw = request.form.get("assignee", "")
    return _act(conversation_id, lambda s, c: workflow.assign(s, c, _user(s, raw), by=current_user))


def _parse_local(value: str) -> datetime:
    """A datetime-local field; the browser sends the agent's local time and
    the page sends its UTC offset in minutes beside it."""
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise WorkflowError("Give the snooze time as a date and time.") from None
    if at.tzinfo is None:
        offset = request.form.get("tz_offset", "0")
        minutes = int(offset) if offset.lstrip("-").isdigit() else 0
        at = (at + timedelta(minutes=minutes)).replace(tzinfo=timezone.utc)
    return at.astimezone(timezone.utc)


@bp.route("/<int:conversation_id>/status", methods=["POST"])
@login_required
def status(conversation_id: int):
    new = request.form.get("status", "")
    until = request.form.get("snooze_until", "").strip()
    spam = {"1": True, "0": False}.get(request.form.get("spam", ""))

    def act(s, c):
        when = _parse_local(until) if new == "snoozed" and until else None
        workflow.set_status(s, c, new, by=current_user, snooze_until=when, spam=spam)
    return _act(conversation_id, act)


@bp.route("/<int:conversation_id>/tags", methods=["POST"])
@login_required
def add_tag(conversation_id: int):
    names = [n for n in request.form.get("tag", "").split(",") if n.strip()]

    def act(s, c):
        for name in names:
            workflow.add_tag(s, c, name, by=current_user)
    return _act(conversation_id, act)


@bp.route("/<int:conversation_id>/tags/remove", methods=["POST"])
@login_required
def remove_tag(conversation_id: int):
    name = request.form.get("tag", "")
    return _act(conversation_id, lambda s, c: workflow.remove_tag(s, c, name, by=current_user))


@bp.route("/<int:conversation_id>/note", methods=["POST"])
@login_required
def note(conversation_id: int):
    text = request.form.get("text", "")
    return _act(conversation_id, lambda s, c: workflow.add_note(s, c, text, by=current_user), "Note added.")


@bp.route("/<int:conversation_id>/merge", methods=["POST"])
@login_required
def merge(conversation_id: int):
    raw = request.form.get("target", "").strip().lstrip("#")
    if not raw.isdigit():
        flash("Give the number of the conversation to merge with.", "error")
        return redirect(url_for(".show", conversation_id=conversation_id))
    target_id = int(raw)
    try:
        with web().factory.begin() as s:
            source = workflow.get_conversation(s, conversation_id)
            target = conversation_view.merge_target(s, source, target_id)
            workflow.merge(s, source, target, by=current_user)
            into = target.id
    except WorkflowError as e:
        flash(str(e), "error")
        return redirect(url_for(".show", conversation_id=conversation_id))
    flash(f"Conversation {conversation_id} merged into this one.", "info")
    return redirect(url_for(".show", conversation_id=into))


@bp.route("/<int:conversation_id>/messages/<int:message_id>/sentiment", methods=["POST"])
@login_required
def correct(conversation_id: int, message_id: int):
    label = request.form.get("label", "")

    def act(s, _c):
        msg = conversation_view.message_of(s, message_id, conversation_id)
        workflow.correct_sentiment(s, msg, label, by=current_user)
    return _act(conversation_id, act, "Thanks: the correction is saved and will teach the model.")

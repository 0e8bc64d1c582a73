"""The reply composer: per-channel rules, canned replies, send with undo.

Sending puts the reply in the outbox (inbox.workflow.queue_reply) with an
undo window; the worker posts it after that. Each rendering of the composer
carries a fresh idempotency key, so a double click or a resent form queues
the reply once. The server is the authority on length: the browser's
counter is a quick approximation checked here (`check`).
"""
from __future__ import annotations

import uuid

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from inbox import conversation_view, reply_rules, workflow
from inbox.models import CannedReply
from inbox.subjects import reply_subject
from inbox.workflow import Collision, WorkflowError
from webui.app import read_session, web

bp = Blueprint("composer", __name__, url_prefix="/c")

EMAIL_KINDS = ("email", "maildir")
QUOTE_LINES = 12


def composer_state(v, *, text: str = "", error: str | None = None, collision: str | None = None,
                   key: str | None = None, subject: str | None = None, notice: str | None = None) -> dict:
    kind = v.account.kind
    parent = v.last_customer
    state = {
        "kind": kind, "text": text, "error": error, "collision": collision, "notice": notice,
        "key": key or uuid.uuid4().hex, "limit": reply_rules.LIMITS.get(kind),
        "used": reply_rules.measure(kind, text).used,
        "undo_seconds": web().config.web["undo_seconds"],
        "canned": conversation_view.canned_for(read_session(), kind),
        "can_reply": parent is not None and v.account.enabled and not v.conversation.merged_into_id,
        "email": kind in EMAIL_KINDS, "markdown": kind == "reddit",
    }
    if state["email"]:
        state["subject"] = subject if subject is not None else reply_subject(
            (parent.subject if parent else None) or v.conversation.subject)
        lines = ((parent.new_text or parent.text) if parent else "").strip().splitlines()
        state["quote"] = "\n".join("> " + ln for ln in lines[:QUOTE_LINES]) + ("\n> …" if len(lines) > QUOTE_LINES else "")
        state["quote_author"] = (parent.author_name or parent.author_handle) if parent else ""
        state["quote_at"] = parent.created_at if parent else None
    return state


def _render(conversation_id: int, status: int = 200, **state):
    """The composer alone for htmx (plus the thread, swapped out of band);
    the whole page otherwise."""
    from webui.conversation import page_context

    ctx = page_context(conversation_id)
    ctx["composer"] = composer_state(ctx["v"], **state)
    if request.headers.get("HX-Request"):
        return render_template("conversation/_composer_response.html", **ctx)
    return render_template("conversation/show.html", **ctx), status


@bp.route("/<int:conversation_id>/reply", methods=["POST"])
@login_required
def send(conversation_id: int):
    text = request.form.get("text", "")
    key = request.form.get("key", "")[:100] or None
    subject = request.form.get("subject")
    confirm = request.form.get("confirm") == "1"
    undo = web().config.web["undo_seconds"]
    try:
        with web().factory.begin() as s:
            conv = workflow.get_conversation(s, conversation_id)
            if subject is not None:
                subject = subject.strip()[:900] or None
            workflow.queue_reply(s, conv, text, by=current_user, undo_seconds=undo, idempotency_key=key,
                                 subject=subject, confirm_collision=confirm)
    except Collision as e:
        return _render(conversation_id, 409, text=text, collision=str(e), key=key, subject=subject)
    except WorkflowError as e:
        return _render(conversation_id, 400, text=text, error=str(e), key=key, subject=subject)
    notice = f"Reply queued: it is sent in {undo} s unless you undo it." if undo else "Reply queued for sending."
    if request.headers.get("HX-Request"):
        return _render(conversation_id, notice=notice)
    flash(notice, "info")
    return redirect(url_for("conversation.show", conversation_id=conversation_id))


@bp.route("/<int:conversation_id>/replies/<int:reply_id>/undo", methods=["POST"])
@login_required
def undo(conversation_id: int, reply_id: int):
    try:
        with web().factory.begin() as s:
            text = workflow.undo_reply(s, conversation_view.reply_of(s, reply_id, conversation_id), by=current_user)
    except WorkflowError as e:
        return _render(conversation_id, 409, error=str(e))
    return _render(conversation_id, text=text, notice="Reply taken back: edit it and send again.")


@bp.route("/<int:conversation_id>/replies/<int:reply_id>/retry", methods=["POST"])
@login_required
def retry(conversation_id: int, reply_id: int):
    try:
        with web().factory.begin() as s:
            workflow.retry_reply(s, conversation_view.reply_of(s, reply_id, conversation_id), by=current_user)
        flash("The reply will be sent again.", "info")
    except WorkflowError as e:
        flash(str(e), "error")
    return redirect(url_for("conversation.show", conversation_id=conversation_id))


def _kind(conversation_id: int) -> str:
    try:
        return conversation_view.load(read_session(), conversation_id).account.kind
    except WorkflowError:
        abort(404)


@bp.route("/<int:conversation_id>/reply/check", methods=["POST"])
@login_required
def check(conversation_id: int):
    """The authoritative length and problems, for the counter under the box."""
    kind = _kind(conversation_id)
    text = request.form.get("text", "")
    m = reply_rules.measure(kind, text)
    problems = reply_rules.problems(kind, text) if text.strip() else []
    return render_template("conversation/_counter.html", used=m.used, limit=m.limit, ok=m.ok, problems=problems)


@bp.route("/<int:conversation_id>/reply/preview", methods=["POST"])
@login_required
def preview(conversation_id: int):
    _kind(conversation_id)
    return render_template("conversation/_preview.html", text=request.form.get("text", ""))


@bp.route("/<int:conversation_id>/reply/canned", methods=["POST"])
@login_required
def canned(conversation_id: int):
    """The text box with a canned reply's text, placeholders filled in,
    added after what the agent already wrote."""
    try:
        v = conversation_view.load(read_session(), conversation_id)
    except WorkflowError:
        abort(404)
    text = request.form.get("text", "")
    raw = request.form.get("canned", "")
    chosen = read_session().get(CannedReply, int(raw)) if raw.isdigit() else None
    if chosen is not None:
        filled = workflow.render_canned(chosen.body, customer_name=v.customer_name, handle=v.handle,
                                        agent=current_user, subject=v.conversation.subject or "")
        text = (text.rstrip() + "\n\n" + filled) if text.strip() else filled
    return render_template("conversation/_textarea.html", text=text, kind=v.account.kind)


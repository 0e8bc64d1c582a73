"""Live updates and presence.

Every open page polls `/live/changes?since=<id>` about once a second. The
`changes` table gets one row per conversation touched by any transaction
(ingest, the outbox, staff), so this works across web processes and
workers without a message broker. No change: 204 and htmx does nothing.
A change: an htmx event names it; the inbox list reloads its rows, an open
conversation reloads its thread if it is the one that changed.
"""
from __future__ import annotations

import json
import random

from flask import Blueprint, abort, render_template, request
from flask_login import current_user, login_required
from sqlalchemy import func, select

from inbox import presence
from inbox.models import Change, Conversation
from webui.app import read_session, web

bp = Blueprint("live", __name__)

BATCH = 500
PRUNE_CHANCE = 0.02


def latest_change_id() -> int:
    return read_session().scalar(select(func.max(Change.id))) or 0


@bp.route("/live/changes")
@login_required
def changes():
    since = request.args.get("since", "")
    watching = request.args.get("conversation", "")
    if not since.isdigit():
        since = str(latest_change_id())
    rows = read_session().execute(select(Change.id, Change.conversation_id).where(Change.id > int(since))
                                  .order_by(Change.id).limit(BATCH)).all()
    if not rows:
        return "", 204
    ids = sorted({cid for _, cid in rows})
    events = {"rd-changed": {"conversations": ids[:100]}}
    if watching.isdigit() and int(watching) in ids:
        events["rd-conversation"] = {"id": int(watching)}
    resp = web_response(rows[-1][0], watching)
    resp.headers["HX-Trigger"] = json.dumps(events)
    return resp


def web_response(since: int, watching: str):
    from flask import make_response

    return make_response(render_template("_partials/poller.html", since=since,
                                         conversation=watching if watching.isdigit() else None))


@bp.route("/c/<int:conversation_id>/presence", methods=["POST"])
@login_required
def beat(conversation_id: int):
    """Heartbeat of an open conversation page (and of typing in its composer);
    answers with who else is there."""
    typing = request.form.get("typing") == "1"
    if read_session().get(Conversation, conversation_id) is None:
        abort(404)
    with web().factory.begin() as s:
        presence.beat(s, current_user.id, conversation_id, typing=typing)
        if random.random() < PRUNE_CHANCE:  # now and then, not on every beat
            presence.prune(s)
    viewers = presence.others(read_session(), conversation_id, current_user.id)
    return render_template("conversation/_presence.html", viewers=viewers, conversation_id=conversation_id,
                           heartbeat=presence.HEARTBEAT_SECONDS)


@bp.route("/c/<int:conversation_id>/leave", methods=["POST"])
@login_required
def leave(conversation_id: int):
    with web().factory.begin() as s:
        presence.leave(s, current_user.id, conversation_id)
    return "", 204

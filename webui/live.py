"""Live updates and presence.

Every open page polls `/live/changes?since=<id>` about once a second. The
`changes` table gets one row per conversation touched by any transaction
(ingest, the outbox, staff), so this works across web processes and
workers without a message broker. No change: 204 and htmx does nothing.

A change: the `rd-changed` event names the conversations. An inbox page
polls with `list=1` and its filters, and the event also says whether any
changed conversation could be in that list now (`list`: the list's own
filter, restricted to the changed ids — a lookup by primary key, not the
list query) and whether the counts beside it can have moved (`counts`).
The page's script reloads the list when one could be in it or one of its
rows changed (it may have left the filter), at most every 1.5 s, so a list
of "mine" stays quiet while messages stream into other conversations, and
a busy list reloads every 1.5 s rather than on every poll. An open
conversation reloads its thread when it is the one that changed
(`rd-conversation`).
"""
from __future__ import annotations

import json
import random

from flask import Blueprint, abort, make_response, render_template, request
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inbox import inbox_list, presence, search
from inbox.inbox_list import BadFilter
from inbox.models import Account, Change, Conversation
from webui.app import read_session, web
from webui.inbox_views import filters_from

bp = Blueprint("live", __name__)

BATCH = 500
NAMED = 100  # changed conversations named in the event; beyond that the page just reloads
PRUNE_CHANCE = 0.02


def latest_change_id() -> int:
    return read_session().scalar(select(func.max(Change.id))) or 0


@bp.route("/live/changes")
@login_required
def changes():
    since = request.args.get("since", "")
    watching = request.args.get("conversation", "")
    listing = request.args.get("list") == "1"
    if not since.isdigit():
        since = str(latest_change_id())
    s = read_session()
    rows = s.execute(select(Change.id, Change.conversation_id).where(Change.id > int(since))
                     .order_by(Change.id).limit(BATCH)).all()
    if not rows:
        return "", 204
    ids = sorted({cid for _, cid in rows})
    changed = {"conversations": ids[:NAMED], "more": len(ids) > NAMED}
    if listing:
        changed["list"], changed["counts"] = list_news(s, ids)
    events = {"rd-changed": changed}
    if watching.isdigit() and int(watching) in ids:
        events["rd-conversation"] = {"id": int(watching)}
    resp = make_response(render_template("_partials/poller.html", since=rows[-1][0], watch_list=listing,
                                         conversation=watching if watching.isdigit() else None))
    resp.headers["HX-Trigger"] = json.dumps(events)
    return resp


def list_news(s: Session, ids: list[int]) -> tuple[bool, bool]:
    """(could one of `ids` be in the list the poll's filters describe, can
    the counts beside it have moved)."""
    try:
        f = filters_from(request.args)
    except BadFilter:
        return True, True
    # The list's own conditions, so this never disagrees with what it shows.
    where = inbox_list._conditions(s, f, current_user.id, None)
    hits = search.matching_conversations(s.get_bind().dialect.name, f.q, ids)
    if hits is not None:
        where.append(Conversation.id.in_(hits))
    in_list = s.scalar(select(Conversation.id).where(Conversation.id.in_(ids), *where).limit(1)) is not None
    # The counts cover the account or channel filter only: any change there.
    scope = []
    if f.account_id:
        scope.append(Conversation.account_id == f.account_id)
    if f.kind:
        scope.append(Conversation.account_id.in_(select(Account.id).where(Account.kind == f.kind)))
    counts = not scope or s.scalar(select(Conversation.id).where(Conversation.id.in_(ids), *scope).limit(1)) is not None
    return in_list, counts


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

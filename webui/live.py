"""Live updates and presence.

Every open page polls `/live/changes?since=<id>` about once a second. The
`changes` table gets one row per conversation touched by any transaction
(ingest, the outbox, staff), so this works across web processes and
workers without a message broker. No change: 204 and htmx does nothing.

A change: the `rd-changed` event names the conversations (all of them,
up to a batch of 500: a page that could not tell whether one of its rows
changed would have to reload). An inbox page
polls with `list=1` and its filters, and the event also says whether any
changed conversation could be in that list now (`list`: the list's own
filter, read beside each change row by primary key in the same query, not
the list query) and whether the counts beside it can have moved (`counts`).
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

from flask import Blueprint, abort, current_app, make_response, request
from flask_login import current_user, login_required
from sqlalchemy import and_, case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from inbox import inbox_list, presence, search
from inbox.inbox_list import BadFilter, ListFilters
from inbox.models import Change, Conversation
from webui.app import read_session, web
from webui.inbox_views import filters_from

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
    listing = request.args.get("list") == "1"
    if not since.isdigit():
        since = str(latest_change_id())
    s = read_session()
    q = select(Change.id, Change.conversation_id).where(Change.id > int(since)).order_by(Change.id).limit(BATCH)
    f = list_filters() if listing else None
    if f is not None:
        q = q.add_columns(*list_flags(s, f)).outerjoin(Conversation, Conversation.id == Change.conversation_id)
    rows = s.execute(q).all()
    if not rows:
        return "", 204
    ids = sorted({r[1] for r in rows})
    changed = {"conversations": ids}
    if listing:
        changed["list"] = f is None or in_list(s, f, {r[1] for r in rows if r.in_list})
        changed["counts"] = f is None or any(r.in_counts for r in rows)
    events = {"rd-changed": changed}
    if watching.isdigit() and int(watching) in ids:
        events["rd-conversation"] = {"id": int(watching)}
    # Straight from the Jinja environment: render_template would run the
    # context processors every page needs, one of them a query (unhealthy
    # accounts) - a database round trip on every poll for nothing.
    poller = current_app.jinja_env.get_template("_partials/poller.html")
    resp = make_response(poller.render(since=rows[-1][0], watch_list=listing,
                                       conversation=watching if watching.isdigit() else None))
    resp.headers["HX-Trigger"] = json.dumps(events)
    return resp


def list_filters() -> ListFilters | None:
    """The filters of the list that polls; None when they make no sense
    (then the page just reloads)."""
    try:
        return filters_from(request.args)
    except BadFilter:
        return None


def list_flags(s: Session, f: ListFilters) -> list:
    """Two columns to read beside each change: could the conversation be in
    the list (the list's own conditions, so this never disagrees with what
    it shows; the search words apart, see `in_list`), can the counts beside
    it have moved (they cover the account or channel filter only). Read in
    the same query as the changes: one round trip per poll, as before."""
    where = inbox_list.conditions(s, f, current_user.id, None)
    scope = [Conversation.id.is_not(None), *inbox_list.scope(f.account_id, f.kind)]
    return [case((and_(*where), True), else_=False).label("in_list"),
            case((and_(*scope), True), else_=False).label("in_counts")]


def in_list(s: Session, f: ListFilters, candidates: set[int]) -> bool:
    """Whether one of the conversations that pass the list's other filters
    also matches its search words (a second, small query, searches only)."""
    if not candidates:
        return False
    found = search.matching_conversations(s.get_bind().dialect.name, f.q, sorted(candidates))
    return found is None or s.scalar(found.limit(1)) is not None


@bp.route("/c/<int:conversation_id>/presence", methods=["POST"])
@login_required
def beat(conversation_id: int):
    """Heartbeat of an open conversation page (and of typing in its composer);
    answers with who else is there."""
    typing = request.form.get("typing") == "1"
    # Every open conversation page sends this every 4 s: one transaction,
    # no other query. A conversation that does not exist fails the foreign key.
    try:
        with web().factory.begin() as s:
            presence.beat(s, current_user.id, conversation_id, typing=typing)
            if random.random() < PRUNE_CHANCE:  # now and then, not on every beat
                presence.prune(s)
            viewers = presence.others(s, conversation_id, current_user.id)
    except IntegrityError:
        abort(404)
    # No context processors (see `changes`): the fragment needs none.
    fragment = current_app.jinja_env.get_template("conversation/_presence.html")
    return fragment.render(viewers=viewers, conversation_id=conversation_id, heartbeat=presence.HEARTBEAT_SECONDS)


@bp.route("/c/<int:conversation_id>/leave", methods=["POST"])
@login_required
def leave(conversation_id: int):
    with web().factory.begin() as s:
        presence.leave(s, current_user.id, conversation_id)
    return "", 204

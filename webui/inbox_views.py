"""The inbox list: filters in the URL (so a view can be bookmarked and
shared), one query per page, counts loaded beside it."""
from __future__ import annotations

import dataclasses
import threading
import time

from flask import Blueprint, abort, current_app, render_template, request
from flask_login import current_user, login_required

from inbox import inbox_list
from inbox.inbox_list import BadFilter, ListFilters
from webui.app import read_session

bp = Blueprint("inbox", __name__)

URGENCY_STEPS = (25, 50, 75, 90)


def filters_from(args) -> ListFilters:
    def num(name):
        value = args.get(name, "").strip()
        if not value:
            return None
        if not value.isdigit():
            raise BadFilter(f"{name} must be a whole number.")
        return int(value)

    status = args.get("status", "open")
    return ListFilters(
        status=None if status in ("", "any") else status,
        account_id=num("account"),
        kind=args.get("channel") or None,
        assignee=args.get("assignee") or None,
        awaiting=args.get("awaiting") in ("1", "on", "true"),
        sentiment=args.get("sentiment") or None,
        urgency_min=num("urgency"),
        tag=args.get("tag") or None,
        q=args.get("q", "").strip()[:200],
        sort=args.get("sort") or "newest",
    ).validate()


def query_args(f: ListFilters, **changes) -> dict:
    """URL arguments for `f` with some changed: the links of the filter bar."""
    f = f.but(**changes) if changes else f
    out = {"status": f.status or "any", "account": f.account_id, "channel": f.kind, "assignee": f.assignee,
           "awaiting": "1" if f.awaiting else None, "sentiment": f.sentiment, "urgency": f.urgency_min,
           "tag": f.tag, "q": f.q or None, "sort": f.sort if f.sort != "newest" else None}
    return {k: v for k, v in out.items() if v is not None}


def _page():
    try:
        f = filters_from(request.args)
        page = inbox_list.list_conversations(read_session(), f, user_id=current_user.id,
                                             after=request.args.get("after") or None)
    except BadFilter as e:
        abort(400, str(e))
    return f, page


@bp.route("/")
@login_required
def index():
    f, page = _page()
    # htmx asks for the list alone when a filter changes or something is new
    # (a live reload: every 1.5 s on a busy inbox), without the filter bar.
    if request.headers.get("HX-Target") == "list":
        return render_template("inbox/_list.html", f=f, page=page, query_args=query_args)
    s = read_session()
    return render_template("inbox/index.html", f=f, page=page, accounts=inbox_list.accounts(s),
                           tags=inbox_list.tag_names(s), urgency_steps=URGENCY_STEPS, query_args=query_args,
                           sentiments=inbox_list.SENTIMENTS, sorts=inbox_list.SORTS)


@bp.route("/inbox/more")
@login_required
def more():
    """The next page of rows, appended below the current ones."""
    f, page = _page()
    return render_template("inbox/_rows.html", f=f, page=page, query_args=query_args)


@bp.route("/inbox/counts")
@login_required
def counts():
    try:
        f = filters_from(request.args)
    except BadFilter as e:
        abort(400, str(e))
    s = read_session()
    c = _shared_counts(s, f.account_id, f.kind)
    c = dataclasses.replace(c, mine=inbox_list.count_mine(s, user_id=current_user.id, account_id=f.account_id,
                                                           kind=f.kind))
    return render_template("inbox/_counts.html", f=f, c=c, query_args=query_args, accounts=inbox_list.accounts(s))


# The counts are the same for every agent but "mine", and the page reloads
# them at most every 5 s; with fifty agents open on a busy inbox each
# process computes them once per COUNTS_FRESH_SECONDS for a filter instead
# of once per agent (several index range counts of up to a million rows).
COUNTS_FRESH_SECONDS = 2.0
_counts_lock = threading.Lock()


def _shared_counts(session, account_id: int | None, kind: str | None) -> inbox_list.Counts:
    cache = current_app.extensions.setdefault("replydesk_counts", {})
    key = (account_id, kind)
    with _counts_lock:
        hit = cache.get(key)
    if hit is not None and time.monotonic() - hit[0] < COUNTS_FRESH_SECONDS:
        return hit[1]
    c = inbox_list.counts(session, user_id=None, account_id=account_id, kind=kind)
    with _counts_lock:
        cache[key] = (time.monotonic(), c)
    return c

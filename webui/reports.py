"""The manager reports page: period and filters in the URL (a report can be
bookmarked and shared), one call to inbox.reports, charts drawn as SVG on
the server, and every table as a CSV download with the same filters."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, render_template, request

from inbox.reports import TABLES, ReportError, build_report, catch_up, filter_choices, to_csv
from inbox.reports.contributions import AGE_NAMES, LABELS
from inbox.reports.tables import duration, percent
from webui import charts
from webui.app import read_session, web
from webui.auth import role_required

bp = Blueprint("reports", __name__, url_prefix="/reports")


@bp.record_once
def _settings(state) -> None:
    """A fresh database takes the config's SLA settings at once. Changed
    settings on a database with history mean rebuilding the report tables,
    which can take minutes: the worker does that when it starts (and
    `replydesk report --rebuild` on demand), never a web process; until
    then the page says so instead of showing figures for stale targets."""
    from sqlalchemy import select

    from inbox.models import Conversation
    from inbox.reports import apply_settings

    w = state.app.extensions["replydesk"]
    with w.factory() as session:
        empty = session.scalar(select(Conversation.id).limit(1)) is None
    if empty:
        apply_settings(w.factory, w.config)

DEFAULT_DAYS = 30
AGE_LABELS = ("under 1 h", "1–4 h", "4–24 h", "over 24 h")


class BadRequest(ValueError):
    pass


def params_from(args) -> dict:
    """The report's arguments from the query string; BadRequest says what is wrong."""
    def day(name: str) -> date | None:
        value = args.get(name, "").strip()
        if not value:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise BadRequest(f"{name} must be a date like 2026-11-01, not {value!r}.") from None

    def number(name: str) -> int | None:
        value = args.get(name, "").strip()
        if not value:
            return None
        try:
            return int(value)
        except ValueError:
            raise BadRequest(f"{name} must be a number.") from None

    today = datetime.now(ZoneInfo(web().config.sla["timezone"])).date()
    until = day("until") or today
    since = day("since") or until - timedelta(days=DEFAULT_DAYS - 1)
    if (until - since).days > 3 * 366:
        raise BadRequest("Choose a period of at most three years.")
    return {"since": since, "until": until, "account": number("account"), "kind": args.get("channel") or None,
            "agent_id": number("agent")}


def _report(params: dict, **kw) -> dict:
    # Conversations changed in the last seconds may not be in the report
    # tables yet (the worker catches up every few seconds): take them in
    # first, so the page is exact.
    if catch_up(web().factory):
        # SQLite: this request's read transaction may predate the catch-up;
        # end it so the report reads what was just written.
        read_session().commit()
    return build_report(read_session(), **params, config=web().config, **kw)


@bp.route("/")
@role_required("manager")
def index():
    report, error = None, None
    try:
        params = params_from(request.args)
        report = _report(params)
    except (BadRequest, ReportError) as e:
        params, error = params_from({}), str(e)
    page = render_template(
        "reports/index.html", r=report, error=error, params=params, choices=filter_choices(read_session()),
        charts=_charts(report) if report else {}, tables=list(TABLES),
        query={k: v for k, v in request.args.items() if v}, duration=duration, percent=percent,
        age_labels=dict(zip(AGE_NAMES, AGE_LABELS)))
    return page, (400 if error else 200)


@bp.route("/<name>.csv")
@role_required("manager")
def download(name: str):
    if name not in TABLES:
        abort(404)
    try:
        params = params_from(request.args)
        report = _report(params, breaches_limit=None)
    except (BadRequest, ReportError) as e:
        return Response(str(e) + "\n", status=400, mimetype="text/plain")
    filename = f"replydesk-{name}-{params['since']}-{params['until']}.csv"
    return Response(to_csv(report, name), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _charts(r: dict) -> dict:
    days = [d["day"] for d in r["volume"]["days"]]
    backlog_days = [d["day"] for d in r["backlog"]["days"]]
    now = r["backlog"]["now"]
    return {
        "volume": charts.lines("Messages in and out per day", days, [
            ("customer messages", [d["in"] for d in r["volume"]["days"]]),
            ("responses", [d["out"] for d in r["volume"]["days"]])]),
        "backlog": charts.lines("Awaiting reply at the end of each day", backlog_days, [
            ("all", [d["total"] for d in r["backlog"]["days"]]),
            ("waiting over 24 h", [d["gt_24h"] for d in r["backlog"]["days"]])]),
        "ages": charts.bars("Awaiting reply now, by how long", AGE_LABELS, [now[k] for k in AGE_NAMES]),
        "sentiment": charts.stacked("Sentiment of customer messages per day", days, [
            (label, [d[label] for d in r["sentiment"]["days"]]) for label in LABELS]),
    }

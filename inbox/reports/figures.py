"""The manager report: every figure read from the rollups in a few SQL
statements (see rollup.py for how they are kept, contributions.py for the
definitions).

- Counts are summed in SQL per account and per agent; channel and overall
  totals are sums of the account sums. Each conversation belongs to one
  account and one assignee, so even the distinct counts (conversations,
  unanswered) add up: a conversation active on several days is counted on
  its first active day in the period only (`bucket` is the gap to its
  previous active day).
- Percentiles are nearest-rank (PostgreSQL's percentile_disc): the smallest
  value with at least p % of values at or below it. SQL finds the histogram
  bucket (4 per doubling) holding that rank; the value is interpolated
  inside it around the bucket's mean (contributions.estimate): exact when
  the bucket holds one value, typically within 1 % and at most within the
  bucket's 19 % otherwise.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime

from sqlalchemy import String, and_, case, cast, func, literal_column, select, union_all

from inbox.models import Account, User, utcnow
from inbox.reports import backlog as backlog_mod
from inbox.reports import settings as settings_mod
from inbox.reports import sla as sla_mod
from inbox.reports.contributions import (
    ACTIVE, AWAITING, FIRST, HISTOGRAMS, IN, LABELS, OUT, OUTSIDE, RESOLUTION, RESPONSE, SENTIMENT,
    SLA_HIT, SLA_MISSED, UNANSWERED, UNASSIGNED, estimate,
)
from inbox.reports.scope import COUNTS, ReportError, Scope

COUNTERS = (IN, OUT, SLA_HIT, SLA_MISSED, ACTIVE, UNANSWERED, SENTIMENT)
SECONDS_KEYS = {FIRST: "first_response_seconds", RESPONSE: "response_seconds", RESOLUTION: "resolution_seconds"}


def build_report(session, *, since: date, until: date, account: str | int | None = None, kind: str | None = None,
                 agent_id: int | None = None, tz: str | None = None, config=None, now: datetime | None = None,
                 breaches_limit: int | None = 100) -> dict:
    """The report for local days `since`..`until` (both included) in the
    report time zone ([sla] timezone; `tz`, if given, must be that one)."""
    s = settings_mod.load(session)
    if tz is not None and tz != s.timezone:
        raise ReportError(f"report days are kept in {s.timezone} ([sla] timezone); asked for {tz}. "
                          f"Set [sla] timezone and restart (the report tables are rebuilt).")
    if config is not None and settings_mod.from_config_in(session, config) != s:
        raise ReportError("the SLA settings in the config changed since the report tables were built; "
                          "run `replydesk report --rebuild` (or restart Replydesk)")
    if until < since:
        raise ReportError(f"the period ends ({until}) before it starts ({since})")
    now = now or utcnow()
    accounts = {a.id: a for a in session.execute(select(Account.id, Account.name, Account.kind))}
    ids = _account_filter(accounts, account, kind)
    scope = Scope(since, until, ids, agent_id, s.timezone)

    per_account, per_agent = _counters(session, scope)
    hist = _percentiles(session, scope)
    for acc_id, agent, n in sla_mod.pending(session, scope, now):
        per_account[acc_id]["pending"] += n
        per_agent[agent]["pending"] += n
    days = _daily(session, scope)
    levels = backlog_mod.series(session, scope)

    overall = defaultdict(int)
    by_kind: dict[str, defaultdict] = defaultdict(lambda: defaultdict(int))
    for acc_id, counts in per_account.items():
        for k, v in counts.items():
            overall[k] += v
            by_kind[accounts[acc_id].kind][k] += v
    breaches = sla_mod.breaches(session, scope, now, limit=breaches_limit)
    names = _agent_names(session, {*per_agent, *(b["agent_id"] for b in breaches)})
    targets = {acc_id: s.target_seconds(acc_id, accounts[acc_id].kind) for acc_id in (ids or accounts)}

    report = {
        "period": {"since": since.isoformat(), "until": until.isoformat(), "timezone": s.timezone,
                   "days": (until - since).days + 1},
        "filters": {"account": accounts[ids[0]].name if account is not None and ids else None, "kind": kind,
                    "agent_id": agent_id},
        "generated_at": now.isoformat(timespec="seconds"),
        **_row(overall, hist.get(("all", ""), {})),
    }
    report["volume"]["days"] = [{"day": date.fromordinal(d).isoformat(), "in": v[IN], "out": v[OUT]}
                                for d, v in sorted(days.items())]
    report["sentiment"] = {**_sentiment(overall),
                           "days": [{"day": date.fromordinal(d).isoformat(), **_sentiment(v)}
                                    for d, v in sorted(days.items())]}
    shared = set(targets.values())
    report["sla"].update({
        "target_seconds": shared.pop() if len(shared) == 1 else s.default_minutes * 60,
        "targets_differ": len(shared) > 1,
        "business_hours": s.describe_hours(),
        "breaches": [_named(b, accounts, names) for b in breaches],
    })
    report["backlog"] = {"now": backlog_mod.now(session, scope, overall[AWAITING], now),
                         "days": backlog_mod.as_rows(_until_now(levels, now, s))}
    report["by_channel"] = [{"channel": k, **_row(v, hist.get(("channel", k), {}))} for k, v in sorted(by_kind.items())]
    report["by_account"] = [
        {"account": accounts[a].name, "channel": accounts[a].kind, "target_seconds": targets.get(a),
         **_row(v, hist.get(("account", str(a)), {}))}
        for a, v in sorted(per_account.items(), key=lambda kv: accounts[kv[0]].name)]
    report["by_agent"] = [{"agent_id": g, "agent": names[g], **_row(v, hist.get(("agent", str(g)), {}))}
                          for g, v in sorted(per_agent.items(), key=lambda kv: (_rank(kv[0]), names[kv[0]]))]
    return report


def _rank(agent_id: int) -> int:
    """People first, then unassigned, then replies sent outside Replydesk."""
    return 0 if agent_id > 0 else (1 if agent_id == UNASSIGNED else 2)


def _account_filter(accounts: dict, account, kind) -> tuple[int, ...] | None:
    if account is None and kind is None:
        return None
    chosen = [a for a in accounts.values()
              if (account is None or a.id == account or a.name == account) and (kind is None or a.kind == kind)]
    if account is not None and not chosen:
        known = ", ".join(sorted(a.name for a in accounts.values())) or "none"
        raise ReportError(f"no account {account!r}" + (f" of kind {kind}" if kind else "") + f" (accounts: {known})")
    return tuple(sorted(a.id for a in chosen))


def _counters(session, scope: Scope) -> tuple[dict, dict]:
    """Summed counters per account (account side) and per agent (agent side)."""
    c = COUNTS.c
    # Distinct conversations: an activity row counts only if the previous
    # active day of its conversation is before the period.
    value = case((and_(c.metric.in_((ACTIVE, UNANSWERED)), c.bucket <= c.day - scope.a), 0), else_=c.n)
    key = case((c.metric == SENTIMENT, c.bucket), else_=0)
    windowed = (c.metric.in_(COUNTERS), scope.days())
    now = (c.metric == AWAITING, c.span == 1)  # the state today, not of a day

    def side(name: str, group, cells):
        return [select(literal_column(f"'{name}'"), group, c.metric, key, func.sum(value))
                .where(cells, *where).group_by(group, c.metric, key) for where in (windowed, now)]

    q = union_all(*side("account", c.account_id, scope.account_cells()), *side("agent", c.agent_id, scope.agent_cells()))
    per_account: dict[int, defaultdict] = defaultdict(lambda: defaultdict(int))
    per_agent: dict[int, defaultdict] = defaultdict(lambda: defaultdict(int))
    for which, g, metric, k, n in session.execute(q):
        name = f"{SENTIMENT}:{LABELS[k]}" if metric == SENTIMENT else metric
        (per_account if which == "account" else per_agent)[g][name] += int(n)
    return per_account, per_agent


def _percentiles(session, scope: Scope) -> dict:
    """(level, group) -> metric -> (count, median, p90), in one statement."""
    c = COUNTS.c

    def histogram(group, cell: int, cells, name):
        # One index seek per span: SQLite does not seek on (span, day) IN (...).
        rows = union_all(*[select(c.metric, group.label("g"), c.bucket, c.n, c.total)
                           .where(c.metric.in_(HISTOGRAMS), cells, c.span == span, c.day.between(first, last))
                           for span, first, last in scope.units(cell)]).subquery()
        return (select(rows.c.metric, rows.c.g, rows.c.bucket, func.sum(rows.c.n).label("n"),
                       func.sum(rows.c.total).label("t"))
                .group_by(rows.c.metric, rows.c.g, rows.c.bucket).cte(name))

    h = histogram(c.account_id, scope.account_cell, scope.account_cells(), "h_account")
    ha = histogram(c.agent_id, scope.agent_cell, scope.agent_cells(), "h_agent")
    grouped = union_all(
        select(literal_column("'all'").label("level"), cast(literal_column("''"), String).label("grp"),
               h.c.metric, h.c.bucket, func.sum(h.c.n).label("n"), func.sum(h.c.t).label("t"))
        .group_by(h.c.metric, h.c.bucket),
        select(literal_column("'channel'"), Account.kind, h.c.metric, h.c.bucket, func.sum(h.c.n), func.sum(h.c.t))
        .select_from(h.join(Account, Account.id == h.c.g)).group_by(Account.kind, h.c.metric, h.c.bucket),
        select(literal_column("'account'"), cast(h.c.g, String), h.c.metric, h.c.bucket, h.c.n, h.c.t),
        select(literal_column("'agent'"), cast(ha.c.g, String), ha.c.metric, ha.c.bucket, ha.c.n, ha.c.t),
    ).subquery("grouped")
    part = (grouped.c.level, grouped.c.grp, grouped.c.metric)
    cum = select(grouped, func.sum(grouped.c.n).over(partition_by=part, order_by=grouped.c.bucket).label("upto"),
                 func.sum(grouped.c.n).over(partition_by=part).label("count")).subquery("cum")
    def holding(num: int, den: int):
        # The bucket holding rank ceil(num/den * count), found without division;
        # exactly one row per group holds it, so max() picks that row's values.
        holds = and_(den * (cum.c.upto - cum.c.n) < num * cum.c.count, num * cum.c.count <= den * cum.c.upto)
        return [func.max(case((holds, col))) for col in (cum.c.bucket, cum.c.n, cum.c.t, cum.c.upto)]

    q = (select(cum.c.level, cum.c.grp, cum.c.metric, func.max(cum.c.count), *holding(1, 2), *holding(9, 10))
         .group_by(cum.c.level, cum.c.grp, cum.c.metric))
    out: dict = defaultdict(dict)
    for level, grp, metric, count, *found in session.execute(q):
        count = int(count)
        out[(level, grp)][metric] = (count, _value(count, 1, 2, *found[:4]), _value(count, 9, 10, *found[4:]))
    return out


def _value(count: int, num: int, den: int, bucket, n, total, upto) -> float:
    """Nearest rank ceil(num/den * count), interpolated inside its bucket."""
    rank = -(-num * count // den)
    return estimate(int(bucket), int(n), int(total), rank - (int(upto) - int(n)))


def _daily(session, scope: Scope) -> dict[int, defaultdict]:
    """Messages in and out and the sentiment mix, per day (every day of the period)."""
    c = COUNTS.c
    q = (select(c.day, c.metric, c.bucket, func.sum(c.n))
         .where(c.metric.in_((IN, OUT, SENTIMENT)), scope.account_cells(), scope.days())
         .group_by(c.day, c.metric, c.bucket))
    days = {d: defaultdict(int) for d in range(scope.a, scope.b + 1)}
    for d, metric, bucket, n in session.execute(q):
        days[d][f"{SENTIMENT}:{LABELS[bucket]}" if metric == SENTIMENT else metric] += int(n)
    return days


def _row(counts: dict, hist: dict) -> dict:
    conversations, unanswered = counts.get(ACTIVE, 0), counts.get(UNANSWERED, 0)
    pending = counts.get("pending", 0)
    row = {
        "conversations": conversations,
        "unanswered": unanswered,
        "unanswered_rate": round(unanswered / conversations, 4) if conversations else None,
    }
    for metric, key in SECONDS_KEYS.items():
        count, median, p90 = hist.get(metric, (0, None, None))
        row[key] = {"median": _secs(median), "p90": _secs(p90), "count": count}
    row["volume"] = {"in": counts.get(IN, 0), "out": counts.get(OUT, 0)}
    row["sla"] = {"hit": counts.get(SLA_HIT, 0), "missed": counts.get(SLA_MISSED, 0) - pending, "pending": pending}
    row["awaiting"] = counts.get(AWAITING, 0)
    return row


def _secs(value) -> int | None:
    return None if value is None else int(round(float(value)))


def _sentiment(counts: dict) -> dict:
    return {label: counts.get(f"{SENTIMENT}:{label}", 0) for label in LABELS}


def _agent_names(session, agent_ids) -> dict[int, str]:
    ids = [g for g in agent_ids if g > 0]
    names = {UNASSIGNED: "unassigned", OUTSIDE: "outside Replydesk"}
    if ids:
        names.update({uid: name or email for uid, name, email in
                      session.execute(select(User.id, User.name, User.email).where(User.id.in_(ids)))})
    return defaultdict(lambda: "(deleted user)", names)


def _named(breach: dict, accounts: dict, names: dict) -> dict:
    return {**breach, "account": accounts[breach["account_id"]].name if breach["account_id"] in accounts else None,
            "agent": names[breach["agent_id"]]}


def _until_now(levels: dict[int, list[int]], now: datetime, s) -> dict[int, list[int]]:
    """Snapshots are taken at midnight; a day that has not ended yet has none."""
    today = now.astimezone(s.tz).date().toordinal()
    return {d: v for d, v in levels.items() if d < today}



def filter_choices(session) -> dict:
    """What a report can be narrowed to: accounts, channel kinds, staff."""
    accounts = [{"id": a.id, "name": a.name, "kind": a.kind}
                for a in session.execute(select(Account.id, Account.name, Account.kind).order_by(Account.name))]
    agents = [{"id": u.id, "name": u.name or u.email}
              for u in session.execute(select(User.id, User.name, User.email).order_by(User.name, User.email))]
    agents += [{"id": UNASSIGNED, "name": "unassigned"}, {"id": OUTSIDE, "name": "outside Replydesk"}]
    return {"accounts": accounts, "kinds": sorted({a["kind"] for a in accounts}), "agents": agents}

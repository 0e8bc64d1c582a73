"""What one conversation adds to the report tables: the definitions of every
report figure, in one pure function.

Built on inbox.derive (what a customer message and a response are), so the
report and the inbox cannot disagree:

- the *response* to a customer message is the next delivered outbound
  message of its conversation; replies sent outside Replydesk (the channel
  hands back our own message, no user) count, credited to "outside";
- *first response time*: from the first customer message to its response;
- *late*: a customer message answered after its SLA deadline, or not yet;
- a conversation is *unanswered* in a period when a customer message it
  received in the period is late (DESIGN.md: still awaiting reply, or
  answered later than the SLA);
- *resolution*: closed minus first customer message, counted on the day
  it was closed;
- *backlog*: a conversation is in it from the first customer message after
  our last response until the next response (`awaiting_since` in the
  inbox); snapshots are taken at each local midnight.

Spam and merged-away conversations contribute nothing; bounces,
auto-replies, notes and undelivered replies are neither customer messages
nor responses.

Who is credited: a response (and the first-response and SLA result it
settles) goes to the user who sent it; everything else (messages received,
unanswered, backlog, resolution, an SLA missed with no response) to the
conversation's assignee.

Contributions are keyed (metric, agent_id, day, bucket) -> [n, total]: days
are date ordinals in the report time zone, buckets depend on the metric.
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from inbox.derive import is_customer, is_response
from inbox.models import CLOSED
from inbox.reports.settings import Settings, due_at

# Metrics (report_counts.metric)
IN, OUT, SENTIMENT = "in", "out", "sentiment"
FIRST, RESPONSE, RESOLUTION = "first_response", "response", "resolution"
SLA_HIT, SLA_MISSED = "sla_hit", "sla_missed"
ACTIVE, UNANSWERED = "active", "unanswered"
BACKLOG, AWAITING = "backlog", "awaiting"
HISTOGRAMS = (FIRST, RESPONSE, RESOLUTION)
# Histograms of the summed cells are also kept per aligned block of 4 and
# 16 days (see ReportCount), so a long period reads a dozen rows per bucket.
SPANS = (1, 4, 16)

# agent_id values that are not users
UNASSIGNED, ALL_AGENTS, OUTSIDE = 0, -1, -2
ALL_ACCOUNTS = 0

LABELS = ("negative", "neutral", "positive", "unknown")
# Backlog age buckets: [from, to) in seconds.
AGES = ((0, 3600), (3600, 4 * 3600), (4 * 3600, 24 * 3600), (24 * 3600, None))
AGE_NAMES = ("lt_1h", "1h_4h", "4h_24h", "gt_24h")
# Activity rows carry the gap in days to the conversation's previous active
# day; the first active day has this gap, larger than any real one.
FIRST_GAP = 1_000_000
_ZERO = timedelta(0)
# Histogram resolution: 4 buckets per doubling (19 % wide); percentiles
# interpolate inside the bucket (see estimate), which keeps them within a
# few percent while a report reads half the rows 8 per doubling would need.
PER_DOUBLING = 4


def bucket_of(seconds: int) -> int:
    return 0 if seconds < 1 else 1 + int(math.floor(PER_DOUBLING * math.log2(seconds)))


def bucket_bounds(bucket: int) -> tuple[float, float]:
    """[low, high) seconds of a bucket."""
    if bucket == 0:
        return 0.0, 1.0
    return 2 ** ((bucket - 1) / PER_DOUBLING), 2 ** (bucket / PER_DOUBLING)


def estimate(bucket: int, n: int, total: int, rank: int) -> float:
    """The `rank`-th (1-based) of the `n` values in a bucket whose sum is
    `total`: their mean when there is one (exact), otherwise spread evenly
    around the mean, as widely as the bucket allows."""
    mean = total / n
    if n == 1:
        return mean
    low, high = bucket_bounds(bucket)
    width = 2 * max(0.0, min(mean - low, high - mean))
    return mean + width * ((rank - 0.5) / n - 0.5)


@dataclass(slots=True)
class Msg:
    """What the reports need of one message."""

    id: int
    direction: str
    auto: str | None
    created_at: datetime
    delivered: bool
    user_id: int | None
    label: str | None  # staff correction, else the scored label
    # is_customer / is_response of inbox.derive read only direction, auto and
    # delivered, which a Msg has too: the same definitions, no copy.


@dataclass(slots=True)
class Conv:
    id: int
    account_id: int
    kind: str | None
    assignee_id: int | None
    status: str
    closed_at: datetime | None
    spam: bool
    merged: bool


@dataclass(slots=True)
class Sla:
    """A conversation's first-response SLA, for the breach list."""

    agent_id: int
    first_day: int
    state: str  # hit | missed | open
    first_inbound_at: datetime
    due_at: datetime
    first_response_at: datetime | None


Key = tuple  # (metric, agent_id, day, bucket)


def local_day(t: datetime, s: Settings) -> int:
    if s.timezone == "UTC":  # the default, and the hook's hot path
        return t.toordinal() if t.utcoffset() == _ZERO else t.astimezone(timezone.utc).toordinal()
    return t.astimezone(s.tz).toordinal()


def snapshot_day(t: datetime, s: Settings) -> int:
    """The first day whose closing midnight is at or after `t`: a change at
    `t` shows in that day's backlog snapshot and every later one."""
    return local_day(t - timedelta(microseconds=1), s)


def responder(m: Msg) -> int:
    return m.user_id if m.user_id is not None else OUTSIDE


def contributions(conv: Conv, msgs: list[Msg], s: Settings) -> tuple[dict[Key, list[int]], Sla | None]:
    out: dict[Key, list[int]] = defaultdict(lambda: [0, 0])
    if conv.spam or conv.merged:
        return {}, None

    def add(metric: str, agent: int, day: int, bucket: int = 0, n: int = 1, total: int = 0) -> None:
        cell = out[(metric, agent, day, bucket)]
        cell[0] += n
        cell[1] += total

    ordered = sorted(msgs, key=lambda m: (m.created_at, m.id))  # ties as ingest orders them
    customers = [m for m in ordered if is_customer(m)]
    if not customers and not any(is_response(m) for m in ordered):
        return {}, None
    owner = conv.assignee_id if conv.assignee_id is not None else UNASSIGNED
    target = s.target_seconds(conv.account_id, conv.kind)

    # Each customer message's response; episodes = runs of customer
    # messages that one response (or none yet) ends.
    response_of: dict[int, Msg] = {}
    episodes: list[tuple[datetime, datetime | None]] = []
    waiting: list[Msg] = []
    for m in ordered:
        if is_customer(m):
            waiting.append(m)
        elif is_response(m):
            add(OUT, responder(m), local_day(m.created_at, s))
            for w in waiting:
                response_of[w.id] = m
            if waiting:
                episodes.append((waiting[0].created_at, m.created_at))
            waiting = []
    if waiting:
        # Closing without a reply leaves the backlog (nobody will act on it)
        # but stays unanswered below: the customer did not get an answer.
        closed = conv.closed_at if conv.status == CLOSED and conv.closed_at is not None else None
        episodes.append((waiting[0].created_at, max(closed, waiting[0].created_at) if closed else None))
        if closed is None:
            add(AWAITING, owner, 0)

    active: set[int] = set()
    late: set[int] = set()
    for m in customers:
        day = local_day(m.created_at, s)
        active.add(day)
        add(IN, owner, day)
        label = m.label if m.label in LABELS else "unknown"
        add(SENTIMENT, owner, day, LABELS.index(label))
        r = response_of.get(m.id)
        if r is not None:
            secs = _seconds(m.created_at, r.created_at)
            add(RESPONSE, responder(r), day, bucket_of(secs), 1, secs)
        if r is None or r.created_at > due_at(m.created_at, target, s):
            late.add(day)
    for metric, days in ((ACTIVE, active), (UNANSWERED, late)):
        prev = None
        for day in sorted(days):
            add(metric, owner, day, FIRST_GAP if prev is None else day - prev)
            prev = day

    sla = None
    if customers:
        first = customers[0]
        first_day = local_day(first.created_at, s)
        due = due_at(first.created_at, target, s)
        r = response_of.get(first.id)
        if r is not None:
            secs = _seconds(first.created_at, r.created_at)
            add(FIRST, responder(r), first_day, bucket_of(secs), 1, secs)
            state = "hit" if r.created_at <= due else "missed"
            add(SLA_HIT if state == "hit" else SLA_MISSED, responder(r), first_day)
            sla = Sla(responder(r), first_day, state, first.created_at, due, r.created_at)
        else:
            # Counted as missed now; the report takes back the ones whose
            # deadline is still ahead (state "open"), as time passes.
            add(SLA_MISSED, owner, first_day)
            sla = Sla(owner, first_day, "open", first.created_at, due, None)
        if conv.status == CLOSED and conv.closed_at is not None:
            secs = _seconds(first.created_at, conv.closed_at)
            add(RESOLUTION, owner, local_day(conv.closed_at, s), bucket_of(secs), 1, secs)

    for start, end in episodes:
        _backlog(add, owner, start, end, s)
    return {k: v for k, v in out.items() if v != [0, 0]}, sla


def _backlog(add, owner: int, start: datetime, end: datetime | None, s: Settings) -> None:
    """An episode is in age bucket b from start+from_b until start+to_b or its
    end: +1 on the first snapshot inside that span, -1 on the first after."""
    for b, (lo, hi) in enumerate(AGES):
        enter = start + timedelta(seconds=lo)
        leave = end if hi is None else (start + timedelta(seconds=hi) if end is None else
                                        min(end, start + timedelta(seconds=hi)))
        if leave is not None and leave <= enter:
            continue
        d_in = snapshot_day(enter, s)
        d_out = snapshot_day(leave, s) if leave is not None else None
        if d_in == d_out:
            continue  # no midnight inside the span
        add(BACKLOG, owner, d_in, b, 1)
        if d_out is not None:
            add(BACKLOG, owner, d_out, b, -1)


def _seconds(a: datetime, b: datetime) -> int:
    return max(0, round((b - a).total_seconds()))

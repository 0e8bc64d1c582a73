"""The report as tables: plain text for the terminal, CSV for spreadsheets.

One list of tables (TABLES) serves the CLI, the CSV downloads and the web
page, so a column added here appears everywhere.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Callable

GROUP_COLUMNS = [
    ("conversations", lambda r: r["conversations"]),
    ("unanswered", lambda r: r["unanswered"]),
    ("unanswered_rate", lambda r: r["unanswered_rate"]),
    ("first_response_median_s", lambda r: r["first_response_seconds"]["median"]),
    ("first_response_p90_s", lambda r: r["first_response_seconds"]["p90"]),
    ("response_median_s", lambda r: r["response_seconds"]["median"]),
    ("response_p90_s", lambda r: r["response_seconds"]["p90"]),
    ("resolution_median_s", lambda r: r["resolution_seconds"]["median"]),
    ("resolution_p90_s", lambda r: r["resolution_seconds"]["p90"]),
    ("messages_in", lambda r: r["volume"]["in"]),
    ("messages_out", lambda r: r["volume"]["out"]),
    ("sla_hit", lambda r: r["sla"]["hit"]),
    ("sla_missed", lambda r: r["sla"]["missed"]),
    ("sla_pending", lambda r: r["sla"]["pending"]),
    ("awaiting_now", lambda r: r["awaiting"]),
]


def _group(name_key: str) -> Callable[[dict], tuple[list[str], list[list]]]:
    def table(report: dict):
        rows = report[f"by_{name_key}"]
        return [name_key] + [c for c, _ in GROUP_COLUMNS], [[r[name_key]] + [f(r) for _, f in GROUP_COLUMNS] for r in rows]
    return table


def _summary(report: dict):
    row = {"channel": "all", **report}
    return ["period"] + [c for c, _ in GROUP_COLUMNS], [
        [f"{report['period']['since']}..{report['period']['until']}"] + [f(row) for _, f in GROUP_COLUMNS]]


def _days(key: str, columns: list[str], source: Callable[[dict], list[dict]] | None = None):
    def table(report: dict):
        rows = source(report) if source else report[key]["days"]
        return ["day", *columns], [[r["day"], *(r[c] for c in columns)] for r in rows]
    return table


def _breaches(report: dict):
    columns = ["conversation_id", "account", "agent", "subject", "received_at", "due_at", "answered_at", "late_seconds"]
    return columns, [[_plain(b[c]) for c in columns] for b in report["sla"]["breaches"]]


TABLES: dict[str, Callable[[dict], tuple[list[str], list[list]]]] = {
    "summary": _summary,
    "by_channel": _group("channel"),
    "by_account": _group("account"),
    "by_agent": _group("agent"),
    "volume": _days("volume", ["in", "out"]),
    "backlog": _days("backlog", ["total", "lt_1h", "1h_4h", "4h_24h", "gt_24h"]),
    "sentiment": _days("sentiment", ["negative", "neutral", "positive", "unknown"]),
    "breaches": _breaches,
}


def _plain(v):
    return v.isoformat(timespec="seconds") if hasattr(v, "isoformat") else v


def csv_tables(report: dict) -> dict[str, tuple[list[str], list[list]]]:
    return {name: make(report) for name, make in TABLES.items()}


def to_csv(report: dict, name: str) -> str:
    """One table as CSV text (header row first)."""
    if name not in TABLES:
        raise KeyError(f"no table {name!r}; tables: {', '.join(TABLES)}")
    header, rows = TABLES[name](report)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(header)
    w.writerows([["" if v is None else v for v in row] for row in rows])
    return out.getvalue()


def duration(seconds: int | None) -> str:
    """How a person says it: 45s, 12m, 3h 05m, 2d 4h."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d {seconds % 86400 // 3600}h"


def percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.1f} %"


def format_table(report: dict) -> str:
    p, sla, now = report["period"], report["sla"], report["backlog"]["now"]
    lines = [
        f"Replydesk report {p['since']} .. {p['until']} ({p['days']} days, {p['timezone']})",
        "",
        f"Unanswered rate      {percent(report['unanswered_rate'])} "
        f"({report['unanswered']} of {report['conversations']} conversations)",
        f"First response       median {duration(report['first_response_seconds']['median'])}, "
        f"p90 {duration(report['first_response_seconds']['p90'])}",
        f"Response (every msg) median {duration(report['response_seconds']['median'])}, "
        f"p90 {duration(report['response_seconds']['p90'])}",
        f"Resolution           median {duration(report['resolution_seconds']['median'])}, "
        f"p90 {duration(report['resolution_seconds']['p90'])}",
        f"SLA ({duration(sla['target_seconds'])}"
        + (f", {sla['business_hours']}" if sla["business_hours"] else "") + ")"
        + f"  hit {sla['hit']}, missed {sla['missed']}, pending {sla['pending']}",
        f"Volume               in {report['volume']['in']}, out {report['volume']['out']}",
        f"Awaiting reply now   {now['total']} (<1h {now['lt_1h']}, 1-4h {now['1h_4h']}, "
        f"4-24h {now['4h_24h']}, >24h {now['gt_24h']})",
    ]
    for key in ("channel", "account", "agent"):
        rows = report[f"by_{key}"]
        if not rows:
            continue
        header = [key, "convs", "unanswered", "first resp p50", "p90", "resp p50", "p90", "in", "out",
                  "SLA hit", "missed", "awaiting"]
        body = [[str(r[key]), str(r["conversations"]), percent(r["unanswered_rate"]),
                 duration(r["first_response_seconds"]["median"]), duration(r["first_response_seconds"]["p90"]),
                 duration(r["response_seconds"]["median"]), duration(r["response_seconds"]["p90"]),
                 str(r["volume"]["in"]), str(r["volume"]["out"]), str(r["sla"]["hit"]), str(r["sla"]["missed"]),
                 str(r["awaiting"])] for r in rows]
        lines += ["", *_align([header, *body])]
    if sla["breaches"]:
        lines += ["", f"SLA breaches (newest {len(sla['breaches'])}):"]
        lines += _align([["conversation", "account", "agent", "received", "late by"]] + [
            [str(b["conversation_id"]), str(b["account"]), b["agent"], _plain(b["received_at"]),
             duration(b["late_seconds"]) + ("" if b["answered_at"] else " (no reply yet)")]
            for b in sla["breaches"]])
    return "\n".join(lines) + "\n"


def _align(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
            for r in rows]

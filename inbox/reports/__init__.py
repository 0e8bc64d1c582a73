"""Manager reports: unanswered rate, response times, SLA, volume, backlog.

    build_report(session, since=..., until=...)  -> dict with stable keys
    format_table(report) -> str;  csv_tables(report) / to_csv(report, name)
    mark(session, conversation_ids)              -> the hook writers call
    catch_up(factory)                            -> bring the rollups up to date
    rebuild(factory) / apply_settings(factory, config)
"""
from inbox.reports.figures import build_report, filter_choices
from inbox.reports.scope import ReportError
from inbox.reports.tables import TABLES, csv_tables, format_table, to_csv
from inbox.reports.rollup import apply_settings, catch_up, mark, rebuild, track

__all__ = ["build_report", "filter_choices", "ReportError", "format_table", "csv_tables", "to_csv", "TABLES", "track", "mark",
           "catch_up", "rebuild",
           "apply_settings"]

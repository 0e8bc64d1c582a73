"""[sla] settings: checked with messages that name the key, deadlines in
business hours across a change of the clocks, stored once for every process."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from inbox.config import ConfigError, parse
from inbox.reports.settings import Settings, due_at, from_config

UTC = timezone.utc


def config(**sla):
    return parse({"sla": sla, "accounts": [{"name": "vip", "kind": "x", "sla_minutes": 15}]}, "replydesk.toml",
                 {"x": []}, env={})


@pytest.mark.parametrize("sla, message", [
    ({"timezone": "Mars/Olympus"}, 'key "timezone": unknown time zone \'Mars/Olympus\''),
    ({"business_hours": "9-5"}, 'key "business_hours": expected "HH:MM-HH:MM"'),
    ({"business_hours": "22:00-06:00"}, "hours across midnight are not supported"),
    ({"business_days": ["mon", "funday"]}, 'key "business_days": unknown day \'funday\''),
    ({"kind_minutes": {"x": 0}}, 'key "kind_minutes": x = 0; expected minutes above 0'),
    ({"first_response_minutes": 0}, 'key "first_response_minutes": must be more than 0'),
])
def test_mistakes_name_the_file_and_the_key(sla, message):
    with pytest.raises(ConfigError, match="^replydesk.toml: \\[sla\\]: ") as e:
        from_config(config(**sla), {"vip": 3})
    assert message in str(e.value)


def test_targets_account_over_kind_over_default():
    s = from_config(config(first_response_minutes=60, kind_minutes={"email": 240}), {"vip": 3})
    assert (s.target_seconds(3, "x"), s.target_seconds(4, "email"), s.target_seconds(5, "x")) == (900, 14400, 3600)


def test_deadlines_in_business_hours_across_the_change_of_the_clocks():
    s = Settings(timezone="Europe/Berlin", business_hours=(9 * 60, 17 * 60), business_days=(0, 1, 2, 3, 4))
    # Friday 23 October 16:30 CEST; the clocks go back on Sunday; Monday 09:00 is 08:00 UTC.
    friday = datetime(2026, 10, 23, 14, 30, tzinfo=UTC)
    assert due_at(friday, 3600, s) == datetime(2026, 10, 26, 8, 30, tzinfo=UTC)
    # Saturday: the clock starts on Monday morning; two days of eight hours end on Tuesday at 17:00.
    assert due_at(datetime(2026, 10, 24, 10, 0, tzinfo=UTC), 16 * 3600, s) == datetime(2026, 10, 27, 16, 0, tzinfo=UTC)
    # Around the clock when no business hours are set.
    assert due_at(friday, 3600, Settings()) == datetime(2026, 10, 23, 15, 30, tzinfo=UTC)


def test_settings_are_stored_once_and_a_change_rebuilds(desk):
    x = desk.account()
    desk.customer(x, datetime(2026, 11, 2, 9, 0, tzinfo=UTC), "t1")
    desk.reply("t1", desk.agent("Ada"), datetime(2026, 11, 2, 10, 30, tzinfo=UTC))  # 90 minutes
    from datetime import date

    assert desk.report(date(2026, 11, 2))["sla"]["hit"] == 1  # the default target is 4 hours
    desk.configure(sla={"first_response_minutes": 60})
    assert (desk.report(date(2026, 11, 2))["sla"]["hit"], desk.report(date(2026, 11, 2))["sla"]["missed"]) == (0, 1)
    from inbox.reports import ReportError, build_report

    with desk.factory() as s, pytest.raises(ReportError, match="run `replydesk report --rebuild`"):
        build_report(s, since=date(2026, 11, 2), until=date(2026, 11, 2), config=config(first_response_minutes=30))

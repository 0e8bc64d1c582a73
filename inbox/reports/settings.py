"""The settings the report tables are computed with: SLA targets, business
hours and the time zone whose midnights separate report days.

The rollups bake these in (a message is "late" against the target that
applied when it was counted), so they live in the database, the same for
every process that writes: `store` writes the config's version, `load`
reads it in the writer's transaction. When they change, the rollups are
rebuilt (see rollup.rebuild).
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, time, timedelta, timezone
from functools import cached_property
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from inbox.config import ConfigError
from inbox.models import Account, ReportSettings, utcnow

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


@dataclass(frozen=True)
class Settings:
    timezone: str = "UTC"
    default_minutes: int = 240
    kind_minutes: dict[str, int] = field(default_factory=dict)
    account_minutes: dict[str, int] = field(default_factory=dict)  # by account id, as text (JSON keys)
    business_hours: tuple[int, int] | None = None  # minutes after local midnight: open, close
    business_days: tuple[int, ...] = (0, 1, 2, 3, 4)  # Monday = 0

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def target_seconds(self, account_id: int, kind: str | None) -> int:
        minutes = self.account_minutes.get(str(account_id))
        if minutes is None:
            minutes = self.kind_minutes.get(kind or "", self.default_minutes)
        return minutes * 60

    def as_json(self) -> dict:
        d = asdict(self)
        d["business_hours"] = list(self.business_hours) if self.business_hours else None
        d["business_days"] = list(self.business_days)
        return d

    @classmethod
    def from_json(cls, d: dict) -> Settings:
        hours = d.get("business_hours")
        return cls(timezone=d["timezone"], default_minutes=d["default_minutes"],
                   kind_minutes=dict(d["kind_minutes"]), account_minutes=dict(d["account_minutes"]),
                   business_hours=tuple(hours) if hours else None, business_days=tuple(d["business_days"]))

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(self.as_json(), sort_keys=True).encode()).hexdigest()

    def describe_hours(self) -> str | None:
        if not self.business_hours:
            return None
        o, c = self.business_hours
        days = ", ".join(DAYS[d] for d in self.business_days)
        return f"{o // 60:02d}:{o % 60:02d}-{c // 60:02d}:{c % 60:02d} {days} ({self.timezone})"


def from_config(config, account_ids: dict[str, int]) -> Settings:
    """The [sla] section and accounts' `sla_minutes`, checked; errors name the
    file and the key. `account_ids` maps account names to database ids."""
    sla, where = config.sla, f"{config.path}: [sla]"
    try:
        ZoneInfo(sla["timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{where}: key \"timezone\": unknown time zone {sla['timezone']!r} "
                          f"(use an IANA name such as \"Europe/Berlin\" or \"UTC\")") from None
    if sla["first_response_minutes"] <= 0:
        raise ConfigError(f"{where}: key \"first_response_minutes\": must be more than 0")
    kinds = {}
    for kind, minutes in sla["kind_minutes"].items():
        if not isinstance(minutes, int) or isinstance(minutes, bool) or minutes <= 0:
            raise ConfigError(f"{where}: key \"kind_minutes\": {kind} = {minutes!r}; expected minutes above 0")
        kinds[kind] = minutes
    hours = None
    if sla["business_hours"]:
        m = _HOURS.match(sla["business_hours"].replace(" ", ""))
        if not m:
            raise ConfigError(f"{where}: key \"business_hours\": expected \"HH:MM-HH:MM\" such as \"09:00-17:00\", "
                              f"got {sla['business_hours']!r}")
        open_, close = int(m[1]) * 60 + int(m[2]), int(m[3]) * 60 + int(m[4])
        if close <= open_ or close > 24 * 60:
            raise ConfigError(f"{where}: key \"business_hours\": the end must be after the start on the same day "
                              f"(hours across midnight are not supported), got {sla['business_hours']!r}")
        hours = (open_, close)
    days = []
    for name in sla["business_days"]:
        if name.lower()[:3] not in DAYS:
            raise ConfigError(f"{where}: key \"business_days\": unknown day {name!r}; use {', '.join(DAYS)}")
        days.append(DAYS.index(name.lower()[:3]))
    if hours and not days:
        raise ConfigError(f"{where}: key \"business_days\": business_hours needs at least one day")
    accounts = {str(account_ids[a.name]): a.sla_minutes for a in config.accounts
                if a.sla_minutes is not None and a.name in account_ids}
    return Settings(timezone=sla["timezone"], default_minutes=sla["first_response_minutes"], kind_minutes=kinds,
                    account_minutes=accounts, business_hours=hours, business_days=tuple(sorted(set(days))))


def load(session: Session) -> Settings:
    """The settings the rollups are built with; the defaults until stored."""
    row = session.get(ReportSettings, 1)
    return Settings.from_json(row.settings) if row else Settings()


def store(session: Session, settings: Settings) -> bool:
    """Make `settings` the ones rollups are built with; True if they changed
    (the caller then rebuilds)."""
    row = session.get(ReportSettings, 1)
    if row is None:
        if settings == Settings():
            return False
        session.add(ReportSettings(id=1, fingerprint=settings.fingerprint(), settings=settings.as_json()))
        return True
    if row.fingerprint == settings.fingerprint():
        return False
    row.fingerprint, row.settings, row.updated_at = settings.fingerprint(), settings.as_json(), utcnow()
    return True


def from_config_in(session: Session, config) -> Settings:
    ids = dict(session.execute(select(Account.name, Account.id)).all())
    return from_config(config, ids)


def due_at(start: datetime, seconds: int, s: Settings) -> datetime:
    """When a message that arrived at `start` must have been answered: the
    target counted around the clock, or only within business hours."""
    if not s.business_hours:
        return start + timedelta(seconds=seconds)
    remaining = float(seconds)
    day = start.astimezone(s.tz).date()
    open_m, close_m = s.business_hours
    # Bounded: each business day consumes (close - open) of the target.
    for _ in range(int(seconds // 60 // max(1, close_m - open_m)) * 7 // max(1, len(s.business_days)) + 15):
        if day.weekday() in s.business_days:
            opens = _at(day, open_m, s.tz)
            closes = _at(day, close_m, s.tz)
            begin = max(opens, start)
            if begin < closes:
                available = (closes - begin).total_seconds()
                if remaining <= available:
                    return (begin + timedelta(seconds=remaining)).astimezone(timezone.utc)
                remaining -= available
        day += timedelta(days=1)
    raise AssertionError("business-hours deadline loop did not end")  # the bound above is generous


def _at(day, minutes: int, tz: ZoneInfo) -> datetime:
    """Local wall time `minutes` after midnight of `day`, as UTC (24:00 is the next midnight)."""
    if minutes >= 24 * 60:
        day, minutes = day + timedelta(days=1), minutes - 24 * 60
    return datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=tz).astimezone(timezone.utc)

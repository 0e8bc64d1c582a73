"""The one place that reads configuration.

Settings are data: each section is a list of `Setting`s (name, type,
default, help) that drives validation, `config.example.toml` and the README
(a meta-test keeps the three in step). Channel settings are declared by the
channel modules themselves and passed in by whoever loads the config, so the
inbox never imports `collectors`.

Secrets: any setting marked `secret` may instead be given as `<name>_env =
"VARIABLE"`, read from the environment at start-up. Values of secret
settings never appear in messages or reprs.
"""
from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_PATH = "replydesk.toml"
ENV_VAR = "REPLYDESK_CONFIG"


class ConfigError(Exception):
    """Stops start-up. The message names the file, the key and what is expected."""


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    type: type | str  # str, int, float, bool, or "list[str]"
    default: Any = None
    help: str = ""
    required: bool = False
    secret: bool = False
    choices: tuple[str, ...] | None = None
    example: Any = None  # shown in config.example.toml when there is no default


def _type_name(t: type | str) -> str:
    if isinstance(t, str):
        return {"list[str]": "a list of strings", "dict": "a table"}.get(t, t)
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false"}[t]


def _check_type(value: Any, t: type | str) -> bool:
    if t == "list[str]":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if t == "dict":
        return isinstance(value, dict)
    if t is bool:
        return isinstance(value, bool)
    if t is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if t is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, t)


DATABASE = [
    Setting("url", str, "sqlite:///replydesk.db",
            "SQLAlchemy URL. SQLite (default, WAL mode) is a file path: sqlite:///path/to/replydesk.db. "
            "PostgreSQL: postgresql+psycopg://user@host:5432/dbname", secret=True),
    Setting("echo", bool, False, "Log every SQL statement (debugging only)."),
]

WEB = [
    Setting("host", str, "127.0.0.1", "Address the web UI listens on."),
    Setting("port", int, 8000, "Port the web UI listens on."),
    Setting("secret_key", str, None,
            "Signs session cookies and CSRF tokens. Set it (or secret_key_env) in production; "
            "when missing a random key is made at start-up and sessions end at restart.", secret=True),
    Setting("secure_cookies", bool, True,
            "Send session cookies only over HTTPS. Turn off only for plain-HTTP local use."),
    Setting("undo_seconds", int, 10, "How long an agent can undo a reply before it is sent."),
    Setting("base_url", str, "", "Public address of the web UI, used in links the app prints."),
]

WORKER = [
    Setting("outbox_seconds", float, 2.0, "How often the worker looks for replies to send."),
    Setting("jitter_seconds", float, 2.0, "Random delay added to each poll so accounts do not poll in lockstep."),
    Setting("max_send_attempts", int, 6, "Attempts before a transiently failing reply is marked failed."),
    Setting("log_level", str, "info", "Logging level.", choices=("debug", "info", "warning", "error")),
]

SENTIMENT = [
    Setting("brand_names", "list[str]", [],
            "Names customers use for you; a question that names the brand raises urgency.", example=["Acme"]),
    Setting("scorer", str, "default", "Sentiment scorer: default (trained model), vader or textblob.",
            choices=("default", "vader", "textblob")),
    Setting("urgency_rules", str, "",
            "Path to a TOML file of urgency rules that replaces or extends the shipped defaults."),
]

SLA = [
    Setting("first_response_minutes", int, 240,
            "Default first-response target. Accounts may set their own `sla_minutes`."),
    Setting("kind_minutes", "dict", {},
            "First-response targets per channel kind, in minutes, e.g. { x = 60, email = 480 }; "
            "an account's own `sla_minutes` wins over these, these over first_response_minutes."),
    Setting("business_hours", str, "",
            "Count SLA time only within these local hours, e.g. \"09:00-17:00\"; empty counts around the clock."),
    Setting("business_days", "list[str]", ["mon", "tue", "wed", "thu", "fri"],
            "Days business_hours apply to (mon, tue, wed, thu, fri, sat, sun)."),
    Setting("timezone", str, "UTC",
            "Time zone (IANA name, e.g. Europe/Berlin) of business_hours and of the days in reports."),
]

# Keys every [[accounts]] table has, whatever its kind.
ACCOUNT_COMMON = [
    Setting("name", str, None, "Unique name of this account, shown in the inbox.", required=True,
            example="support"),
    Setting("kind", str, None, "Channel kind: email, x, reddit, maildir.", required=True, example="email"),
    Setting("enabled", bool, True, "Set false to keep the account but stop polling and sending."),
    Setting("sla_minutes", int, None, "First-response target for this account (overrides [sla])."),
]

SECTIONS: dict[str, list[Setting]] = {
    "database": DATABASE,
    "web": WEB,
    "worker": WORKER,
    "sentiment": SENTIMENT,
    "sla": SLA,
}


@dataclass
class AccountConfig:
    name: str
    kind: str
    enabled: bool
    sla_minutes: int | None
    settings: dict[str, Any]  # the channel's own keys, validated, secrets resolved

    def __repr__(self) -> str:  # never print secrets
        return f"AccountConfig(name={self.name!r}, kind={self.kind!r})"


@dataclass
class Config:
    path: str
    database: dict[str, Any]
    web: dict[str, Any]
    worker: dict[str, Any]
    sentiment: dict[str, Any]
    sla: dict[str, Any]
    accounts: list[AccountConfig] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"Config(path={self.path!r}, accounts={[a.name for a in self.accounts]!r})"

    def account(self, name: str) -> AccountConfig:
        for a in self.accounts:
            if a.name == name:
                return a
        known = ", ".join(a.name for a in self.accounts) or "none"
        raise ConfigError(f"{self.path}: no account named {name!r} (accounts: {known})")


def resolve_path(path: str | os.PathLike | None) -> Path:
    """--config PATH, else $REPLYDESK_CONFIG, else ./replydesk.toml."""
    return Path(path or os.environ.get(ENV_VAR) or DEFAULT_PATH)


def load(path: str | os.PathLike | None = None,
         channel_settings: Mapping[str, list[Setting]] | None = None,
         *, required: bool = True, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate the config file.

    `channel_settings` maps each known account kind to its settings (the
    collectors' registry provides it). With `required=False` a missing file
    gives the defaults (used by `replydesk demo`, which writes its own).
    """
    p = resolve_path(path)
    if not p.exists():
        if required:
            raise ConfigError(
                f"{p}: config file not found. Copy config.example.toml to {p} and edit it, "
                f"or point --config / ${ENV_VAR} at your file.")
        data: dict[str, Any] = {}
    else:
        try:
            with open(p, "rb") as f:
                data = tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{p}: not valid TOML: {e}") from None
    return parse(data, str(p), channel_settings or {}, env=os.environ if env is None else env)


def parse(data: Mapping[str, Any], path: str, channel_settings: Mapping[str, list[Setting]],
          *, env: Mapping[str, str]) -> Config:
    known_top = set(SECTIONS) | {"accounts"}
    for key in data:
        if key not in known_top:
            raise ConfigError(_unknown(path, key, "top level", known_top))
    sections = {}
    for section, settings in SECTIONS.items():
        raw = data.get(section, {})
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: [{section}] must be a table, got {_show(raw)}")
        sections[section] = validate(raw, settings, path, f"[{section}]", env=env)

    raw_accounts = data.get("accounts", [])
    if not isinstance(raw_accounts, list) or not all(isinstance(a, dict) for a in raw_accounts):
        raise ConfigError(f"{path}: accounts must be written as [[accounts]] tables")
    accounts: list[AccountConfig] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_accounts, start=1):
        where = f"[[accounts]] #{i}" + (f" (name {raw['name']!r})" if isinstance(raw.get("name"), str) else "")
        kind = raw.get("kind")
        if kind is None:
            raise ConfigError(f"{path}: {where}: missing required key \"kind\" "
                              f"(one of: {', '.join(sorted(channel_settings)) or 'none registered'})")
        if kind not in channel_settings:
            raise ConfigError(f"{path}: {where}: key \"kind\": unknown channel kind {kind!r}; "
                              f"expected one of: {', '.join(sorted(channel_settings))}")
        values = validate(raw, ACCOUNT_COMMON + list(channel_settings[kind]), path, where, env=env)
        name = values["name"]
        if name in seen:
            raise ConfigError(f"{path}: {where}: key \"name\": {name!r} is used by two accounts; names must be unique")
        seen.add(name)
        common = {s.name for s in ACCOUNT_COMMON}
        accounts.append(AccountConfig(
            name=name, kind=kind, enabled=values["enabled"], sla_minutes=values["sla_minutes"],
            settings={k: v for k, v in values.items() if k not in common}))
    return Config(path=path, accounts=accounts, **sections)


def validate(raw: Mapping[str, Any], settings: Iterable[Setting], path: str, where: str,
             *, env: Mapping[str, str]) -> dict[str, Any]:
    """Check one table against its settings; return values with defaults and
    secrets from the environment filled in."""
    by_name = {s.name: s for s in settings}
    allowed = set(by_name) | {f"{s.name}_env" for s in by_name.values() if s.secret}
    for key in raw:
        if key not in allowed:
            raise ConfigError(_unknown(path, key, where, allowed))
    out: dict[str, Any] = {}
    for s in by_name.values():
        env_key = f"{s.name}_env"
        if s.secret and env_key in raw:
            if s.name in raw:
                raise ConfigError(f"{path}: {where}: give either \"{s.name}\" or \"{env_key}\", not both")
            var = raw[env_key]
            if not isinstance(var, str) or not var:
                raise ConfigError(f"{path}: {where}: key \"{env_key}\": expected the name of an environment variable")
            if var not in env:
                raise ConfigError(f"{path}: {where}: key \"{env_key}\": environment variable {var} is not set "
                                  f"(it should hold {s.name})")
            value: Any = env[var]
        elif s.name in raw:
            value = raw[s.name]
        elif s.required:
            hint = f", e.g. {s.name} = {_toml(s.example)}" if s.example is not None else ""
            raise ConfigError(f"{path}: {where}: missing required key \"{s.name}\" "
                              f"({_type_name(s.type)}: {s.help}{hint})")
        else:
            out[s.name] = s.default
            continue
        if not _check_type(value, s.type):
            shown = "(hidden)" if s.secret else _show(value)
            raise ConfigError(f"{path}: {where}: key \"{s.name}\": expected {_type_name(s.type)}, got {shown}")
        if s.choices and value not in s.choices:
            raise ConfigError(f"{path}: {where}: key \"{s.name}\": expected one of "
                              f"{', '.join(map(repr, s.choices))}, got {_show(value)}")
        out[s.name] = value
    return out


def _unknown(path: str, key: str, where: str, allowed: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, sorted(allowed), n=1)
    hint = f"; did you mean \"{close[0]}\"?" if close else f"; known keys: {', '.join(sorted(allowed))}"
    return f"{path}: {where}: unknown key \"{key}\"{hint}"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)


def example_lines(settings: Iterable[Setting]) -> list[str]:
    """Lines of config.example.toml for one table: a comment per key."""
    lines: list[str] = []
    for s in settings:
        lines.append(f"# {s.help}" + (f" One of: {', '.join(s.choices)}." if s.choices else ""))
        if s.secret:
            lines.append(f"# Secret: may be given as {s.name}_env = \"VARIABLE\" to read it from the environment.")
        if s.required:
            lines.append(f"{s.name} = {_toml(s.example if s.example is not None else s.default)}")
        elif s.example is not None:
            lines.append(f"# {s.name} = {_toml(s.example)}")
        elif s.default is None:
            lines.append(f"# {s.name} =")
        else:
            lines.append(f"# {s.name} = {_toml(s.default)}")
    return lines

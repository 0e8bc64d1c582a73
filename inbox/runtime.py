"""Everything a command needs once the config is read: engine and sessions."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

import sentiment
from inbox import db
from inbox.accounts import sync_accounts
from inbox.config import Config, ConfigError


@dataclass
class Runtime:
    config: Config
    engine: Engine
    factory: sessionmaker[Session]  # for work that writes
    reader: sessionmaker[Session]  # for pages and reports

    def close(self) -> None:
        self.engine.dispose()


def configure_sentiment(config: Config) -> None:
    s = config.sentiment
    try:
        sentiment.configure(brand_names=s["brand_names"], rules_path=s["urgency_rules"] or None, scorer=s["scorer"])
    except sentiment.RulesError as e:
        raise ConfigError(f"{config.path}: [sentiment] urgency_rules: {e}") from None


def open_runtime(config: Config, *, upgrade: bool = False) -> Runtime:
    """Connect to the database named in the config. With `upgrade`, create
    or upgrade the schema; otherwise an old or missing schema stops here
    with the command that fixes it."""
    url = config.database["url"]
    engine = db.make_engine(url, echo=config.database["echo"])
    try:
        current, head = db.schema_state(engine)
    except Exception as exc:
        engine.dispose()
        raise ConfigError(f"{config.path}: [database] url: cannot reach {db.safe_url(url)}: "
                          f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
    if current != head:
        if not upgrade:
            engine.dispose()
            what = "has no Replydesk schema" if current is None else f"has schema revision {current}, this version needs {head}"
            raise ConfigError(f"the database {db.safe_url(url)} {what}: run `replydesk init` "
                              f"(with --config {config.path})")
        db.upgrade(engine)
    configure_sentiment(config)
    rt = Runtime(config, engine, db.session_factory(engine), db.reader_factory(engine))
    with rt.factory.begin() as session:
        sync_accounts(session, config.accounts)
    return rt

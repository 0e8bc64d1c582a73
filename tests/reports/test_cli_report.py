"""`replydesk report` as a user runs it: stable JSON keys, table, CSV."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from inbox import db
from inbox.channel import Batch, InboundItem
from inbox.ingest import store_batch
from inbox.models import Account
from webui.cli import main

STABLE = {"unanswered_rate", "first_response_seconds", "response_seconds", "resolution_seconds", "volume", "sla",
          "backlog", "by_channel", "by_account", "by_agent"}


@pytest.fixture
def config(tmp_path) -> Path:
    path = tmp_path / "replydesk.toml"
    path.write_text(f"""[database]
url = "sqlite:///{tmp_path}/rd.db"

[sla]
first_response_minutes = 30

[[accounts]]
name = "acme-x"
kind = "x"
""")
    r = run(path, "init")
    assert r.exit_code == 0, r.output
    engine = db.make_engine(f"sqlite:///{tmp_path}/rd.db")
    factory = db.session_factory(engine)
    t = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
    with factory.begin() as s:
        from sqlalchemy import select

        acc = s.scalar(select(Account).where(Account.name == "acme-x"))
        store_batch(s, acc, Batch(items=[
            InboundItem(external_id="1", created_at=t, text="@acme hello?", author_id="42", thread_key="1"),
            InboundItem(external_id="2", created_at=t + timedelta(minutes=20), text="@nina sorted, thanks",
                        author_id="7", thread_key="1", from_self=True)]))
    engine.dispose()
    return path


def run(config: Path, *args):
    return CliRunner().invoke(main, ["--config", str(config), *args], catch_exceptions=False)


def test_json_has_the_stable_keys(config):
    r = run(config, "report", "--since", "2026-11-01", "--until", "2026-11-03", "--format", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)  # stderr says the SLA settings were stored
    assert STABLE <= set(data)
    assert data["first_response_seconds"] == {"median": 1200, "p90": 1200, "count": 1}
    assert data["sla"]["target_seconds"] == 1800 and data["sla"]["hit"] == 1
    assert data["by_channel"][0]["channel"] == "x"
    assert [a["agent"] for a in data["by_agent"]] == ["unassigned", "outside Replydesk"]


def test_table_and_csv(config):
    r = run(config, "report", "--since", "2026-11-02", "--until", "2026-11-02")
    assert r.exit_code == 0 and "Unanswered rate      0.0 % (0 of 1 conversations)" in r.output
    assert "First response       median 20m, p90 20m" in r.output
    r = run(config, "report", "--since", "2026-11-02", "--until", "2026-11-02", "--csv", "by_account")
    assert r.stdout.splitlines()[0].startswith("account,conversations,unanswered,unanswered_rate,")
    assert r.stdout.splitlines()[1].startswith("acme-x,1,0,0.0,1200,1200,")


def test_mistakes_are_one_clear_line(config):
    r = run(config, "report", "--since", "November")
    assert r.exit_code == 2 and "'November' is not a date like 2026-11-01" in r.output
    r = run(config, "report", "--account", "nope")
    assert r.exit_code == 1 and "no account 'nope' (accounts: acme-x)" in r.output
    r = run(config, "report", "--since", "2026-11-05", "--until", "2026-11-01")
    assert r.exit_code == 1 and "ends (2026-11-01) before it starts (2026-11-05)" in r.output

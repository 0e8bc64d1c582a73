"""The `replydesk` command, run as a user runs it (a real subprocess where
it matters: exit codes, stderr, signals)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from inbox import db
from inbox.channel import Batch, InboundItem
from inbox.ingest import store_batch
from inbox.models import Account
from webui.cli import main


@pytest.fixture
def config(tmp_path) -> Path:
    path = tmp_path / "replydesk.toml"
    path.write_text(f'[database]\nurl = "sqlite:///{tmp_path}/rd.db"\n')
    return path


def run(config: Path, *args, input=None):
    result = CliRunner().invoke(main, ["--config", str(config), *args], input=input, catch_exceptions=False)
    return result


def test_init_then_user_add(config):
    r = run(config, "init")
    assert r.exit_code == 0 and "schema created at revision" in r.output
    assert "up to date" in run(config, "init").output
    r = run(config, "user", "add", "Ada@Example.com", "--role", "admin", "--name", "Ada", "--password-stdin",
            input="long enough password\n")
    assert r.exit_code == 0 and "added ada@example.com (admin)" in r.output
    r = run(config, "user", "add", "ada@example.com", "--password-stdin", input="long enough password\n")
    assert r.exit_code == 1 and "already exists" in r.output
    r = run(config, "user", "add", "bob@example.com", "--password-stdin", input="short\n")
    assert r.exit_code == 1 and "at least 10 characters" in r.output


def test_commands_refuse_a_database_without_schema(config):
    r = run(config, "export")
    assert r.exit_code == 2
    assert "has no Replydesk schema: run `replydesk init`" in r.output


def test_config_error_is_one_clear_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[web]\nprot = 8000\n')
    r = run(bad, "init")
    assert r.exit_code == 2
    assert r.output.strip() == f'replydesk: configuration error: {bad}: [web]: unknown key "prot"; did you mean "port"?'


def test_export_json_lines(config, tmp_path):
    run(config, "init")
    engine = db.make_engine(f"sqlite:///{tmp_path}/rd.db")
    factory = db.session_factory(engine)
    with factory.begin() as s:
        acc = Account(name="acme-x", kind="x")
        s.add(acc)
        s.flush()
        store_batch(s, acc, Batch(items=[
            InboundItem(external_id="1", created_at=datetime(2026, 11, 1, 10, tzinfo=timezone.utc),
                        text="I want a refund now", author_id="u1", author_handle="@nina", thread_key="t"),
            InboundItem(external_id="2", created_at=datetime(2026, 11, 3, 10, tzinfo=timezone.utc),
                        text="hello", author_id="u2", author_handle="@olek", thread_key="u")]))
    engine.dispose()
    lines = run(config, "export").output.strip().splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert set(first) >= {"conversation_id", "account", "kind", "external_id", "direction", "author", "subject",
                          "text", "created_at", "sentiment", "urgency", "status", "awaiting_reply"}
    assert (first["account"], first["kind"], first["direction"], first["author"]) == ("acme-x", "x", "in", "@nina")
    assert first["awaiting_reply"] is True and first["sentiment"]["label"]
    assert isinstance(first["urgency"]["reasons"], list)
    since = run(config, "export", "--since", "2026-11-02").output.strip().splitlines()
    assert [json.loads(x)["external_id"] for x in since] == ["2"]
    assert "not an ISO 8601" in run(config, "export", "--since", "yesterday").output


def test_collect_and_send_with_no_accounts(config):
    run(config, "init")
    assert run(config, "collect", "--once").exit_code == 0
    r = run(config, "send", "--once")
    assert r.exit_code == 0 and "sent 0" in r.output


def test_console_script_runs_from_the_environment(config):
    env = {**os.environ, "REPLYDESK_CONFIG": str(config)}
    r = subprocess.run([sys.executable, "-m", "webui.cli", "init"], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "schema created" in r.stdout


def test_sentiment_corrections_are_exported_for_training(config, tmp_path):
    from sqlalchemy import select

    from inbox import workflow as wf
    from inbox.models import Message
    from inbox.users import add_user

    run(config, "init")
    engine = db.make_engine(f"sqlite:///{tmp_path}/rd.db")
    factory = db.session_factory(engine)
    with factory.begin() as s:
        acc = Account(name="acme-x", kind="x")
        s.add(acc)
        s.flush()
        store_batch(s, acc, Batch(items=[InboundItem(
            external_id="1", created_at=datetime(2026, 11, 1, 10, tzinfo=timezone.utc),
            text="not bad at all, thanks for the fix", author_id="u1", thread_key="t", lang="en")]))
        ada = add_user(s, "ada@example.com", "correct horse battery")
        wf.correct_sentiment(s, s.scalar(select(Message)), "positive", by=ada)
    engine.dispose()
    r = CliRunner().invoke(main, ["--config", str(config), "sentiment", "export-corrections"])
    assert r.exit_code == 0, r.output
    rows = [line for line in r.output.splitlines() if "\t" in line]
    assert len(rows) == 1
    ident, label, text = rows[0].split("\t")
    assert (label, text) == ("positive", "not bad at all, thanks for the fix")

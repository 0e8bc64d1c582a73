"""The `replydesk` command.

This module is the composition root: the one place that wires the web app,
the collectors and the inbox together (the packages themselves keep to
webui -> inbox and collectors -> inbox). Commands stay thin: read options,
call one function of the domain, print the outcome.
"""
from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone

import click

from inbox.config import ConfigError, load

log = logging.getLogger("replydesk")


class State:
    def __init__(self, config_path: str | None, verbose: bool):
        self.config_path = config_path
        self.verbose = verbose
        self._config = None

    @property
    def config(self):
        if self._config is None:
            from collectors.registry import settings_by_kind

            self._config = load(self.config_path, settings_by_kind())
        return self._config

    def runtime(self, *, upgrade: bool = False):
        from inbox.runtime import open_runtime

        return open_runtime(self.config, upgrade=upgrade)


def setup_logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    # Libraries log request URLs and headers at debug level: keep them quiet.
    for noisy in ("urllib3", "requests_oauthlib", "oauthlib", "prawcore", "tweepy", "imapclient"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # "skipped: maximum number of running instances" is the schedule working
    # as meant (one poll per account at a time), not news for anyone.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)


class ReplydeskGroup(click.Group):
    """Turns configuration errors into one clear line and exit code 2."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ConfigError as e:
            click.echo(f"replydesk: configuration error: {e}", err=True)
            ctx.exit(2)


@click.group(cls=ReplydeskGroup)
@click.option("--config", "config_path", metavar="PATH", envvar="REPLYDESK_CONFIG",
              help="Config file (default: $REPLYDESK_CONFIG or ./replydesk.toml).")
@click.option("-v", "--verbose", is_flag=True, help="Log debug details.")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, verbose: bool) -> None:
    """Replydesk: one inbox for X, Reddit and email; replies go back where they came from."""
    ctx.obj = State(config_path, verbose)


def _level(state: State) -> str:
    return "debug" if state.verbose else state.config.worker["log_level"]


@main.command()
@click.pass_obj
def init(state: State) -> None:
    """Create or upgrade the database schema."""
    from inbox import db

    engine = db.make_engine(state.config.database["url"])
    try:
        click.echo(db.upgrade(engine))
    finally:
        engine.dispose()
    rt = state.runtime()
    try:
        from inbox.reports import apply_settings

        if apply_settings(rt.factory, state.config, progress=lambda done, total: click.echo(
                f"report tables: {done}/{total} conversations", err=True)):
            click.echo("report tables rebuilt for the [sla] settings")
    finally:
        rt.close()
    click.echo(f"{len(state.config.accounts)} account(s) configured: "
               f"{', '.join(a.name for a in state.config.accounts) or 'none yet (add [[accounts]] to the config)'}")


@main.group()
def user() -> None:
    """Manage staff users."""


@user.command("add")
@click.argument("email")
@click.option("--role", type=click.Choice(["agent", "manager", "admin"]), default="agent", show_default=True)
@click.option("--name", default="", help="Full name shown to colleagues and in {agent_name}.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input instead of a prompt.")
@click.pass_obj
def user_add(state: State, email: str, role: str, name: str, password_stdin: bool) -> None:
    """Add a user who can sign in to the web UI."""
    from inbox.users import add_user
    from inbox.workflow import WorkflowError

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    rt = state.runtime()
    try:
        with rt.factory.begin() as session:
            u = add_user(session, email, password, role=role, name=name)
            click.echo(f"added {u.email} ({u.role})")
    except WorkflowError as e:
        raise click.ClickException(str(e)) from None
    finally:
        rt.close()


@main.command()
@click.option("--once", is_flag=True, required=True, help="Poll every account once and exit.")
@click.option("--account", metavar="NAME", help="Only this account.")
@click.pass_obj
def collect(state: State, once: bool, account: str | None) -> None:
    """Fetch new messages (use `replydesk worker` to keep collecting)."""
    from collectors.worker import run_once_all

    setup_logging(_level(state))
    if account:
        state.config.account(account)
    rt = state.runtime()
    try:
        results = run_once_all(state.config, rt.factory, account)
    finally:
        rt.close()
    for r in results:
        line = f"{r.account}: new {r.new}, duplicates {r.duplicates}, flagged {r.flagged}, failed {r.failed}"
        if r.skipped:
            line += f" (skipped: {r.skipped})"
        if r.error:
            line += f" - {r.error}"
        click.echo(line)
    if any(r.error for r in results):
        sys.exit(1)


def _channels(config, only=None):
    from collectors.registry import make_channel

    return {a.name: make_channel(a) for a in config.accounts if a.enabled and (only is None or a.name == only)}


@main.command()
@click.option("--once", is_flag=True, required=True, help="Drain the outbox once and exit.")
@click.pass_obj
def send(state: State, once: bool) -> None:
    """Send queued replies whose undo window has passed."""
    from collectors.runner import send_due

    setup_logging(_level(state))
    rt = state.runtime()
    channels = _channels(state.config)
    try:
        r = send_due(channels, rt.factory, limit=10_000, max_attempts=state.config.worker["max_send_attempts"])
    finally:
        for c in channels.values():
            c.close()
        rt.close()
    click.echo(f"sent {r.sent}, found already posted {r.reconciled}, will retry {r.retried}, failed {r.failed}")
    if r.failed:
        sys.exit(1)


@main.command()
@click.argument("conversation_id", type=int)
@click.option("--text", required=True, help="The reply.")
@click.option("--as", "as_email", required=True, metavar="EMAIL", help="The user sending it.")
@click.option("--now", is_flag=True, help="Send at once instead of leaving it to the worker.")
@click.pass_obj
def reply(state: State, conversation_id: int, text: str, as_email: str, now: bool) -> None:
    """Queue a reply to a conversation (sent by the worker, or at once with --now)."""
    from sqlalchemy import select

    from inbox.models import User
    from inbox.workflow import WorkflowError, get_conversation, queue_reply

    rt = state.runtime()
    try:
        with rt.factory.begin() as session:
            agent = session.scalar(select(User).where(User.email == as_email.strip().lower()))
            if agent is None:
                raise click.ClickException(f"no user {as_email}; add one with `replydesk user add`")
            r = queue_reply(session, get_conversation(session, conversation_id), text, by=agent)
            reply_id = r.id
        click.echo(f"reply {reply_id} queued on conversation {conversation_id}")
        if now:
            from collectors.runner import send_due

            channels = _channels(state.config)
            result = send_due(channels, rt.factory)
            click.echo(f"sent {result.sent}, will retry {result.retried}, failed {result.failed}")
    except WorkflowError as e:
        raise click.ClickException(str(e)) from None
    finally:
        rt.close()


@main.command()
@click.option("--since", metavar="ISO", help="Only messages created at or after this time (e.g. 2026-11-01 or 2026-11-01T08:00Z).")
@click.pass_obj
def export(state: State, since: str | None) -> None:
    """Write every message as JSON Lines to standard output."""
    from inbox.export import export_messages

    since_at = _parse_time(since) if since else None
    rt = state.runtime()
    try:
        with rt.reader() as session:
            out = sys.stdout
            for record in export_messages(session, since_at):
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
    finally:
        rt.close()


def _parse_time(value: str) -> datetime:
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 date or time (e.g. 2026-11-01T08:00Z)") from None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


@main.command()
@click.pass_obj
def worker(state: State) -> None:
    """Poll accounts and send replies until stopped (SIGTERM/Ctrl-C)."""
    from collectors.worker import Worker

    setup_logging(_level(state))
    rt = state.runtime()
    try:
        Worker(state.config, rt.factory).run_forever()
    finally:
        rt.close()


def make_web_app(state: State):
    from webui.app import create_app

    return create_app(state.config)


@main.command()
@click.option("--host", help="Overrides [web] host.")
@click.option("--port", type=int, help="Overrides [web] port.")
@click.pass_obj
def web(state: State, host: str | None, port: int | None) -> None:
    """Serve the web UI (one process; use gunicorn for more, see the README)."""
    setup_logging(_level(state))
    app = make_web_app(state)
    host = host or state.config.web["host"]
    port = port or state.config.web["port"]
    click.echo(f"Replydesk web UI at http://{host}:{port}/")
    app.run(host=host, port=port, threaded=True, use_reloader=False)


@main.command()
@click.option("--host", help="Overrides [web] host.")
@click.option("--port", type=int, help="Overrides [web] port.")
@click.pass_obj
def run(state: State, host: str | None, port: int | None) -> None:
    """Web UI and worker together on one machine (creates the schema if needed)."""
    import threading

    from collectors.worker import Worker

    setup_logging(_level(state))
    rt = state.runtime(upgrade=True)
    w = Worker(state.config, rt.factory)
    w.start()
    app = make_web_app(state)
    host = host or state.config.web["host"]
    port = port or state.config.web["port"]
    click.echo(f"Replydesk web UI at http://{host}:{port}/ (worker running)")
    try:
        server = threading.Thread(target=app.run, kwargs={"host": host, "port": port, "threaded": True,
                                                          "use_reloader": False}, daemon=True)
        server.start()
        w.run_until_signal()
    finally:
        w.shutdown()
        rt.close()


@main.command()
@click.option("--dir", "folder", metavar="DIR", help="Keep the demo's database and config here (default: a temporary folder).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8000, show_default=True, help="0 picks a free port.")
@click.option("--every", type=float, default=6.0, show_default=True, help="Seconds between new demo messages.")
@click.option("--maildir", is_flag=True, help="Use a Maildir folder for email even when Dovecot is installed.")
@click.option("--no-browser", is_flag=True, help="Do not open a browser window.")
def demo(folder: str | None, host: str, port: int, every: float, maildir: bool, no_browser: bool) -> None:
    """Run the whole product with demo traffic: no config, nothing to install."""
    import signal

    from webui.demo import run_demo

    setup_logging("warning")

    def stop(signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    run_demo(folder, host=host, port=port, every=every, open_browser=not no_browser, use_dovecot=not maildir)


@main.command()
@click.pass_obj
def doctor(state: State) -> None:
    """Check the config and every account; say what works and what to fix."""
    from collectors.registry import make_channel
    from inbox import db

    ok_all = True
    click.echo(f"config: {state.config.path}: OK ({len(state.config.accounts)} account(s))")
    url = state.config.database["url"]
    try:
        engine = db.make_engine(url)
        current, head = db.schema_state(engine)
        engine.dispose()
        if current == head:
            click.echo(f"database: {db.safe_url(url)}: OK (revision {head})")
        else:
            ok_all = False
            click.echo(f"database: {db.safe_url(url)}: schema {current or 'missing'}, needs {head}: run `replydesk init`")
    except Exception as e:
        ok_all = False
        click.echo(f"database: {db.safe_url(url)}: cannot connect ({type(e).__name__}): check [database] url")
    for acc in state.config.accounts:
        if not acc.enabled:
            click.echo(f"account {acc.name} ({acc.kind}): disabled in the config")
            continue
        channel = make_channel(acc)
        try:
            checks = channel.check()
        except Exception as e:
            from collectors.runner import redact

            checks = [(False, redact(f"{type(e).__name__}: {e}", channel))]
        finally:
            channel.close()
        for ok, what in checks:
            ok_all &= ok
            click.echo(f"account {acc.name} ({acc.kind}): {'OK' if ok else 'PROBLEM'}: {what}")
    sys.exit(0 if ok_all else 1)


@main.group("sentiment")
def sentiment_group() -> None:
    """Sentiment model helpers."""


@sentiment_group.command("export-corrections")
@click.option("--output", "-o", type=click.File("w"), default="-", help="File to write (default: standard output).")
@click.pass_obj
def export_corrections(state: State, output) -> None:
    """Staff corrections of sentiment labels, as a training file for `python -m sentiment.train --extra`."""
    from inbox.corrections import corrections
    from sentiment.corrections import Correction, write_tsv

    rt = state.runtime()
    try:
        with rt.reader() as session:
            n = write_tsv((Correction(text=c["text"], predicted=c["predicted"], corrected=c["label"],
                                      lang=c["lang"], id=c["id"]) for c in corrections(session)), output)
    finally:
        rt.close()
    click.echo(f"{n} correction(s) exported", err=True)


@main.command("report")
@click.option("--since", metavar="DATE", help="First day, e.g. 2026-11-01 (default: 29 days before --until).")
@click.option("--until", metavar="DATE", help="Last day, included (default: today in [sla] timezone).")
@click.option("--account", metavar="NAME", help="Only this account.")
@click.option("--channel", "kind", metavar="KIND", help="Only accounts of this kind: x, reddit, email, maildir.")
@click.option("--agent", metavar="EMAIL", help="Only this agent's conversations and replies.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--csv", "table", metavar="TABLE", help="Print one table as CSV instead: summary, by_channel, "
              "by_account, by_agent, volume, backlog, sentiment, breaches.")
@click.option("--rebuild", "rebuild_first", is_flag=True, help="Recompute the report tables from every message first.")
@click.pass_obj
def report(state: State, since, until, account, kind, agent, fmt, table, rebuild_first) -> None:
    """Manager report: unanswered rate, response times, SLA, volume, backlog."""
    from datetime import date, timedelta
    from zoneinfo import ZoneInfo

    from sqlalchemy import select

    from inbox.models import User
    from inbox.reports import (
        TABLES, ReportError, apply_settings, build_report, catch_up, format_table, rebuild, to_csv,
    )

    def day(value, name):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise click.BadParameter(f"{value!r} is not a date like 2026-11-01", param_hint=name) from None

    if table and table not in TABLES:
        raise click.BadParameter(f"one of {', '.join(TABLES)}", param_hint="--csv")
    last = day(until, "--until") if until else datetime.now(ZoneInfo(state.config.sla["timezone"])).date()
    first = day(since, "--since") if since else last - timedelta(days=29)
    progress = lambda done, total: click.echo(f"report tables: {done}/{total} conversations", err=True)  # noqa: E731
    rt = state.runtime()
    try:
        if apply_settings(rt.factory, state.config, progress=progress):
            click.echo("SLA settings changed: report tables rebuilt", err=True)
        elif rebuild_first:
            rebuild(rt.factory, progress=progress)
        catch_up(rt.factory)  # what changed in the last seconds, before the worker got to it
        with rt.reader() as session:
            agent_id = None
            if agent:
                agent_id = session.scalar(select(User.id).where(User.email == agent.strip().lower()))
                if agent_id is None:
                    raise click.ClickException(f"no user {agent}")
            data = build_report(session, since=first, until=last, account=account, kind=kind, agent_id=agent_id,
                                config=state.config)
    except ReportError as e:
        raise click.ClickException(str(e)) from None
    finally:
        rt.close()
    if table:
        click.echo(to_csv(data, table), nl=False)
    elif fmt == "json":
        click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=lambda v: v.isoformat()))
    else:
        click.echo(format_table(data), nl=False)


if __name__ == "__main__":
    main()

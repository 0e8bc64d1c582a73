"""`replydesk demo`: the whole product, working, with nothing to configure.

It starts local stand-ins of the X and Reddit APIs and an SMTP server,
Dovecot as the IMAP server when one is installed (else a Maildir folder read
by the `maildir` channel), writes a config that points real accounts at
them through the same keys a deployment uses (`api_url`, `oauth_url`,
`imap_host`, `smtp_host`), and runs the real worker and web UI on SQLite.
Scripted customers (content.toml) write in every few seconds and answer
back when an agent replies.
"""
from __future__ import annotations

import logging
import os
import secrets
import shutil
import sys
import tempfile
import threading
import webbrowser
from pathlib import Path

from .traffic import SUPPORT_ADDRESS, Traffic, load_content, maildir_delivery

log = logging.getLogger("replydesk.demo")
ADMIN = "admin@demo.example"


def _say(text: str) -> None:
    print(text, flush=True)


def _start_mail(folder: Path, use_dovecot: bool):
    """(config keys for the email-side account, deliver function, closer, label)."""
    from collectors.standins.common import StandinUnavailable

    if use_dovecot:
        try:
            from collectors.standins.dovecot import Dovecot, find_dovecot

            find_dovecot(install=False)
            # Dovecot's unprivileged processes must walk every parent folder, so
            # it gets a world-traversable folder of its own, not one in --dir.
            dovecot = Dovecot(None, user="support", password=secrets.token_urlsafe(12)).start()
            keys = {"kind": "email", "imap_host": dovecot.host, "imap_port": dovecot.port,
                    "imap_security": "starttls", "ca_file": str(dovecot.cert), "imap_username": dovecot.user,
                    "imap_password": dovecot.password, "idle": True, "poll_seconds": 30}
            return keys, lambda raw: dovecot.append(raw), dovecot.remove, f"Dovecot IMAP on port {dovecot.port} (IDLE)"
        except StandinUnavailable:
            pass
    path = folder / "Maildir"
    deliver = maildir_delivery(path)
    return {"kind": "maildir", "path": str(path), "poll_seconds": 2}, deliver, lambda: None, f"Maildir {path}"


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_config(path: Path, *, db: Path, host: str, port: int, accounts: list[dict]) -> None:
    lines = ["# Written by `replydesk demo`: real accounts pointed at local stand-ins.",
             "[database]", f"url = {_toml_value(f'sqlite:///{db}')}", "",
             "[web]", f"host = {_toml_value(host)}", f"port = {port}",
             f"secret_key = {_toml_value(secrets.token_urlsafe(32))}",
             "secure_cookies = false  # plain http on this machine only", "undo_seconds = 5", "",
             "[worker]", "outbox_seconds = 1", "jitter_seconds = 0.5", "",
             "[sentiment]", 'brand_names = ["Acme"]', ""]
    for acc in accounts:
        lines.append("[[accounts]]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in acc.items()]
        lines.append("")
    path.write_text("\n".join(lines))
    path.chmod(0o600)  # it holds the stand-ins' tokens


def run_demo(folder: str | None = None, *, host: str = "127.0.0.1", port: int = 8000, every: float = 6.0,
             open_browser: bool = True, use_dovecot: bool = True, first: int = 8) -> None:
    from werkzeug.serving import make_server

    from collectors.registry import settings_by_kind
    from collectors.standins.reddit_api import RedditApi
    from collectors.standins.smtp import SmtpServer
    from collectors.standins.x_api import XApi
    from collectors.worker import Worker
    from inbox.config import load
    from inbox.runtime import open_runtime
    from inbox.users import add_user
    from webui.app import create_app

    temporary = folder is None
    root = Path(folder or tempfile.mkdtemp(prefix="replydesk-demo-")).resolve()
    root.mkdir(parents=True, exist_ok=True)
    _say(f"Replydesk demo in {root}")
    stoppers = []
    try:
        x_api = XApi(username="acme", name="Acme Support", followers=25000, validate=False,
                     bearer_token=secrets.token_urlsafe(16)).start()
        stoppers.append(x_api.stop)
        reddit_api = RedditApi(username="acme_support", password=secrets.token_urlsafe(12)).start()
        stoppers.append(reddit_api.stop)
        smtp = SmtpServer().start()
        stoppers.append(smtp.stop)
        mail_keys, deliver_mail, stop_mail, mail_label = _start_mail(root, use_dovecot)
        stoppers.append(stop_mail)
        _say(f"  X API stand-in      {x_api.url}")
        _say(f"  Reddit API stand-in {reddit_api.url}")
        _say(f"  mail in             {mail_label}")
        _say(f"  mail out            SMTP server on port {smtp.port}")

        if port == 0:
            from collectors.standins.common import free_port
            port = free_port()
        config_path = root / "replydesk.toml"
        write_config(config_path, db=root / "replydesk.db", host=host, port=port, accounts=[
            {"name": "acme-x", "kind": "x", "username": "acme", "bearer_token": x_api.bearer_token,
             "consumer_key": x_api.consumer_key, "consumer_secret": x_api.consumer_secret,
             "access_token": x_api.access_token, "access_token_secret": x_api.access_token_secret,
             "search": ["acme"], "api_url": x_api.url, "poll_seconds": 2},
            {"name": "acme-reddit", "kind": "reddit", "client_id": reddit_api.client_id,
             "client_secret": reddit_api.client_secret, "username": reddit_api.me, "password": reddit_api.password,
             "user_agent": "replydesk-demo/0.1", "subreddits": ["acme", "appliances", "homeautomation"],
             "keywords": ["acme"], "oauth_url": reddit_api.url, "reddit_url": reddit_api.url, "poll_seconds": 2},
            {"name": "support", **mail_keys, "address": SUPPORT_ADDRESS, "from_name": "Acme Support",
             "smtp_host": smtp.host, "smtp_port": smtp.port, "smtp_security": "none"},
        ])
        config = load(config_path, settings_by_kind())
        rt = open_runtime(config, upgrade=True)
        stoppers.append(rt.close)
        password = secrets.token_urlsafe(10)
        with rt.factory.begin() as session:
            add_user(session, ADMIN, password, role="admin", name="Demo Admin")

        worker = Worker(config, rt.factory)
        worker.start()
        stoppers.append(worker.shutdown)
        traffic = Traffic(x_api=x_api, reddit_api=reddit_api, smtp=smtp, deliver_mail=deliver_mail,
                          every=every, say=_say)
        feeder = threading.Thread(target=traffic.run, args=[load_content()], kwargs={"first": first},
                                  name="demo-traffic", daemon=True)
        feeder.start()
        stoppers.append(traffic.stop.set)

        app = create_app(config)
        server = make_server(host, port, app, threaded=True)
        url = f"http://{host}:{port}/"
        _say("")
        _say(f"  Open {url}")
        _say(f"  Sign in as {ADMIN} with password {password}")
        _say(f"  (config: {config_path}; stop with Ctrl-C)")
        _say("")
        if open_browser and (os.environ.get("DISPLAY") or sys.platform in ("darwin", "win32")):
            threading.Timer(1.0, webbrowser.open, args=[url]).start()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
    finally:
        for stop in reversed(stoppers):
            try:
                stop()
            except Exception as exc:
                log.debug("demo shutdown: %s", exc)
        if temporary:
            shutil.rmtree(root, ignore_errors=True)
        _say("demo stopped")

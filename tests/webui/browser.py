"""Driving Debian's Chromium through Playwright (never `playwright install`),
and serving the app on a real port from a thread."""
from __future__ import annotations

import threading
from pathlib import Path

from werkzeug.serving import make_server

from collectors.standins.common import apt_install

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-quic"]


def chromium_path() -> str:
    """Debian's chromium, installed with apt when missing and we are root."""
    if not Path(CHROMIUM).exists():
        apt_install("chromium")
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)")
    return CHROMIUM


class LiveServer:
    """The Flask app on 127.0.0.1:<free port>, served by werkzeug in a thread."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="live-server", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def sign_in(page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def watch_for_script(page) -> list[str]:
    """Collect anything that shows script ran that should not: dialogs and
    page errors (the CSP blocks inline script; a report shows as a console error)."""
    seen: list[str] = []
    page.on("dialog", lambda d: (seen.append(f"dialog: {d.message}"), d.dismiss()))
    page.on("pageerror", lambda e: seen.append(f"pageerror: {e}"))
    return seen

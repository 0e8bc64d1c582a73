"""A PostgreSQL server for tests: the one on 127.0.0.1:5432 when it answers
(this project's machines and CI), otherwise a throwaway one started with
initdb/pg_ctl (as the postgres user when we are root). Never skipped: if
neither works the tests fail with what to install."""
from __future__ import annotations

import atexit
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time

DEFAULT = os.environ.get("REPLYDESK_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
_started: str | None = None


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def server_url() -> str:
    """URL of a maintenance database on a running server."""
    global _started
    if _started:
        return _started
    from sqlalchemy.engine import make_url

    u = make_url(DEFAULT)
    if _answers(u.host or "127.0.0.1", u.port or 5432):
        _started = DEFAULT
        return _started
    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    if not (initdb and pg_ctl):
        raise RuntimeError(
            "PostgreSQL tests need a server: none answers at 127.0.0.1:5432 and initdb/pg_ctl are not installed. "
            "Install it (Debian: apt-get install postgresql) or set REPLYDESK_TEST_PG to a server URL.")
    work = tempfile.mkdtemp(prefix="replydesk-pg-")
    os.chmod(work, 0o755)
    run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if run_as:
        shutil.chown(work, "postgres", "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = os.path.join(work, "data")
    subprocess.run([*run_as, initdb, "--no-sync", "--auth=trust", "-U", "postgres", "-D", data],
                   check=True, capture_output=True)
    subprocess.run([*run_as, pg_ctl, "-D", data, "-o", f"-k {work} -p {port} -F -c listen_addresses=127.0.0.1",
                    "-w", "-l", os.path.join(work, "log"), "start"], check=True, capture_output=True)
    atexit.register(lambda: subprocess.run([*run_as, pg_ctl, "-D", data, "-m", "immediate", "stop"],
                                           capture_output=True))
    for _ in range(50):
        if _answers("127.0.0.1", port):
            break
        time.sleep(0.1)
    _started = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    return _started


def create_database(name: str) -> str:
    from sqlalchemy import create_engine, text

    base = server_url()
    eng = create_engine(base, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        c.execute(text(f'CREATE DATABASE "{name}"'))
    eng.dispose()
    return base.rsplit("/", 1)[0] + "/" + name


def drop_database(name: str) -> None:
    from sqlalchemy import create_engine, text

    eng = create_engine(server_url(), isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    eng.dispose()

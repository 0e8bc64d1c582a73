"""A private Dovecot IMAP server: the real thing, for tests, benchmarks and
`replydesk demo`.

It runs as a child process (`dovecot -F -c CONF`, no systemd) with its own
config, sockets, logs and Maildir storage in one folder under /tmp, and
listens on free ports on 127.0.0.1: one for plain IMAP and STARTTLS, one for
IMAPS, both with a self-signed certificate. Users live in a passwd-file; a
pool of spare logins is written before start so each test can take a mailbox
of its own without waiting for Dovecot to notice a changed file (it checks
at most once a second).

Why /tmp and 0755: Dovecot's login and mail processes run as unprivileged
users and must be able to walk every parent folder; pytest's tmp_path is
0700. When run as root, Dovecot refuses root-owned mail and root logins, so
the mail belongs to the `dovecot` user.
"""
from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from imapclient import IMAPClient

from .common import StandinUnavailable, apt_install, free_port, self_signed_cert, wait_for_install

DOVECOT_PATHS = ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot")


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def find_dovecot(install: bool = True) -> str:
    """Path of the dovecot binary; installs the Debian package when missing
    and allowed (root only), otherwise says what to install."""
    found = shutil.which("dovecot") or next((p for p in DOVECOT_PATHS if os.path.exists(p)), None)
    if found:
        return found
    if install and apt_install("dovecot-imapd"):
        found = next((p for p in DOVECOT_PATHS if os.path.exists(p)), None)
        if found:
            return found
    raise StandinUnavailable(
        "Dovecot is not installed. Install it with `sudo apt-get install dovecot-imapd` "
        "(Debian/Ubuntu) or `sudo dnf install dovecot` (Fedora), then run again.")


class Dovecot:
    host = "127.0.0.1"

    def __init__(self, folder: str | Path | None = None, user: str = "support",
                 password: str = "support-password", spare_users: int = 64):
        if folder is None:
            folder = tempfile.mkdtemp(prefix="replydesk-dovecot-", dir="/tmp")
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o755)
        self.user, self.password = user, password
        self.port = free_port()  # plain IMAP and STARTTLS
        self.ssl_port = free_port()  # IMAPS
        self.cert, self.key = self_signed_cert(self.folder / "tls")
        self._proc: subprocess.Popen | None = None
        if os.geteuid() == 0:
            # Dovecot will not run mail processes as root. Its users are made
            # by the package's install (so install first, on a fresh machine),
            # and last: another process may be at it.
            find_dovecot()
            wait_for_install(lambda: _user_exists("dovecot") and _user_exists("dovenull"), 120)
            self._run_as = pwd.getpwnam("dovecot")
            self._login_user = "dovenull"
        else:
            self._run_as = pwd.getpwuid(os.geteuid())
            self._login_user = self._run_as.pw_name
        self._users: dict[str, str] = {user: password}
        self._spare = [(f"user{i:03d}", f"pw-{os.urandom(6).hex()}") for i in range(spare_users)]
        self._users.update(self._spare)
        self._write_passwd()

    # -- lifecycle -------------------------------------------------------

    @property
    def config_path(self) -> Path:
        return self.folder / "dovecot.conf"

    @property
    def log_path(self) -> Path:
        return self.folder / "dovecot.log"

    def start(self) -> "Dovecot":
        binary = find_dovecot()
        for sub in ("run", "state", "mail"):
            (self.folder / sub).mkdir(exist_ok=True)
            (self.folder / sub).chmod(0o755)
        self._chown(self.folder / "mail")
        self.config_path.write_text(self._config())
        self._proc = subprocess.Popen([binary, "-F", "-c", str(self.config_path)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._wait_ready()
        return self

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def remove(self) -> None:
        """Stop and delete the folder with all its mail."""
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> "Dovecot":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.remove()

    def _wait_ready(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
                raise StandinUnavailable(f"dovecot exited at start-up: {err.strip()} {self._log_tail()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as s:
                    if s.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.05)
        raise StandinUnavailable(f"dovecot did not answer on port {self.port} within {timeout:.0f}s. "
                                 f"{self._log_tail()}")

    def _log_tail(self) -> str:
        try:
            return "Log: " + " | ".join(self.log_path.read_text(errors="replace").splitlines()[-5:])
        except OSError:
            return ""

    def _chown(self, path: Path) -> None:
        if os.geteuid() == 0:
            os.chown(path, self._run_as.pw_uid, self._run_as.pw_gid)

    def _config(self) -> str:
        f = self.folder
        uid, gid = self._run_as.pw_uid, self._run_as.pw_gid
        return f"""\
protocols = imap
listen = {self.host}
base_dir = {f}/run
state_dir = {f}/state
instance_name = replydesk-{self.port}
log_path = {self.log_path}
info_log_path = {self.log_path}
default_internal_user = {self._run_as.pw_name}
default_internal_group = {self._run_as.pw_name if os.geteuid() else 'dovecot'}
default_login_user = {self._login_user}
first_valid_uid = {uid}
last_valid_uid = {uid}
first_valid_gid = {gid}
last_valid_gid = {gid}
mail_location = maildir:{f}/mail/%u
# Tests and benchmarks throw the mail away: no need to wait for the disk.
mail_fsync = never
disable_plaintext_auth = no
auth_mechanisms = plain login
# Tests try wrong passwords on purpose; a real server waits 2 s after each
# and longer after repeated failures (the anvil penalty, off below).
auth_failure_delay = 0
# Every IDLE connection counts; the default of 10 is too few for tests.
mail_max_userip_connections = 200
ssl = yes
ssl_cert = <{self.cert}
ssl_key = <{self.key}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {f}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {f}/passwd
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
  mailbox Drafts {{
    special_use = \\Drafts
    auto = subscribe
  }}
  mailbox Trash {{
    special_use = \\Trash
    auto = subscribe
  }}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = {self.host}
    port = {self.port}
  }}
  inet_listener imaps {{
    address = {self.host}
    port = {self.ssl_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""

    # -- users -----------------------------------------------------------

    def add_user(self, name: str, password: str) -> None:
        """Add (or change) a login. While running, Dovecot sees it after up
        to a second; `new_user` is instant."""
        self._users[name] = password
        self._write_passwd()
        if self._proc is not None:
            time.sleep(1.1)

    def _write_passwd(self) -> None:
        uid, gid = self._run_as.pw_uid, self._run_as.pw_gid
        lines = [f"{u}:{{PLAIN}}{p}:{uid}:{gid}::{self.folder}/mail/{u}::" for u, p in self._users.items()]
        tmp = self.folder / "passwd.new"
        tmp.write_text("\n".join(lines) + "\n")
        tmp.chmod(0o644)
        tmp.replace(self.folder / "passwd")

    def new_user(self, prefix: str = "user") -> tuple[str, str]:
        """A fresh login with an empty mailbox; returns (name, password)."""
        if self._spare:
            return self._spare.pop(0)
        name, password = f"{prefix}{len(self._users)}", f"pw-{os.urandom(6).hex()}"
        self.add_user(name, password)
        return name, password

    # -- talking to it ---------------------------------------------------

    def client(self, user: str | None = None, *, use_ssl: bool = False) -> IMAPClient:
        user = user or self.user
        context = ssl.create_default_context(cafile=str(self.cert))
        c = IMAPClient(self.host, port=self.ssl_port if use_ssl else self.port, ssl=use_ssl,
                       ssl_context=context, timeout=30)
        c.login(user, self._users[user])
        return c

    def append(self, raw: bytes, mailbox: str = "INBOX", user: str | None = None,
               flags: Iterable[str] = (), when: datetime | None = None) -> int:
        """Deliver one message; returns its UID."""
        with self.client(user) as c:
            return _append_uid(c.append(mailbox, raw, tuple(flags), when))

    def append_many(self, raws: Iterable[bytes], mailbox: str = "INBOX", user: str | None = None,
                    chunk: int = 500) -> int:
        """Deliver many messages over one connection (MULTIAPPEND); returns the count."""
        count, pending = 0, []
        with self.client(user) as c:
            for raw in raws:
                pending.append(raw)
                if len(pending) >= chunk:
                    c.multiappend(mailbox, pending)
                    count, pending = count + len(pending), []
            if pending:
                c.multiappend(mailbox, pending)
                count += len(pending)
        return count

    def create_mailbox(self, mailbox: str, user: str | None = None) -> None:
        with self.client(user) as c:
            if not c.folder_exists(mailbox):
                c.create_folder(mailbox)

    def flags(self, uid: int, mailbox: str = "INBOX", user: str | None = None) -> set[str]:
        with self.client(user) as c:
            c.select_folder(mailbox, readonly=True)
            got = c.get_flags([uid]).get(uid, ())
            return {f.decode() if isinstance(f, bytes) else f for f in got}

    def messages(self, mailbox: str = "INBOX", user: str | None = None) -> dict[int, bytes]:
        """Every message in `mailbox` by UID (without marking anything seen)."""
        with self.client(user) as c:
            c.select_folder(mailbox, readonly=True)
            uids = c.search("ALL")
            if not uids:
                return {}
            return {uid: data[b"BODY[]"] for uid, data in c.fetch(uids, ["BODY.PEEK[]"]).items()}

    def uidvalidity(self, mailbox: str = "INBOX", user: str | None = None) -> int:
        with self.client(user) as c:
            return int(c.folder_status(mailbox, ["UIDVALIDITY"])[b"UIDVALIDITY"])

    def kick(self, user: str | None = None) -> None:
        """Drop every connection of `user`, as a server restart or a network
        failure would."""
        subprocess.run([shutil.which("doveadm") or "/usr/bin/doveadm", "-c", str(self.config_path),
                        "kick", user or self.user], check=True, capture_output=True)

    def reset_uidvalidity(self, mailbox: str = "INBOX", user: str | None = None) -> int:
        """Give `mailbox` a new UIDVALIDITY and renumber its messages, as a
        server migration or a rebuilt index does; returns the new value."""
        user = user or self.user
        old = self.uidvalidity(mailbox, user)
        new = old + 1000
        subprocess.run([shutil.which("doveadm") or "/usr/bin/doveadm", "-c", str(self.config_path),
                        "mailbox", "update", "-u", user, "--uid-validity", str(new), mailbox],
                       check=True, capture_output=True)
        return new


def _append_uid(response: bytes) -> int:
    # b"[APPENDUID 1700000000 12] Append completed."
    text = response.decode() if isinstance(response, bytes) else str(response)
    if "APPENDUID" in text:
        return int(text.split("APPENDUID", 1)[1].split("]", 1)[0].split()[1])
    return -1

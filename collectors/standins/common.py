"""What the stand-in servers share: a free port, a self-signed certificate,
and the error that says what to install.

The certificate is made with the `openssl` command rather than a Python library so the
stand-ins need nothing beyond what a Debian machine with Dovecot has. The
certificate names both `localhost` and `127.0.0.1`, so clients that verify
host names (ours do) accept it once they are given it as `ca_file`.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path


class StandinUnavailable(RuntimeError):
    """A program the stand-in needs is missing; the message says what to install."""


def apt_install(package: str) -> bool:
    """Install a Debian package when we may (root, apt-get present), saying
    so on stderr; False when we may not. Waits for another apt run (another
    test process installing the same thing) instead of failing on its lock,
    and refreshes the package lists once when they are too old."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return False
    print(f"replydesk: installing the Debian package {package} (apt-get)", file=sys.stderr, flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "-o", "DPkg::Lock::Timeout=300", "install", "-y", "--no-install-recommends", package]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "-o", "DPkg::Lock::Timeout=300", "update"], env=env, capture_output=True)
        subprocess.run(install, env=env, capture_output=True)
    return True


def wait_for_install(ready, seconds: float = 300) -> bool:
    """True once `ready()` is; for a package another process is installing."""
    end = time.monotonic() + seconds
    while not ready():
        if time.monotonic() > end:
            return False
        time.sleep(0.5)
    return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def self_signed_cert(folder: str | Path, name: str = "localhost") -> tuple[Path, Path]:
    """Return (cert, key) in `folder`, making them on first use."""
    folder = Path(folder)
    cert, key = folder / f"{name}.crt", folder / f"{name}.key"
    if cert.exists() and key.exists():
        return cert, key
    if not shutil.which("openssl"):
        raise StandinUnavailable("openssl is needed to make a test certificate: apt-get install openssl")
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "3650",
         "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={name}",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True)
    # Dovecot reads the key as its own (unprivileged) user.
    key.chmod(0o644)
    return cert, key

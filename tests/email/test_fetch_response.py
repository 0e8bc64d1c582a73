"""The fast reading of FETCH responses gives what IMAPClient's parser gives:
on a real Dovecot (every fixture), and on the other shapes servers use."""
from __future__ import annotations

from imapclient import IMAPClient
from imapclient.response_parser import parse_fetch_response

from collectors.email import imap
from collectors.email.fetch_response import read_bodies, read_sizes

from .conftest import fixture_files


def _plain(fetched: dict) -> dict:
    return {uid: {k: v for k, v in d.items() if k != b"SEQ"} for uid, d in fetched.items()}


def test_same_result_as_imapclient_on_dovecot(dovecot, mail_user):
    raws = [p.read_bytes() for p in fixture_files()]
    dovecot.append_many(raws, user=mail_user[0])
    client = IMAPClient(dovecot.host, port=dovecot.port, ssl=False)
    client.login(*mail_user)
    try:
        client.select_folder("INBOX", readonly=True)
        uids = client.search(["ALL"])
        assert len(uids) == len(raws)
        ours = imap._fetch_bodies(client, uids)
        theirs = client.fetch(uids, ["BODY.PEEK[]", "INTERNALDATE"])
        assert ours == _plain(theirs)
        assert len(ours) == len(raws) and all(d[b"BODY[]"] for d in ours.values())
        # ... and it was the fast reading that gave it: Dovecot answers in the common shape.
        tag = client._imap._command("UID", "FETCH", f"{uids[0]}:{uids[-1]}", "(BODY.PEEK[] INTERNALDATE)")
        typ, data = client._imap._command_complete("FETCH", tag)
        typ, data = client._imap._untagged_response(typ, data, "FETCH")
        assert read_bodies(data) is not None
        assert imap._fetch_sizes(client, uids) == {u: d[b"RFC822.SIZE"] for u, d in
                                                   client.fetch(uids, ["RFC822.SIZE"]).items()}
        tag = client._imap._command("UID", "FETCH", f"{uids[0]}:{uids[-1]}", "(RFC822.SIZE)")
        typ, data = client._imap._command_complete("FETCH", tag)
        typ, data = client._imap._untagged_response(typ, data, "FETCH")
        assert read_sizes(data) is not None
        flags = client.get_flags(uids)
        assert not any(b"\\Seen" in f for f in flags.values()), "PEEK must not set \\Seen"
    finally:
        client.logout()


DATE = b'"23-Nov-2026 10:00:00 +0100"'


def test_uid_last_shape_and_unusual_shapes():
    uid_first = [(b"1 (UID 7 INTERNALDATE " + DATE + b" BODY[] {5}", b"hello"), b")"]
    uid_last = [(b"1 (INTERNALDATE " + DATE + b" BODY[] {5}", b"hello"), b" UID 7)"]
    for data in (uid_first, uid_last):
        assert read_bodies(data) == _plain(parse_fetch_response(data, True, True))
        assert read_bodies(data, False) == _plain(parse_fetch_response(data, False, True))
    unusual = [
        [(b"1 (UID 7 FLAGS (\\Seen) INTERNALDATE " + DATE + b" BODY[] {5}", b"hello"), b")"],  # FLAGS too
        [(b"1 (UID 7 INTERNALDATE " + DATE + b" BODY[] {9}", b"hello"), b")"],  # wrong length
        [(b"1 (UID 7 INTERNALDATE " + DATE + b" BODY[] {5}", b"hello"), b" UID 8)"],  # two UIDs
        [(b"1 (INTERNALDATE " + DATE + b" BODY[] {5}", b"hello"), b")"],  # no UID
        [b"1 (UID 7 INTERNALDATE " + DATE + b" BODY[] NIL)"],  # no literal
        [(b"1 (UID 7 INTERNALDATE \"not a date\" BODY[] {5}", b"hello"), b")"],
    ]
    for data in unusual:
        assert read_bodies(data) is None, data
    assert read_bodies([]) == {}


def test_size_shapes():
    for data in ([b"1 (UID 7 RFC822.SIZE 1234)", b"2 (UID 9 RFC822.SIZE 5)"], [b"1 (RFC822.SIZE 1234 UID 7)"]):
        assert read_sizes(data) == _plain(parse_fetch_response(data, True, True))
    assert read_sizes([b"1 (UID 7 RFC822.SIZE 1234 FLAGS (\\Seen))"]) is None
    assert read_sizes([(b"1 (UID 7 RFC822.SIZE {4}", b"1234"), b")"]) is None


def test_imaplib_debug_output_is_off_unless_logged(dovecot, mail_user):
    import logging
    config = {"imap_host": dovecot.host, "imap_port": dovecot.port, "imap_security": "none",
              "imap_username": mail_user[0], "imap_password": mail_user[1]}
    client = imap.connect(config)
    assert client._imap.debug == 0  # no repr() of every message read
    client.logout()
    logger = logging.getLogger("imapclient.imaplib")
    old = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        client = imap.connect(config)
        assert client._imap.debug == 5  # asked for: IMAPClient's (password-masking) debug log stays
        client.logout()
    finally:
        logger.setLevel(old)

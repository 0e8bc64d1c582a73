"""Config keys of the email and maildir channels (settings are data: this
list drives validation, config.example.toml and the README)."""
from __future__ import annotations

from inbox.config import Setting

SECURITY = ("ssl", "starttls", "none")

# Who replies come from: shared by every mail-based channel.
IDENTITY = [
    Setting("address", str, None, "The mailbox's own address: replies are sent From it, and mail from it is "
            "recognised as ours.", required=True, example="support@example.com"),
    Setting("from_name", str, "", "Display name on replies, e.g. \"Acme Support\"."),
    Setting("other_addresses", "list[str]", [],
            "More addresses that are ours (aliases delivered to this mailbox): mail From them counts as ours."),
]

SMTP = [
    Setting("smtp_host", str, None, "SMTP server replies are sent through.", required=True,
            example="smtp.example.com"),
    Setting("smtp_port", int, None, "SMTP port; when unset 465 for ssl, 587 for starttls, 25 for none."),
    Setting("smtp_security", str, "starttls", "How the SMTP connection is protected.", choices=SECURITY),
    Setting("smtp_username", str, None,
            "SMTP login; when unset the IMAP login is used (if the server asks for one at all)."),
    Setting("smtp_password", str, None, "SMTP password; when unset the IMAP password is used.", secret=True),
    Setting("ca_file", str, "",
            "PEM file of the certificate authority (or the self-signed certificate) to trust for IMAP and "
            "SMTP; empty means the system's trusted authorities."),
    Setting("timeout_seconds", float, 30.0, "Network timeout for IMAP and SMTP."),
]

PARSING = [
    Setting("attachment_max_bytes", int, 10 * 1024 * 1024,
            "Attachments larger than this are listed with their size but their content is not stored."),
]

IMAP = [
    Setting("imap_host", str, None, "IMAP server to read mail from.", required=True, example="imap.example.com"),
    Setting("imap_port", int, None, "IMAP port; when unset 993 for ssl, 143 otherwise."),
    Setting("imap_security", str, "ssl", "How the IMAP connection is protected.", choices=SECURITY),
    Setting("imap_username", str, None, "IMAP login.", required=True, example="support@example.com"),
    Setting("imap_password", str, None, "IMAP password.", required=True, secret=True, example="change-me"),
    Setting("mailboxes", "list[str]", ["INBOX"], "Mailboxes (folders) to collect from."),
    Setting("idle", bool, True,
            "Keep an IMAP IDLE connection per mailbox so new mail arrives within about a second; "
            "polling continues as a safety net and takes over when IDLE fails."),
    Setting("initial_days", int, 30,
            "How far back the first sync of a mailbox (or a resync after its UIDVALIDITY changed) reaches."),
    Setting("sent_mailbox", str, "",
            "Where copies of replies are saved; empty means the mailbox the server marks \\Sent (SPECIAL-USE), "
            "else one named Sent."),
    Setting("save_sent", bool, True,
            "Save a copy of each reply in the Sent mailbox. Turn off for servers that file sent mail "
            "themselves (Gmail)."),
    Setting("poll_seconds", float, 60.0, "How often to poll; with IDLE this is only the safety net."),
]

EMAIL = IDENTITY + IMAP + SMTP + PARSING

MAILDIR = [
    Setting("path", str, None, "Maildir folder to read (the one holding cur/, new/ and tmp/). Nothing in it is "
            "moved or changed; copies of replies go to its .Sent subfolder.", required=True,
            example="/var/mail/support/Maildir"),
    *IDENTITY,
    *SMTP,
    *PARSING,
    Setting("poll_seconds", float, 10.0, "How often to look for new files."),
]

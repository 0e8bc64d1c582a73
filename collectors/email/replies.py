"""Replying by SMTP, shared by every mail-based channel (IMAP and Maildir).

The order is what keeps a reply from going out twice: the Message-ID is
fixed before sending (from the outbox row's idempotency key), `send` hands
the message to SMTP and returns at once, so the outbox records it as sent
right after the server's 250; only then (`after_sent`) is a copy saved and
the original flagged. Saving first would leave a window, while the IMAP
server is slow, in which a crash finds no copy and sends again. A failure
after SMTP accepted the message is a warning, never raised: raising would
make the outbox send again. After a crash between the 250 and the outbox
record (milliseconds), `find_sent` looks for the Message-ID among the
saved copies.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from inbox.channel import Rejected, ReplyRequest, SentRef

from . import smtp
from .compose import build_reply, make_message_id, recipient


class MailReplies:
    """Mixin for Channel subclasses; they provide the three storage hooks."""

    config: dict[str, Any]

    # -- hooks ---------------------------------------------------------------
    def save_copy(self, data: bytes, when: datetime) -> None:
        raise NotImplementedError

    def mark_answered(self, reply: ReplyRequest) -> None:
        raise NotImplementedError

    def has_copy(self, message_id: str) -> bool:
        raise NotImplementedError

    # -- shared ----------------------------------------------------------------
    @property
    def own_addresses(self) -> frozenset[str]:
        return frozenset(a.lower() for a in [self.config["address"], *self.config.get("other_addresses", [])])

    def message_id_for(self, reply: ReplyRequest) -> str:
        """The Message-ID this reply goes out with: the one the outbox stored
        before sending, else the one made from its idempotency key."""
        return reply.external_id or make_message_id(reply.idempotency_key, self.config["address"])

    def plan_external_id(self, reply: ReplyRequest) -> str | None:
        return self.message_id_for(reply)

    def send(self, reply: ReplyRequest) -> SentRef:
        _, to_address = recipient(reply)
        if not to_address or "@" not in to_address:
            raise Rejected("the message being answered has no sender address to reply to")
        if to_address.lower() in self.own_addresses:
            raise Rejected(f"the message being answered came from our own address {to_address}")
        message_id = self.message_id_for(reply)
        now = datetime.now(timezone.utc).replace(microsecond=0)
        msg = build_reply(reply, from_address=self.config["address"], from_name=self.config.get("from_name"),
                          message_id=message_id, now=now)
        data = msg.as_bytes()
        smtp.send(self.config, data, self.config["address"], [to_address])
        self._unsaved()[message_id] = (data, now)
        extra: dict[str, Any] = {"to": to_address, "subject": str(msg["Subject"]), "message_id": message_id,
                                 "references": list(_ids(msg["References"]))}
        return SentRef(external_id=message_id, created_at=now, extra=extra)

    def after_sent(self, reply: ReplyRequest, ref: SentRef) -> list[str]:
        """The reply is recorded as sent: save its copy, flag the original."""
        warnings = []
        data, when = self._unsaved().pop(ref.external_id, (None, None))
        if data is not None and self.config.get("save_sent", True):
            try:
                self.save_copy(data, when)
            except Exception as e:  # ChannelError included: the reply is out
                warnings.append(f"sent, but no copy was saved in Sent: {e}")
        try:
            self.mark_answered(reply)
        except Exception as e:  # ChannelError included: the reply is out
            warnings.append(f"sent, but the original was not flagged answered: {e}")
        return warnings

    def _unsaved(self) -> dict[str, tuple[bytes, datetime]]:
        # Messages sent but not yet copied to Sent, by Message-ID (in memory:
        # a crash in between costs the copy, never a second send).
        if not hasattr(self, "_unsaved_copies"):
            self._unsaved_copies: dict[str, tuple[bytes, datetime]] = {}
        return self._unsaved_copies

    def find_sent(self, reply: ReplyRequest) -> SentRef | None:
        message_id = self.message_id_for(reply)
        if self.has_copy(message_id):
            return SentRef(external_id=message_id, extra={"found_in": "sent copy"})
        return None


def _ids(value: Any) -> list[str]:
    return [v.strip("<>") for v in str(value or "").split()]

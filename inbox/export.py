"""`replydesk export`: every message as JSON Lines, streamed (not loaded)."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from inbox.models import Account, Conversation, Message, OutboundReply

FIELDS = ("conversation_id", "account", "kind", "external_id", "direction", "author", "subject", "text",
          "created_at", "sentiment", "urgency", "status", "awaiting_reply", "delivery")


def export_messages(session: Session, since: datetime | None = None, *, batch: int = 1000) -> Iterator[dict]:
    q = (select(Message.conversation_id, Account.name, Account.kind, Message.external_id, Message.direction,
                Message.author_handle, Message.author_name, Message.subject, Message.text, Message.created_at,
                Message.sentiment_label, Message.corrected_label, Message.sentiment_score, Message.urgency,
                Message.urgency_reasons, Conversation.status, Conversation.awaiting_reply,
                OutboundReply.state, OutboundReply.last_error, OutboundReply.sent_at, OutboundReply.attempts)
         .join(Conversation, Conversation.id == Message.conversation_id)
         .join(Account, Account.id == Message.account_id)
         .outerjoin(OutboundReply, OutboundReply.message_id == Message.id)
         .order_by(Message.created_at, Message.id))
    if since is not None:
        q = q.where(Message.created_at >= since)
    for row in session.execute(q.execution_options(yield_per=batch)):
        (conv, account, kind, ext, direction, handle, name, subject, text, created, label, corrected, score,
         urgency, reasons, status, awaiting, state, error, sent_at, attempts) = row
        record = {
            "conversation_id": conv, "account": account, "kind": kind, "external_id": ext, "direction": direction,
            "author": handle or name, "subject": subject, "text": text, "created_at": created.isoformat(),
            "sentiment": {"label": corrected or label, "score": score} if label or corrected else None,
            "urgency": {"score": urgency, "reasons": reasons or []} if urgency is not None else None,
            "status": status, "awaiting_reply": awaiting,
        }
        if direction == "out":
            record["delivery"] = {"state": state or "sent", "error": error, "attempts": attempts,
                                  "sent_at": sent_at.isoformat() if sent_at else None}
        yield record

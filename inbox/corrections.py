"""Staff corrections of sentiment labels, read back for retraining."""
from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from inbox.models import Message


def corrections(session: Session) -> Iterator[dict]:
    """One dict per corrected customer message: id, text, lang, predicted and corrected label."""
    q = (select(Message.id, Message.new_text, Message.text, Message.lang, Message.sentiment_label,
                Message.corrected_label, Message.corrected_at)
         .where(Message.corrected_label.is_not(None)).order_by(Message.corrected_at, Message.id))
    for mid, new_text, text, lang, predicted, corrected, at in session.execute(q):
        yield {"id": mid, "text": new_text or text, "lang": lang, "predicted": predicted,
               "label": corrected, "corrected_at": at.isoformat() if at else None}

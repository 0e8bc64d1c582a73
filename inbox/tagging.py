"""Which messages get sentiment and urgency, and on which text.

Ingest tags every customer message (not our own, not bounces or
auto-replies) on its new text — quoted history and signatures left out —
cut to SENTIMENT_CHARS. The text-only half (language, label) can be done
ahead where the message is parsed (`prescore`, in a parser process);
ingest adds urgency, which needs what the database knows (repeat contact).
"""
from __future__ import annotations

import sentiment

from .channel import InboundItem

SENTIMENT_CHARS = 2000


def sentiment_text(item: InboundItem) -> str:
    return (item.new_text or item.text or "")[:SENTIMENT_CHARS]


def prescore(items: list[InboundItem]) -> None:
    """Set `scored` on the items ingest will tag."""
    picked = [item for item in items if item.from_customer]
    if picked:
        for item, scored in zip(picked, sentiment.score_many([sentiment_text(i) for i in picked],
                                                             langs=[i.lang for i in picked])):
            item.scored = scored

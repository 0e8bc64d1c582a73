"""What the sentiment package says about one text."""
from __future__ import annotations

from dataclasses import dataclass, field

LABELS = ("negative", "neutral", "positive")
UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Assessment:
    """Sentiment and urgency of one text, with the reasons shown to staff.

    label       negative / neutral / positive, or unknown when the text's
                language is not covered by the scorer (or could not be told)
    score       -1 (negative) .. 1 (positive); 0 when unknown
    confidence  0..1, how sure the scorer is of the label (low for unknown)
    urgency     0..100, the capped sum of the weights of the urgency rules that fired
    reasons     one short string per rule that fired, "refund request (+25)",
                plus notes such as "language not covered: pl"
    lang        ISO 639-1 code, or None when it could not be told
    words       the words that pulled hardest towards the label, strongest first
    scorer      which scorer gave the label: default, vader or textblob
    """
    label: str
    score: float
    confidence: float
    urgency: int
    reasons: list[str] = field(default_factory=list)
    lang: str | None = None
    words: list[str] = field(default_factory=list)
    scorer: str = "default"


@dataclass(frozen=True, slots=True)
class Scored:
    """The text-only half of an Assessment (language and label, no urgency),
    computed ahead, e.g. in a parser process; `scorer` says by which scorer
    and model, so a result from another configuration is never used."""
    scorer: str
    label: str
    score: float
    confidence: float
    words: list[str]
    lang: str | None
    note: str | None = None  # "language not covered: pl", ...

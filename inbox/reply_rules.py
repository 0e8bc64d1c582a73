"""What a reply must satisfy on each channel, checked before it is queued.

X counts length its own way (weighted: URLs are 23, CJK and emoji weigh 2);
`twitter-text-parser` implements X's published twitter-text rules.
"""
from __future__ import annotations

from dataclasses import dataclass

from twitter_text import parse_tweet

# Limits a reply must fit in, per kind; None = no limit worth checking.
LIMITS: dict[str, int | None] = {"x": 280, "reddit": 10_000, "email": None, "maildir": None}


@dataclass(frozen=True, slots=True)
class LengthCheck:
    used: int
    limit: int | None

    @property
    def ok(self) -> bool:
        return self.limit is None or self.used <= self.limit


def weighted_length(text: str) -> int:
    """X's weighted length of `text`."""
    return parse_tweet(text).weightedLength


def measure(kind: str, text: str) -> LengthCheck:
    if kind == "x":
        return LengthCheck(weighted_length(text), LIMITS["x"])
    return LengthCheck(len(text), LIMITS.get(kind))


def problems(kind: str, text: str) -> list[str]:
    """Why `text` cannot be sent on `kind`, in words for the agent; [] if it can."""
    out = []
    if not text.strip():
        out.append("The reply is empty.")
    check = measure(kind, text)
    if not check.ok:
        unit = "weighted characters (links count 23, emoji and CJK count 2)" if kind == "x" else "characters"
        out.append(f"Too long for {kind}: {check.used} of {check.limit} {unit}. "
                   f"Shorten it by {check.used - check.limit}.")
    return out

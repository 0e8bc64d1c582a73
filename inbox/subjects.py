"""Subject normalisation, for last-resort email threading and `Re:` lines."""
from __future__ import annotations

import re

# Reply/forward prefixes in the languages our customers write in, plus list
# tags like "[support]" and ticket-style counters like "Re[2]:".
_PREFIX = re.compile(
    r"^\s*(?:(?:re|aw|sv|vs|antw|antwort|odp|odpověď|ref|réf|res|rif|r|atb|vá|απ|ynt|回复|回覆|答复|"
    r"fw|fwd|wg|tr|rv|enc|pd|přeposlat)"
    r"\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*|\[[^\]]{1,40}\]\s*)+",
    re.IGNORECASE,
)
_SPACE = re.compile(r"\s+")


def strip_prefixes(subject: str | None) -> str:
    return _PREFIX.sub("", subject or "").strip()


def subject_key(subject: str | None) -> str | None:
    """The part of a subject that stays the same across a thread; None when
    too short to mean anything (e.g. "hi", "" or "Re:")."""
    key = _SPACE.sub(" ", strip_prefixes(subject)).casefold()[:300]
    return key if len(key) >= 4 else None


def reply_subject(subject: str | None) -> str:
    """`Re: <subject>` without piling up prefixes."""
    base = strip_prefixes(subject)
    return f"Re: {base}" if base else "Re:"

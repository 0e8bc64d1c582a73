"""Staff corrections of a label, turned into training rows.

The inbox stores each correction (the text, the label the scorer gave, the
label a person chose, the text's language); ``replydesk sentiment
export-corrections`` hands them to `write_tsv`, and

    python -m sentiment.train DIR --extra corrections.tsv

trains on them next to the SemEval files. The file format is SemEval's:
one row a line, ``id<TAB>label<TAB>text``, UTF-8, label negative / neutral
/ positive; tabs and line breaks inside a text become spaces. Rows the
English model cannot learn from are left out: corrections to "unknown",
empty texts, and texts in another language (the model covers English).
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TextIO

from .assessment import LABELS

_SPACE = re.compile(r"[\t\r\n]+")


@dataclass(frozen=True, slots=True)
class Correction:
    text: str
    predicted: str
    corrected: str
    lang: str | None = None
    id: str | int | None = None


def to_row(c: Correction, fallback_id: int) -> str | None:
    """The TSV line (without newline) for one correction, or None to leave it out."""
    if c.corrected not in LABELS:
        return None
    if c.lang not in (None, "en"):
        return None
    text = _SPACE.sub(" ", c.text or "").strip()
    if not text:
        return None
    ident = _SPACE.sub(" ", str(c.id if c.id is not None else fallback_id)).strip()
    return f"correction-{ident}\t{c.corrected}\t{text}"


def write_tsv(corrections: Iterable[Correction], out: TextIO) -> int:
    """Write the training rows to `out`; returns how many were written.
    When one text was corrected several times the last correction wins."""
    rows: dict[str, str] = {}
    for n, c in enumerate(corrections, start=1):
        row = to_row(c, n)
        if row is not None:
            key = row.split("\t", 2)[2]
            rows.pop(key, None)  # keep the order of the latest correction
            rows[key] = row
    for row in rows.values():
        out.write(row + "\n")
    return len(rows)

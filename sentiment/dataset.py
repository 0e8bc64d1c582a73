"""Reading labelled texts in the SemEval Twitter format: one text a line,
``id<TAB>label<TAB>text``, label negative / neutral / positive.

The published files are not quite uniform: some texts are wrapped in double
quotes with inner quotes doubled (CSV style), some carry ``\\u2019``-style
escapes or HTML entities, one file has a fourth empty column, and a quoted
text may run over a line break. `read_tsv` evens all of that out.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

LABELS = ("negative", "neutral", "positive")
DEV_FILE = "twitter-2016devtest-A.tsv"

_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


@dataclass(frozen=True, slots=True)
class Example:
    id: str
    label: str
    text: str
    source: str = ""


def clean(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        text = text[1:-1].replace('""', '"')
    text = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    return html.unescape(text).strip()


def read_tsv(path: str | Path) -> list[Example]:
    path = Path(path)
    rows: list[list[str]] = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\r\n").split("\t")
            if len(parts) >= 3 and parts[1] in LABELS:
                rows.append(parts[:3])
            elif rows and line.strip():
                rows[-1][2] += " " + parts[0].strip()  # a quoted text that ran over a line break
    return [Example(i, label, clean(text), path.name) for i, label, text in rows]


def split(folder: str | Path, holdout: tuple[str, ...] = (DEV_FILE,)) -> tuple[list[Example], list[Example]]:
    """(training examples, held-out examples) from every ``*.tsv`` in folder.

    Held-out files are never trained on, and neither is any training row
    that repeats a held-out row's id or text (the files overlap a little).
    Training rows are de-duplicated by id.
    """
    folder = Path(folder)
    files = sorted(folder.glob("*.tsv"))
    missing = [h for h in holdout if not (folder / h).exists()]
    if missing:
        raise FileNotFoundError(f"{folder}: held-out file(s) not found: {', '.join(missing)}")
    held = [e for f in files if f.name in holdout for e in read_tsv(f)]
    held_ids = {e.id for e in held}
    held_texts = {e.text.lower() for e in held}
    train: list[Example] = []
    seen: set[str] = set()
    for f in files:
        if f.name in holdout:
            continue
        for e in read_tsv(f):
            if e.id in seen or e.id in held_ids or e.text.lower() in held_texts:
                continue
            seen.add(e.id)
            train.append(e)
    return train, held


def macro_recall(gold: list[str], predicted: list[str]) -> float:
    """Mean over the three labels of the share of that label found."""
    recalls = []
    for label in LABELS:
        n = sum(g == label for g in gold)
        if n:
            recalls.append(sum(g == p == label for g, p in zip(gold, predicted)) / n)
    return sum(recalls) / len(recalls) if recalls else 0.0


def accuracy(gold: list[str], predicted: list[str]) -> float:
    return sum(g == p for g, p in zip(gold, predicted)) / len(gold) if gold else 0.0


def calibration_error(confidence: list[float], correct: list[bool], bins: int = 10) -> float:
    """Expected calibration error: over ten equal-width bins of confidence,
    the gap between a bin's mean confidence and the share of its labels
    that are right, weighted by how many labels fall in it. 0 when a label
    given with 70 % confidence is right 70 % of the time."""
    sums = [[0.0, 0.0, 0] for _ in range(bins)]
    for c, ok in zip(confidence, correct):
        b = sums[min(int(c * bins), bins - 1)]
        b[0] += c
        b[1] += bool(ok)
        b[2] += 1
    n = sum(b[2] for b in sums)
    return sum(abs(b[0] - b[1]) for b in sums) / n if n else 0.0

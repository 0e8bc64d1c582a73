"""Scorers behind one small interface.

A scorer turns a batch of texts (and their tokens, already split by
sentiment.text) into ``(label, score, confidence, words)`` for each text.
It says which languages it covers; texts in other languages never reach it.

- ``default``: the linear model trained on SemEval tweets (sentiment/model.py).
- ``vader``: VADER (rule-based, social-media lexicon), compound >= 0.05 is
  positive, <= -0.05 negative: the thresholds its authors recommend.
- ``textblob``: TextBlob's pattern lexicon, polarity > 0 positive, < 0
  negative: kept as the plainly explainable baseline.
"""
from __future__ import annotations

from pathlib import Path
from typing import Protocol

from .assessment import LABELS

Scored = tuple[str, float, float, list[str]]  # label, score -1..1, confidence 0..1, words


class Scorer(Protocol):
    name: str
    languages: frozenset[str]

    def score_many(self, texts: list[str], tokens: list[list[str]]) -> list[Scored]: ...


def _polar(value: float, threshold: float) -> tuple[str, float]:
    """Label and confidence for a lexicon scorer's polarity in -1..1."""
    if value >= threshold:
        return "positive", 0.5 + 0.5 * min(1.0, value)
    if value <= -threshold:
        return "negative", 0.5 + 0.5 * min(1.0, -value)
    return "neutral", 0.5


class DefaultScorer:
    name = "default"
    languages = frozenset({"en"})

    def __init__(self, path: str | Path | None = None) -> None:
        from .model import DEFAULT_PATH, LinearModel
        self.model = LinearModel.load(path or DEFAULT_PATH)

    def score_many(self, texts: list[str], tokens: list[list[str]]) -> list[Scored]:
        model = self.model
        if not tokens:
            return []
        if len(tokens) <= 4:  # analyze() of one text: plain Python beats batch set-up
            return [self._one(t) for t in tokens]
        z, parts = model.logits(tokens)
        probs = model.probabilities(z)
        best = probs.argmax(axis=1).tolist()
        conf = probs.max(axis=1).tolist()
        score = (probs[:, 2] - probs[:, 0]).tolist()
        words = model.explain_many(parts, best)
        return [(LABELS[b], s, c, w) for b, s, c, w in zip(best, score, conf, words)]

    def _one(self, tokens: list[str]) -> Scored:
        p, items = self.model.score_one(tokens)
        best = p.index(max(p))
        return LABELS[best], p[2] - p[0], p[best], self.model.explain_one(items, best)


class VaderScorer:
    name = "vader"
    languages = frozenset({"en"})
    threshold = 0.05

    def __init__(self) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
        self.analyzer = SentimentIntensityAnalyzer()

    def score_many(self, texts: list[str], tokens: list[list[str]]) -> list[Scored]:
        lexicon = self.analyzer.lexicon
        out: list[Scored] = []
        for text, toks in zip(texts, tokens):
            compound = self.analyzer.polarity_scores(text)["compound"]
            label, conf = _polar(compound, self.threshold)
            sign = 1 if label == "positive" else -1 if label == "negative" else 0
            found = {t: lexicon[t] for t in toks if t in lexicon and lexicon[t] * sign > 0}
            words = sorted(found, key=lambda t: -abs(found[t]))[:3]
            out.append((label, compound, conf, words))
        return out


class TextBlobScorer:
    name = "textblob"
    languages = frozenset({"en"})

    def __init__(self) -> None:
        from textblob import TextBlob
        self.blob = TextBlob

    def score_many(self, texts: list[str], tokens: list[list[str]]) -> list[Scored]:
        out: list[Scored] = []
        for text in texts:
            s = self.blob(text).sentiment_assessments
            label, conf = _polar(s.polarity, 1e-9)
            sign = 1 if label == "positive" else -1 if label == "negative" else 0
            parts = sorted((a for a in s.assessments if a[1] * sign > 0), key=lambda a: -abs(a[1]))
            out.append((label, float(s.polarity), conf, [" ".join(a[0]) for a in parts[:3]]))
        return out


SCORERS = {"default": DefaultScorer, "vader": VaderScorer, "textblob": TextBlobScorer}


def make(name: str) -> Scorer:
    try:
        return SCORERS[name]()
    except KeyError:
        raise ValueError(f"unknown sentiment scorer {name!r}; expected one of: {', '.join(SCORERS)}") from None

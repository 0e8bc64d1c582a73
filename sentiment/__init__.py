"""Sentiment and urgency of customer texts: measured, explained and fast.

    from sentiment import analyze, analyze_many, Assessment, configure

    configure(brand_names=["Acme"], rules_path="rules.toml", scorer="default")
    a = analyze("@acme I was charged twice, refund me now!", context={"reach": 20000})
    a.label, a.score, a.confidence, a.urgency, a.reasons, a.lang, a.words

Pure: no database, no network, imports nothing else of Replydesk. The
batch path, `analyze_many`, is what ingest uses: it splits every text
once, decides languages cheaply, scores the whole batch with one set of
array operations and applies the urgency rules.
"""
from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import lang as _lang
from .assessment import LABELS, UNKNOWN, Assessment
from .scorers import Scorer, make as _make_scorer
from .text import tokenize_many
from .urgency import RuleSet, RulesError

__all__ = ["analyze", "analyze_many", "Assessment", "configure", "LABELS", "UNKNOWN", "RulesError"]

_lock = threading.Lock()
_brand_names: tuple[str, ...] = ()
_rules_path: str | None = None
_scorer_name = "default"
_rules: RuleSet | None = None
_scorers: dict[str, Scorer] = {}


def configure(*, brand_names: Sequence[str] | None = None, rules_path: str | Path | None = None,
              scorer: str | None = None, model_path: str | Path | None = None) -> None:
    """Process-wide settings, from the [sentiment] section of the config.

    brand_names  names customers use for you (a question naming one raises urgency)
    rules_path   TOML file applied on top of the shipped urgency rules by rule
                 name; "" goes back to the shipped rules alone
    scorer       "default", "vader" or "textblob"
    model_path   another model file for the default scorer (evaluation, retraining)

    Arguments left as None keep their current value. A bad rules file or
    scorer name raises here (RulesError / ValueError), not on first use.
    """
    global _brand_names, _rules_path, _scorer_name, _rules
    with _lock:
        if model_path is not None:
            from .scorers import DefaultScorer
            _scorers["default"] = DefaultScorer(model_path or None)
        if rules_path is not None:
            path = str(rules_path) or None
            rules = RuleSet.load(path)
            _rules_path, _rules = path, rules
        if scorer is not None:
            _scorer(scorer)
            _scorer_name = scorer
        if brand_names is not None:
            _brand_names = tuple(n for n in brand_names if n and n.strip())


def _scorer(name: str) -> Scorer:
    s = _scorers.get(name)
    if s is None:
        s = _scorers[name] = _make_scorer(name)
    return s


def _ruleset() -> RuleSet:
    global _rules
    if _rules is None:
        with _lock:
            if _rules is None:
                _rules = RuleSet.load(_rules_path)
    return _rules


def analyze(text: str, *, lang: str | None = None, context: dict[str, Any] | None = None) -> Assessment:
    """Sentiment and urgency of one text. `lang` (ISO 639-1) skips detection;
    `context` keys: reach, repeat_contact, waiting_seconds, channel, subject,
    brand_names (all optional)."""
    return analyze_many([text], langs=[lang], contexts=[context])[0]


def analyze_many(texts: list[str], *, langs: list[str | None] | None = None,
                 contexts: list[dict | None] | None = None) -> list[Assessment]:
    """analyze() for a batch, in order; much faster than a loop of analyze()."""
    n = len(texts)
    if langs is not None and len(langs) != n:
        raise ValueError(f"analyze_many: {n} texts but {len(langs)} langs")
    if contexts is not None and len(contexts) != n:
        raise ValueError(f"analyze_many: {n} texts but {len(contexts)} contexts")
    texts = [t if isinstance(t, str) else "" if t is None else str(t) for t in texts]
    scorer = _scorer(_scorer_name)
    rules = _ruleset()
    tokens = tokenize_many(texts)

    # Language: given, else the cheap English check, else the detector.
    codes: list[str | None] = []
    notes: list[str | None] = []
    for i, (text, toks) in enumerate(zip(texts, tokens)):
        given = langs[i] if langs is not None else None
        if given and given.lower() not in ("und", "zxx", "qme", "qht"):
            code: str | None = given.lower().split("-")[0].split("_")[0]
        elif _lang.quick_english(text, toks):
            code = "en"
        else:
            words = [t for t in toks if t[0].isalpha()]
            code = _lang.slow_detect(" ".join(words))[0] if words else None
            if code is None and words:
                notes.append("language not recognised")
                codes.append(None)
                continue
        codes.append(code)
        # Text with no words at all (emoji, links) is scored on what it has.
        notes.append(None if code is None or code in scorer.languages else f"language not covered: {code}")

    scored_at = [i for i in range(n) if notes[i] is None]
    scored = scorer.score_many([texts[i] for i in scored_at], [tokens[i] for i in scored_at])
    results: list[tuple[str, float, float, list[str]]] = [(UNKNOWN, 0.0, 0.0, [])] * n
    for i, s in zip(scored_at, scored):
        results[i] = s

    out: list[Assessment] = []
    brands = _brand_names
    for i, (label, score, confidence, words) in enumerate(results):
        ctx = contexts[i] if contexts is not None else None
        urgency, reasons = rules.evaluate(texts[i], label, score, ctx, brands)
        if notes[i]:
            reasons.append(notes[i])
        out.append(Assessment(label, round(score, 4), round(confidence, 4), urgency, reasons,
                              codes[i], words, scorer.name))
    return out

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
from .assessment import LABELS, UNKNOWN, Assessment, Scored
from .scorers import Scorer, make as _make_scorer
from .text import tokenize_many
from .urgency import RuleSet, RulesError

__all__ = ["analyze", "analyze_many", "score_many", "scoring", "Assessment", "Scored", "configure", "LABELS",
           "UNKNOWN", "RulesError"]

_lock = threading.Lock()
_brand_names: tuple[str, ...] = ()
_rules_path: str | None = None
_scorer_name = "default"
_model_path: str | None = None
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
    global _brand_names, _rules_path, _scorer_name, _rules, _model_path
    with _lock:
        if model_path is not None:
            from .scorers import DefaultScorer
            _scorers["default"] = DefaultScorer(model_path or None)
            _model_path = str(model_path) or None
        if rules_path is not None:
            path = str(rules_path) or None
            rules = RuleSet.load(path)
            _rules_path, _rules = path, rules
        if scorer is not None:
            _scorer(scorer)
            _scorer_name = scorer
        if brand_names is not None:
            _brand_names = tuple(n for n in brand_names if n and n.strip())


def scoring() -> dict[str, str | None]:
    """The settings another process needs to score exactly as this one:
    pass them to configure() there (see score_many)."""
    return {"scorer": _scorer_name, "model_path": _model_path if _scorer_name == "default" else None}


def _scorer_id() -> str:
    return _scorer_name + (f"@{_model_path}" if _scorer_name == "default" and _model_path else "")


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
                 contexts: list[dict | None] | None = None,
                 scored: Sequence[Scored | None] | None = None) -> list[Assessment]:
    """analyze() for a batch, in order; much faster than a loop of analyze().
    `scored` may hold score_many's results for some texts, computed ahead
    (in another process): those made by this process's scorer are used as
    they are, and only urgency is added."""
    n = len(texts)
    for name, given in (("langs", langs), ("contexts", contexts), ("scored", scored)):
        if given is not None and len(given) != n:
            raise ValueError(f"analyze_many: {n} texts but {len(given)} {name}")
    texts = [_as_text(t) for t in texts]
    me = _scorer_id()
    results: list[Scored | None] = [s if s is not None and s.scorer == me else None
                                    for s in scored] if scored is not None else [None] * n
    todo = [i for i in range(n) if results[i] is None]
    if todo:
        for i, s in zip(todo, score_many([texts[i] for i in todo],
                                         langs=[langs[i] for i in todo] if langs is not None else None)):
            results[i] = s

    out: list[Assessment] = []
    rules, brands = _ruleset(), _brand_names
    for i, s in enumerate(results):
        ctx = contexts[i] if contexts is not None else None
        urgency, reasons = rules.evaluate(texts[i], s.label, s.score, ctx, brands)
        if s.note:
            reasons.append(s.note)
        out.append(Assessment(s.label, s.score, s.confidence, urgency, reasons, s.lang, s.words,
                              s.scorer.partition("@")[0]))
    return out


def score_many(texts: list[str], *, langs: list[str | None] | None = None) -> list[Scored]:
    """Language and label of each text, without urgency (which needs the
    text's context). Pure and picklable: a parser process can do this part."""
    texts = [_as_text(t) for t in texts]
    n = len(texts)
    scorer = _scorer(_scorer_name)
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
    results: list[tuple[str, float, float, list[str]]] = [(UNKNOWN, 0.0, 0.0, [])] * n
    for i, s in zip(scored_at, scorer.score_many([texts[i] for i in scored_at], [tokens[i] for i in scored_at])):
        results[i] = s
    me = _scorer_id()
    return [Scored(me, label, round(score, 4), round(confidence, 4), words, codes[i], notes[i])
            for i, (label, score, confidence, words) in enumerate(results)]


def _as_text(t) -> str:
    return t if isinstance(t, str) else "" if t is None else str(t)

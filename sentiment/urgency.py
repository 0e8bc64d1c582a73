"""Urgency: transparent, named, weighted rules read from TOML.

The shipped rule set is urgency_rules.toml beside this module (its header
documents the format). A site's own file is applied on top by rule name.
A message's urgency is the sum of the weights of the rules that fire,
capped at 100, and each rule that fires adds "<name> (+<weight>)" to the
reasons, in the order the rules are listed.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from .text import fold

DEFAULT_RULES = Path(__file__).with_name("urgency_rules.toml")

# Signal name -> (its parameter, type, default), None when it has none.
SIGNALS: dict[str, tuple[str, type, float] | None] = {
    "strong_negative": ("below", float, -0.5),
    "brand_question": None,
    "reach": ("at_least", int, 10000),
    "repeat_contact": None,
    "waiting": ("hours", float, 24.0),
}


class RulesError(ValueError):
    """A rules file is not valid; the message names the file and the rule."""


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    weight: int
    phrases: tuple[str, ...] = ()
    when: str | None = None
    value: float = 0.0          # the signal's parameter (below / at_least / hours)
    pattern: re.Pattern | None = None

    @property
    def reason(self) -> str:
        return f"{self.name} (+{self.weight})"


def _pieces(phrase: str) -> list[str]:
    """One phrase, folded, as regex pieces: a letter each, "*" the rest of a
    word, a space any whitespace."""
    out: list[str] = []
    for i, word in enumerate(fold(phrase).split()):
        if i:
            out.append(r"\s+")
        star = word.endswith("*")
        out.extend(re.escape(c) for c in word.rstrip("*"))
        if star:
            out.append(r"\w*")
    return out


def _trie_regex(phrases: list[str] | tuple[str, ...]) -> str:
    """All phrases in one alternation shaped as a trie on their first letters,
    so the regex engine tries one branch per position instead of every phrase."""
    trie: dict = {}
    for p in phrases:
        pieces = _pieces(p)
        node, k = trie, 0
        while k < min(3, len(pieces) - 1) and not pieces[k].startswith("\\"):
            node = node.setdefault(pieces[k], {})
            k += 1
        node.setdefault("", set()).add("".join(pieces[k:]))

    def walk(node: dict) -> str:
        parts = [key + walk(child) for key, child in sorted(node.items()) if key]
        parts += sorted(node.get("", ()), key=lambda r: (-len(r), r))
        return parts[0] if len(parts) == 1 else "(?:" + "|".join(parts) + ")"

    return walk(trie)


def _check(raw: dict, where: str) -> dict:
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise RulesError(f"{where}: every [[rule]] needs a name")
    where = f"{where}: rule {name!r}"
    known = {"name", "weight", "phrases", "when", "enabled"} | {s[0] for s in SIGNALS.values() if s}
    for key in raw:
        if key not in known:
            raise RulesError(f"{where}: unknown key {key!r} (known: {', '.join(sorted(known))})")
    return raw


def _compile(raw: dict, where: str) -> Rule:
    where = f"{where}: rule {raw['name']!r}"
    weight = raw.get("weight")
    if not isinstance(weight, int) or isinstance(weight, bool) or not 0 <= weight <= 100:
        raise RulesError(f"{where}: weight must be a whole number from 0 to 100, got {weight!r}")
    phrases, when = raw.get("phrases"), raw.get("when")
    if (phrases is None) == (when is None):
        raise RulesError(f"{where}: give exactly one of phrases = [...] or when = \"...\"")
    if phrases is not None:
        if not isinstance(phrases, list) or not phrases or not all(isinstance(p, str) and p.strip() for p in phrases):
            raise RulesError(f"{where}: phrases must be a non-empty list of strings")
        pattern = re.compile(r"\b" + _trie_regex(phrases) + r"\b")
        return Rule(raw["name"], weight, tuple(phrases), pattern=pattern)
    if when not in SIGNALS:
        raise RulesError(f"{where}: when = {when!r} is not one of {', '.join(SIGNALS)}")
    param = SIGNALS[when]
    value = 0.0
    if param:
        key, kind, default = param
        value = raw.get(key, default)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise RulesError(f"{where}: {key} must be a number, got {value!r}")
        value = kind(value)
    return Rule(raw["name"], weight, when=when, value=value)


def _read(path: Path) -> list[dict]:
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise RulesError(f"{path}: urgency rules file not found") from None
    except tomllib.TOMLDecodeError as e:
        raise RulesError(f"{path}: not valid TOML: {e}") from None
    rules = data.get("rule", [])
    if set(data) - {"rule"} or not isinstance(rules, list):
        raise RulesError(f"{path}: expected only [[rule]] tables")
    return [_check(r, str(path)) for r in rules]


class RuleSet:
    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules
        phrase_rules = [r for r in rules if r.phrases]
        # One pass over the text finds every place where some phrase starts
        # (a lookahead, so overlapping ones too; most texts have none); each
        # rule's own pattern is then tried only at those places.
        all_phrases = [p for r in phrase_rules for p in r.phrases]
        self._starts = re.compile(r"(?=\b" + _trie_regex(all_phrases) + r"\b)") if all_phrases else None
        self._phrase_rules = phrase_rules

    @classmethod
    def load(cls, override: str | Path | None = None) -> "RuleSet":
        """The shipped rules, with `override` (a path) applied by rule name."""
        merged: dict[str, tuple[dict, str]] = {}
        for raw in _read(DEFAULT_RULES):
            merged[raw["name"]] = (dict(raw), str(DEFAULT_RULES))
        if override:
            for raw in _read(Path(override)):
                if raw.get("enabled", True) is False:
                    merged.pop(raw["name"], None)
                elif raw["name"] in merged:
                    base, _ = merged[raw["name"]]
                    if ("phrases" in raw or "when" in raw):  # a new trigger replaces the old one
                        base = {k: v for k, v in base.items() if k not in ("phrases", "when")}
                    merged[raw["name"]] = ({**base, **raw}, str(override))
                else:
                    merged[raw["name"]] = (dict(raw), str(override))
        return cls([_compile(raw, where) for raw, where in merged.values()])

    def phrase_hits(self, folded: str) -> set[str]:
        """Names of the phrase rules whose phrases appear in folded text."""
        if self._starts is None:
            return set()
        starts = [m.start() for m in self._starts.finditer(folded)]
        if not starts:
            return set()
        return {r.name for r in self._phrase_rules if any(r.pattern.match(folded, at) for at in starts)}

    def evaluate(self, text: str, label: str, score: float, context: dict[str, Any] | None,
                 brand_names: tuple[str, ...]) -> tuple[int, list[str]]:
        """(urgency 0..100, reasons) for one text."""
        ctx = context or {}
        subject = ctx.get("subject")
        folded = fold(f"{subject}\n{text}" if subject else text)
        hits = self.phrase_hits(folded)
        if not hits and not ctx and label != "negative" and "?" not in folded:
            return 0, []  # most texts: no rule can fire, skip the walk over the rules
        total, reasons = 0, []
        for rule in self.rules:
            if rule.phrases:
                fired = rule.name in hits
            else:
                fired = _signal(rule, folded, label, score, ctx, brand_names)
            if fired and rule.weight:
                total += rule.weight
                reasons.append(rule.reason)
        return min(total, 100), reasons


def _signal(rule: Rule, folded: str, label: str, score: float, ctx: dict[str, Any],
            brand_names: tuple[str, ...]) -> bool:
    when = rule.when
    if when == "strong_negative":
        return label == "negative" and score <= rule.value
    if when == "brand_question":
        if "?" not in folded:
            return False
        names = tuple(ctx["brand_names"]) if ctx.get("brand_names") is not None else brand_names
        return ctx.get("channel") == "email" or bool(names and _brand_pattern(names).search(folded))
    if when == "reach":
        return (ctx.get("reach") or 0) >= rule.value
    if when == "repeat_contact":
        return bool(ctx.get("repeat_contact"))
    if when == "waiting":
        return (ctx.get("waiting_seconds") or 0) >= rule.value * 3600
    return False


@lru_cache(maxsize=64)
def _brand_pattern(names: tuple[str, ...]) -> re.Pattern:
    """A brand named as a word, as @handle, or as a handle without spaces."""
    forms = set()
    for name in names:
        n = fold(name).strip()
        if n:
            forms.add(re.escape(n).replace(r"\ ", r"\s*"))
    return re.compile(r"(?<!\w)@?(?:" + "|".join(sorted(forms)) + r")(?!\w)") if forms else re.compile(r"(?!x)x")

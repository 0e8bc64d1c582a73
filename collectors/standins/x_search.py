"""The part of X's search query language the stand-in understands.

Enough for the watches people set up (brand names, phrases, hashtags,
handles) and for what Replydesk adds itself (`(query) -is:retweet`): terms
are ANDed, `OR` separates alternatives (AND binds tighter, as on X),
parentheses group, a leading `-` negates, and `"quoted phrases"` match as
written. Operators: is:retweet, is:reply, is:quote, from:, to:, lang:.
Anything else with a colon is refused as X refuses an unknown operator.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Tweet = dict[str, Any]
Test = Callable[[Tweet], bool]
_TOKEN = re.compile(r'-?"[^"]*"|-?\(|\)|[^\s()]+')


def compile_query(query: str, users: dict[str, dict[str, Any]]) -> Test:
    """A predicate over stored tweets; ValueError (X's wording) when X would refuse the query."""
    tokens = _TOKEN.findall(query)
    if not tokens:
        raise ValueError("The query parameter must not be empty.")
    test, rest = _or(tokens, users)
    if rest:
        raise ValueError(f"There were errors processing your request: unbalanced parentheses in {query!r}.")
    return test


def _or(tokens: list[str], users) -> tuple[Test, list[str]]:
    alternatives = []
    while True:
        test, tokens = _and(tokens, users)
        alternatives.append(test)
        if tokens[:1] != ["OR"]:
            break
        tokens = tokens[1:]
    return (alternatives[0] if len(alternatives) == 1
            else lambda t: any(a(t) for a in alternatives)), tokens


def _and(tokens: list[str], users) -> tuple[Test, list[str]]:
    terms: list[Test] = []
    while tokens and tokens[0] not in ("OR", ")"):
        token, tokens = tokens[0], tokens[1:]
        negate = token.startswith("-") and len(token) > 1
        token = token[1:] if negate else token
        if token == "(":
            test, tokens = _or(tokens, users)
            if tokens[:1] != [")"]:
                raise ValueError("There were errors processing your request: missing ')'.")
            tokens = tokens[1:]
        else:
            test = _term(token, users)
        terms.append((lambda t, f=test: not f(t)) if negate else test)
    if not terms:
        raise ValueError("There were errors processing your request: an OR or a group with nothing in it.")
    return lambda t: all(f(t) for f in terms), tokens


def _term(term: str, users: dict[str, dict[str, Any]]) -> Test:
    if term.startswith('"'):
        phrase = term.strip('"').lower()
        return lambda t: phrase in t["text"].lower()
    op, sep, value = term.partition(":")
    if sep and not op.startswith(("#", "@", "$")) and not value.startswith("//"):
        return _operator(op.lower(), value, users)
    word = re.compile(rf"(?<!\w){re.escape(term)}(?!\w)", re.I)
    return lambda t: word.search(t["text"]) is not None


def _operator(op: str, value: str, users: dict[str, dict[str, Any]]) -> Test:
    def refs(t: Tweet) -> set[str]:
        return {r["type"] for r in t.get("referenced_tweets", ())}

    def handle(uid: str | None) -> str:
        return users.get(uid or "", {}).get("username", "").lower()

    value_l = value.lstrip("@").lower()
    if op == "is" and value_l in ("retweet", "reply", "quote"):
        kind = {"retweet": "retweeted", "reply": "replied_to", "quote": "quoted"}[value_l]
        return lambda t: kind in refs(t)
    if op == "from":
        return lambda t: handle(t["author_id"]) == value_l
    if op == "to":
        return lambda t: handle(t.get("in_reply_to_user_id")) == value_l
    if op == "lang":
        return lambda t: t.get("lang") == value_l
    raise ValueError(f"There were errors processing your request: Reference to invalid operator '{op}'.")

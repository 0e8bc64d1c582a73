"""Tokenising short customer texts, shared by language detection, the model
and the urgency rules so each text is split once.

Tokens are lowercased; links become ``<url>``, user mentions ``@user``
(who is named says nothing about sentiment and would bloat the model),
runs of three or more equal letters or of "!" / "?" are cut to two
("sooooo" -> "soo"), common emoji become the emoticons the training tweets use,
and a run of clause punctuation (". , ; :") becomes its first mark.
"""
from __future__ import annotations

import re

import numpy as np

URL = "<url>"
USER = "@user"

_TOKEN = re.compile(
    r"https?://\S+|www\.\S+"            # links
    r"|@\w+"                            # mentions
    r"|#\w+"                            # hashtags
    r"|[:;=][\-o'^]?[)\](\[dpo/\\|3*]+"  # emoticons (text is lowercased: :D -> :d)
    r"|[)\](][\-o'^]?[:;=]"             # reversed emoticons (:
    r"|<3"
    r"|[^\W\d_]+(?:'[^\W\d_]+)*"        # words in any alphabet, with contractions
    r"|\d+(?:[.,:]\d+)*"
    r"|!+|\?+"
    r"|[.,;:]+"                         # clause punctuation (ends a negation's scope)
    r"|[\U0001F300-\U0001FAFF\u2600-\u27BF]"  # one emoji
)
_REPEAT = re.compile(r"([^\W\d_])\1{2,}")  # letters only: "1000" stays

# Emoji mapped to the emoticon the training tweets use for the same feeling
# (the training tweets are ASCII only). Never to a word: a mapped emoji must
# not count as English to the language check.
_EMOJI = {}
for _chars, _token in (
        ("😀😃😄😁😆😊☺🙂😉😍🥰😘😎🤩👍👌🙌👏🎉✨💯✅😺😸", ":)"),
        ("😂🤣😹", ":d"),
        ("❤♥💕💖💗💙💚💛💜🧡🤍💓💞", "<3"),
        ("😞😔😟🙁☹😣😖😫😩😢😭😿💔👎😕", ":("),
        ("😠😡🤬👿💢😤🤮🤢💩", ":("),
):
    for _c in _chars:
        _EMOJI[_c] = _token

# Apostrophe look-alikes, folded before tokenising so "don’t" == "don't".
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})

# Latin letters with diacritics -> base letter, for matching phrases written
# with or without them ("zwrot pieniędzy" == "zwrot pieniedzy").
_FOLD = str.maketrans(
    "áàâãäåāăąçćčďđéèêëēėęěíìîïīįłľĺńňñóòôõöøōőŕřśšşșťţțúùûüůūűųýÿźżž",
    "aaaaaaaaacccddeeeeeeeeiiiiiilllnnnoooooooorrsssstttuuuuuuuuyyzzz")


# First characters of tokens that tokenize() keeps as they are.
_PLAIN = frozenset("abcdefgijklmnopqrstuvxyz0123456789#")


def normalise(text: str, repeats: bool = True) -> str:
    """Lowercase, fold apostrophes and cut long character runs.

    ``repeats=False`` skips the run-cutting, for texts known to have none:
    that regular expression is the slowest step of tokenising."""
    text = text.lower()
    if not text.isascii():
        text = text.translate(_QUOTES)
    return _REPEAT.sub(r"\1\1", text) if repeats else text


def has_repeats(texts: list[str]) -> np.ndarray:
    """For each lowercased text, whether it may hold a run of three equal letters
    (one vectorised pass over the whole batch instead of a regular
    expression per text)."""
    n = len(texts)
    if n == 0:
        return np.zeros(0, dtype=bool)
    joined = "\x00".join(texts)
    a = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
    run = (a[:-2] == a[1:-1]) & (a[1:-1] == a[2:]) & (a[:-2] > 64)  # letters, not "..." or "!!!"
    flagged = np.zeros(n, dtype=bool)
    if run.any():
        starts = np.cumsum([0] + [len(t) + 1 for t in texts[:-1]])
        flagged[np.searchsorted(starts, np.flatnonzero(run), side="right") - 1] = True
    return flagged


def tokenize(text: str, repeats: bool = True) -> list[str]:
    """Tokens of one text, in order (see the module docstring)."""
    out = _TOKEN.findall(normalise(text, repeats))
    for i, tok in enumerate(out):
        c = tok[0]
        if c in _PLAIN:
            continue
        if c == "h" or c == "w":
            if tok.startswith(("http://", "https://", "www.")):
                out[i] = URL
        elif c == "@":
            out[i] = USER
        elif (c == "!" or c == "?") and len(tok) > 2:
            out[i] = tok[:2]
        elif c in ".,;:":
            if not tok.strip(".,;:"):
                out[i] = c
        elif c > "\u2500":
            out[i] = _EMOJI.get(tok, tok)
    return out


def tokenize_many(texts: list[str]) -> list[list[str]]:
    """tokenize() over a batch; the same tokens, faster."""
    lowered = [t.lower() for t in texts]
    if len(texts) <= 4:  # one text (analyze()): the regular expression beats array set-up
        return [tokenize(t) for t in lowered]
    flags = has_repeats(lowered).tolist()
    return [tokenize(t, r) for t, r in zip(lowered, flags)]


def fold(text: str) -> str:
    """Lowercased text with diacritics removed (for phrase matching)."""
    text = text.lower()
    if text.isascii():
        return text
    return text.translate(_QUOTES).translate(_FOLD)

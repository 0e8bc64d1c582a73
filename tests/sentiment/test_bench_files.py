"""bench/sentiment_files.py: a file left out is scored by a model that never saw it."""
import importlib.util
from pathlib import Path

from sentiment import dataset
from tests.sentiment.conftest import training_examples

ROOT = Path(__file__).resolve().parents[2]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_sentiment_files", ROOT / "bench" / "sentiment_files.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_left_out_file_is_scored_by_a_model_that_never_saw_it(tmp_path, capsys):
    rows = training_examples()
    folder = tmp_path / "data"
    folder.mkdir()
    line = lambda e, suffix="": f"{e.id}\t{e.label}\t{e.text}{suffix}\n"  # noqa: E731
    (folder / "a-train.tsv").write_text("".join(line(e) for e in rows[:30]))
    # b repeats two of a's tweets: they must leave a's training rows too
    (folder / "b-train.tsv").write_text("".join(line(e, " zebra") for e in rows[30:45]) + line(rows[0]) + line(rows[1]))
    (folder / dataset.DEV_FILE).write_text("".join(line(e) for e in rows[45:]))
    bench = _bench()

    rest = bench.training_rows(folder, "b-train.tsv")
    assert len(rest) == 28 and not any("zebra" in e.text for e in rest)

    assert bench.main(["--data", str(folder), "--files", "b-train.tsv"]) == 0
    out = capsys.readouterr().out
    row = next(x for x in out.splitlines() if x.startswith("b-train.tsv"))
    n, before, after = row.split()[1:4]
    assert n == "17" and 0.0 <= float(before) <= 1.0 and 0.0 <= float(after) <= 1.0
    assert "command: taskset -c 0 python bench/sentiment_files.py --files b-train.tsv" in out

"""bench/sentiment_files.py: a file left out is scored by a model that never saw it."""
import dataclasses

from tests.sentiment.conftest import bench_module, training_examples, training_folder


def test_left_out_file_is_scored_by_a_model_that_never_saw_it(tmp_path, capsys):
    folder = training_folder(tmp_path)  # a-train.tsv: 45 rows, and the dev file
    rows = training_examples()
    # b repeats two of a's tweets: they must leave a's training rows too
    b = [dataclasses.replace(e, id=f"b{e.id}", text=e.text + " zebra") for e in rows[:15]] + rows[:2]
    (folder / "b-train.tsv").write_text("".join(f"{e.id}\t{e.label}\t{e.text}\n" for e in b))
    bench = bench_module("sentiment_files")

    rest = bench.training_rows(folder, "b-train.tsv")
    assert len(rest) == 43 and not any("zebra" in e.text for e in rest)

    assert bench.main(["--data", str(folder), "--files", "b-train.tsv"]) == 0
    out = capsys.readouterr().out
    row = next(x for x in out.splitlines() if x.startswith("b-train.tsv"))
    n, before, after = row.split()[1:4]
    assert n == "17" and 0.0 <= float(before) <= 1.0 and 0.0 <= float(after) <= 1.0
    assert "command: taskset -c 0 python bench/sentiment_files.py --files b-train.tsv" in out

"""bench/sentiment.py: each scorer's quality, calibration and speed on a held-out file."""
from sentiment import dataset
from tests.sentiment.conftest import bench_module, training_folder


def test_prints_quality_calibration_and_speed_for_each_scorer(tmp_path, capsys):
    folder = training_folder(tmp_path)  # its dev file: 15 texts, 5 a label
    bench = bench_module("sentiment")
    assert bench.main(["--data", str(folder), "--scorers", "default,vader", "--seconds", "0.01", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert f"dev set: {dataset.DEV_FILE} (15 texts)" in out
    for name in ("default", "vader"):
        row = next(x for x in out.splitlines() if x.startswith(name + " ")).split()
        recall, accuracy, unknown, confidence, error = row[1:6]
        assert 0.0 <= float(recall) <= 1.0 and 0.0 <= float(accuracy) <= 1.0 and int(unknown) >= 0
        # mean confidence (a label is never given below 1/3) and calibration error
        assert 0.3 <= float(confidence) <= 1.0 and 0.0 <= float(error) <= 1.0
    assert "command: taskset -c 0 python bench/sentiment.py" in out

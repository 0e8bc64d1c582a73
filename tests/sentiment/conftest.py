import importlib.util
from pathlib import Path

import pytest

import sentiment
from sentiment import dataset
from sentiment.model import LABELS


@pytest.fixture(autouse=True)
def default_settings():
    """Every test starts and ends with the shipped settings."""
    sentiment.configure(brand_names=[], rules_path="", scorer="default")
    yield
    sentiment.configure(brand_names=[], rules_path="", scorer="default")


def training_examples() -> list[dataset.Example]:
    """60 short texts, 20 a label, each naming two words of its label."""
    words = {"negative": ["awful", "hate", "broken", "worst"], "neutral": ["monday", "office", "order", "blue"],
             "positive": ["love", "great", "thanks", "happy"]}
    out = []
    for n in range(60):
        label = LABELS[n % 3]
        w = words[label]
        out.append(dataset.Example(str(n), label, f"{w[n % 4]} and {w[(n // 3) % 4]} today #{n % 5}"))
    return out


def training_folder(tmp_path, dev_suffix: str = ""):
    """A folder for `python -m sentiment.train`: the first 45 examples as a
    training file, the other 15 (each text + dev_suffix) as the dev file."""
    folder = tmp_path / "data"
    folder.mkdir()
    rows = training_examples()
    (folder / "a-train.tsv").write_text("".join(f"{e.id}\t{e.label}\t{e.text}\n" for e in rows[:45]))
    (folder / dataset.DEV_FILE).write_text("".join(f"{e.id}\t{e.label}\t{e.text}{dev_suffix}\n" for e in rows[45:]))
    return folder


def bench_module(name: str):
    """A script of bench/ (not a package) imported as a module."""
    path = Path(__file__).resolve().parents[2] / "bench" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

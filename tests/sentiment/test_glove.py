"""Outside word vectors (sentiment.glove): read from either file format, and
folded into the words' weights so a word no training text used still gets
the sentiment of the words it sits near."""
import json

import numpy as np
import pytest

from sentiment import glove, train
from sentiment.model import LABELS, LinearModel
from sentiment.text import tokenize
from tests.sentiment.conftest import training_examples, training_folder

# A made-up 3-number space: praise along the first axis, blame along the
# second, everyday things along the third.
VECTORS = {
    "the": [0.1, 0.1, 0.9], ",": [0.0, 0.0, 1.0], "love": [1.0, 0.0, 0.1], "great": [0.9, 0.1, 0.0],
    "thanks": [0.9, 0.0, 0.2], "happy": [1.0, 0.1, 0.1], "awful": [0.0, 1.0, 0.1], "hate": [0.1, 0.9, 0.0],
    "broken": [0.0, 1.0, 0.2], "worst": [0.1, 1.0, 0.0], "monday": [0.0, 0.0, 1.0], "office": [0.1, 0.0, 1.0],
    "order": [0.0, 0.1, 1.0], "blue": [0.0, 0.0, 0.9], "Paris": [0.0, 0.0, 1.0],
    # never in a training text, nor in VADER's lexicon:
    "blorp": [1.0, 0.05, 0.0], "snarf": [0.05, 1.0, 0.0], "tuesday": [0.0, 0.05, 1.0],
}


def _glove_text(path):
    path.write_text("".join(f"{w} {' '.join(map(str, v))}\n" for w, v in VECTORS.items()), encoding="utf-8")
    return path


def test_reads_glove_text_and_wink_json_alike(tmp_path):
    a = glove.read(_glove_text(tmp_path / "g.txt"), words=100, negated=2)
    data = {"dimensions": 3, "words": list(VECTORS),
            "vectors": {w: v + [float(np.linalg.norm(v)), i] for i, (w, v) in enumerate(VECTORS.items())}}
    (tmp_path / "g.json").write_text(json.dumps(data))
    b = glove.read(tmp_path / "g.json", words=100, negated=2)
    # punctuation and capitalised words are not words our tokenizer gives
    assert "," not in a.tokens and "Paris" not in a.tokens
    assert a.tokens[:3] == ["the", "love", "great"] and a.tokens[-2:] == ["the_neg", "love_neg"]
    assert a.tokens == b.tokens
    np.testing.assert_allclose(a.matrix, b.matrix)
    assert a.matrix.shape == (len(a.tokens), 6)
    np.testing.assert_allclose(np.linalg.norm(a.matrix, axis=1), 1.0)
    assert not a.matrix[:-2, 3:].any() and not a.matrix[-2:, :3].any()  # plain | negated halves
    assert a.meta["words"] == 16 and a.meta["negated"] == 2 and a.meta["dim"] == 3
    assert glove.read(tmp_path / "g.txt", words=4, negated=0).tokens == ["the", "love", "great", "thanks"]


def test_a_bad_file_says_what_was_expected(tmp_path):
    (tmp_path / "x.txt").write_text("1,2,3\n")
    with pytest.raises(ValueError, match="no word vectors found"):
        glove.read(tmp_path / "x.txt")


def test_words_no_tweet_used_get_the_sentiment_of_their_neighbours(tmp_path):
    outside = glove.read(_glove_text(tmp_path / "g.txt"))
    said = []
    model = train.fit(training_examples(), seed=0, vectors=0, buckets=0, outside=outside, log=said.append)
    # The fold is exact: the model's own scores are scikit-learn's, word pairs renumbered included.
    assert any("agreement with scikit-learn after float16 rounding: 1.0000" in s for s in said)
    assert model.meta["outside_vectors"]["file"] == "g.txt"
    assert "blorp" in model.index and "snarf_neg" in model.index
    leans = [LABELS[i] for i in model.token_w[[model.index[w] for w in ("blorp", "snarf", "tuesday")]].argmax(axis=1)]
    assert leans == ["positive", "negative", "neutral"]
    probs = model.predict([tokenize("blorp"), tokenize("snarf")])
    assert probs[0, 2] > probs[1, 2] + 0.05 and probs[1, 0] > probs[0, 0] + 0.05
    # Without outside vectors the same words are unknown to the model: nothing to go on.
    plain = train.fit(training_examples(), seed=0, vectors=0, buckets=0, log=lambda *_: None)
    assert "blorp" not in plain.index
    flat = plain.predict([tokenize("blorp"), tokenize("snarf")])
    np.testing.assert_allclose(flat[0], flat[1])
    # And the word shown to staff is the one that decided it.
    assert model.explain_many(model.logits([tokenize("blorp")])[1], [2])[0] == ["blorp"]


def test_merging_the_vocabularies_keeps_each_pair_on_its_words():
    tokens = ["b", "d"]                       # <s> = 2, </s> = 3 before the merge
    pairs = np.array([0 * 4 + 1, 2 * 4 + 0, 1 * 4 + 3])  # "b d", "<s> b", "d </s>"
    merged, w, keys, pair_w = train.merge_vocabulary(
        tokens, np.array([[1, 0, 0], [0, 1, 0]]), pairs, np.array([[1, 1, 1], [2, 2, 2], [3, 3, 3]]),
        ["a", "c", "d"], np.array([[0, 0, 5], [0, 5, 0], [5, 0, 0]]))
    assert merged == ["a", "b", "c", "d"]
    np.testing.assert_array_equal(w, [[0, 0, 5], [1, 0, 0], [0, 5, 0], [5, 1, 0]])  # "d" in both: summed
    names = merged + ["<s>", "</s>"]
    decoded = {(names[k // 6], names[k % 6]): tuple(v) for k, v in zip(keys.tolist(), pair_w.tolist())}
    assert decoded == {("b", "d"): (1, 1, 1), ("<s>", "b"): (2, 2, 2), ("d", "</s>"): (3, 3, 3)}
    assert list(keys) == sorted(keys)         # the model looks pairs up by binary search


def test_train_command_takes_a_glove_file(tmp_path, capsys):
    folder = training_folder(tmp_path)
    out = tmp_path / "model.npz"
    assert train.main([str(folder), "--out", str(out), "--glove", str(_glove_text(tmp_path / "g.txt")),
                       "--glove-words", "10", "--glove-negated", "3", "--calibrate", "none"]) == 0
    assert "outside vectors: 13 words" in capsys.readouterr().out
    model = LinearModel.load(out)
    assert model.meta["outside_vectors"]["words"] == 10 and model.meta["outside_vectors"]["negated"] == 3
    # "the" and "great_neg" are in no training text: they come from the file's first words
    assert {"the", "great_neg"} <= set(model.index)
    assert "thanks_neg" not in model.index and "blorp" not in model.index   # past the first 3 / 10

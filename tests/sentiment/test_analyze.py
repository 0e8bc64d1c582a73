"""analyze / analyze_many: labels, scores, the words shown to staff, languages."""
import dataclasses

import pytest

from sentiment import Assessment, analyze, analyze_many, configure, score_many, scoring

POSITIVE = ["I love this, thank you so much!", "Best customer service ever, you guys rock :)",
            "Thanks for the quick fix, really appreciate it", "Great job, I'm so happy with my new phone"]
NEGATIVE = ["Worst service ever. I hate this company.", "The app keeps crashing, so annoying :(",
            "This is terrible, nobody answers and I'm furious", "Awful experience, never buying again"]
NEUTRAL = ["What time does the store open tomorrow?", "Is the new model available in blue?",
           "The update is scheduled for next week", "The store opens at nine on Saturdays"]


@pytest.mark.parametrize("text", POSITIVE)
def test_positive(text):
    a = analyze(text)
    assert (a.label, a.lang, a.scorer) == ("positive", "en", "default")
    assert a.score > 0.3 and a.confidence > 0.5


@pytest.mark.parametrize("text", NEGATIVE)
def test_negative(text):
    a = analyze(text)
    assert (a.label, a.lang) == ("negative", "en")
    assert a.score < -0.3 and a.confidence > 0.5


@pytest.mark.parametrize("text", NEUTRAL)
def test_neutral(text):
    a = analyze(text)
    assert (a.label, a.lang) == ("neutral", "en")
    assert -0.5 < a.score < 0.5


def test_words_explain_the_label():
    assert "love" in analyze("I love this, thank you so much!").words
    assert {"worst", "hate"} & set(analyze("Worst service ever. I hate this company.").words)
    a = analyze("Awful experience, never buying again")
    assert 1 <= len(a.words) <= 3
    assert all("<url>" not in w and "@user" not in w for w in a.words)


def test_assessment_shape():
    a = analyze("Thanks a lot!")
    assert isinstance(a, Assessment)
    assert isinstance(a.urgency, int) and 0 <= a.urgency <= 100
    assert -1 <= a.score <= 1 and 0 <= a.confidence <= 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.label = "negative"


@pytest.mark.parametrize("text,code", [
    ("Quero cancelar minha assinatura, o aplicativo não funciona", "pt"),
    ("Muito obrigado pela ajuda, vocês são ótimos", "pt"),
    ("Dziękuję bardzo, wszystko działa świetnie", "pl"),
    ("Nie działa mi aplikacja od wczoraj, co się dzieje?", "pl"),
    ("Děkuji moc, všechno funguje skvěle", "cs"),
    ("Dobrý den, nefunguje mi aplikace a nikdo neodpovídá", "cs"),
])
def test_uncovered_language_is_unknown_not_an_english_guess(text, code):
    a = analyze(text)
    assert a.label == "unknown"
    assert a.lang == code
    assert a.confidence <= 0.2 and a.score == 0.0 and a.words == []
    assert f"language not covered: {code}" in a.reasons


def test_given_language_skips_detection():
    assert analyze("Thank you so much!", lang="pl").label == "unknown"
    assert analyze("Thank you so much!", lang="en-GB").lang == "en"
    assert analyze("Thank you so much!", lang="und").lang == "en"


def test_text_without_words_has_no_language_but_is_scored():
    a = analyze("😍😍😍")
    assert a.lang is None and a.label == "positive"
    assert analyze("").label == "neutral"


def test_batch_equals_one_by_one():
    texts = POSITIVE + NEGATIVE + NEUTRAL + ["Quero o reembolso agora", "😡😡", "", "I want a refund asap"]
    contexts = [{"reach": 50_000}] * len(texts)
    assert analyze_many(texts, contexts=contexts) == [analyze(t, context=c) for t, c in zip(texts, contexts)]
    assert analyze_many([]) == []


def test_scored_ahead_gives_the_same_assessments():
    # What a parser process computes ahead (score_many) plus urgency here is
    # exactly what analyze_many computes alone.
    texts = POSITIVE + NEGATIVE + ["Quero o reembolso agora", "😡😡", "", "I want a refund asap"]
    contexts = [{"reach": 50_000, "repeat_contact": True}] * len(texts)
    ahead = score_many(texts)
    assert analyze_many(texts, contexts=contexts, scored=ahead) == analyze_many(texts, contexts=contexts)
    assert analyze_many(texts, scored=[None] * len(texts)) == analyze_many(texts)


def test_scored_by_another_scorer_is_not_used():
    by_default = score_many(["I love it, wonderful!"])
    assert scoring() == {"scorer": "default", "model_path": None}
    configure(scorer="vader")
    assert scoring()["scorer"] == "vader"
    a = analyze_many(["I love it, wonderful!"], scored=by_default)[0]
    assert a.scorer == "vader" and a == analyze("I love it, wonderful!")
    # Nor one made with the same scorer name but another model file.
    fake = dataclasses.replace(by_default[0], label="negative", scorer="default@/tmp/other-model.npz")
    configure(scorer="default")
    assert analyze_many(["I love it, wonderful!"], scored=[fake])[0].label == "positive"


def test_batch_argument_lengths_are_checked():
    with pytest.raises(ValueError, match="langs"):
        analyze_many(["a", "b"], langs=["en"])
    with pytest.raises(ValueError, match="contexts"):
        analyze_many(["a"], contexts=[None, None])
    with pytest.raises(ValueError, match="scored"):
        analyze_many(["a"], scored=[])


@pytest.mark.parametrize("name", ["vader", "textblob"])
def test_other_scorers(name):
    configure(scorer=name)
    pos, neg, neu = analyze_many(["I love it, wonderful!", "This is horrible and sad", "The shop opens at nine"])
    assert (pos.label, neg.label, neu.label) == ("positive", "negative", "neutral")
    assert pos.scorer == name and pos.score > 0 > neg.score
    assert "love" in pos.words[0] or "wonderful" in pos.words[0]
    assert analyze("Muito obrigado pela ajuda").label == "unknown"


def test_unknown_scorer_is_refused():
    with pytest.raises(ValueError, match="unknown sentiment scorer"):
        configure(scorer="bert")
    assert analyze("I love it").scorer == "default"

"""Urgency rules: each shipped rule fires on its cases, names itself in the
reasons, and a site's own file changes the rules by name."""
import pytest

from sentiment import RulesError, analyze, configure
from sentiment.urgency import RuleSet


@pytest.mark.parametrize("rule,texts", [
    ("refund request", ["I want a refund for this", "Just give me my money back", "Quero o reembolso",
                        "Chcę zwrotu pieniędzy", "Žádám o vrácení peněz"]),
    ("cancellation", ["Please cancel my subscription", "Quero cancelar o plano", "Chcę anulować zamówienie",
                      "Chci zrušit objednávku"]),
    ("charged twice", ["You charged me twice for one order", "Fui cobrado duas vezes",
                       "Pobrano dwa razy za jedno zamówienie", "Strhli mi dvakrát platbu"]),
    ("outage", ["Your site is down again", "The app stopped working", "O site está fora do ar",
                "Aplikacja nie działa", "Aplikace nefunguje"]),
    ("account hacked", ["My account was hacked", "Minha conta foi hackeada", "Konto zostało zhakowane",
                        "Účet byl hacknutý"]),
    ("legal threat", ["I will talk to my lawyer", "Vou falar com meu advogado", "Idę do prawnika",
                      "Obrátím se na advokáta"]),
    ("safety", ["The charger caught fire", "My phone exploded", "Ładowarka wybuchła", "Nabíječka vybuchla"]),
    ("urgent", ["Please fix this ASAP", "URGENT: order missing", "É urgente", "Pilne!", "Je to naléhavé"]),
])
def test_phrase_rules(rule, texts):
    for text in texts:
        a = analyze(text)
        assert any(r.startswith(rule + " (+") for r in a.reasons), (text, a.reasons)
        assert a.urgency > 0


def test_phrases_need_whole_words():
    rules = RuleSet.load()
    assert rules.phrase_hits("they will cancel the show") == {"cancellation"}
    assert rules.phrase_hits("a cancellation fee") == {"cancellation"}
    assert rules.phrase_hits("uncancelled") == set()
    assert rules.phrase_hits("the best of shows") == set()


def test_phrase_hits_are_every_rule_whose_pattern_is_anywhere_in_the_text(tmp_path):
    # phrase_hits looks for each rule only where some phrase starts; this is
    # the plain definition it must agree with, overlapping phrases included.
    own = tmp_path / "rules.toml"
    own.write_text('[[rule]]\nname = "twice"\nweight = 5\nphrases = ["twice on", "on my card"]\n'
                   '[[rule]]\nname = "card"\nweight = 5\nphrases = ["my card*", "card statement"]\n')
    texts = ["I was charged twice on my card statement, please refund and cancel", "charged twice on",
             "on my cards", "twice on my card", "nothing here", "cancel? refund! outage, hacked; lawyer",
             "my card statement says twice", "refundrefund refund", "tomorrow is down is down", "on my card"]
    for rules in (RuleSet.load(), RuleSet.load(own)):
        for text in texts:
            folded = text.lower()
            assert rules.phrase_hits(folded) == {r.name for r in rules.rules
                                                  if r.pattern and r.pattern.search(folded)}, text
    assert RuleSet.load(own).phrase_hits("on my card") >= {"twice", "card"}


def test_calm_text_has_no_urgency():
    a = analyze("Thanks, the new update looks nice")
    assert (a.urgency, a.reasons) == (0, [])


def test_reasons_and_weights_add_up():
    a = analyze("I was charged twice, refund me ASAP!")
    assert a.reasons[:3] == ["refund request (+25)", "charged twice (+25)", "urgent (+15)"]
    assert a.urgency == 25 + 25 + 15 + (15 if "strong negative (+15)" in a.reasons else 0)


def test_strong_negative():
    a = analyze("Worst service ever. I hate this company.")
    assert a.label == "negative" and "strong negative (+15)" in a.reasons
    # a mild complaint is negative, but not strongly so
    mild = analyze("It was a little slow today")
    assert mild.label == "negative" and mild.score > -0.5 and "strong negative (+15)" not in mild.reasons
    # no sentiment for an uncovered language, so no strong-negative points
    assert "strong negative (+15)" not in analyze("To jest najgorsza obsługa, nienawidzę was").reasons


def test_question_to_the_brand():
    assert "question to the brand (+10)" not in analyze("Does anyone know when Acme opens?").reasons
    configure(brand_names=["Acme", "Acme Mobile"])
    assert "question to the brand (+10)" in analyze("Does anyone know when Acme opens?").reasons
    assert "question to the brand (+10)" in analyze("@acmemobile where is my parcel?").reasons
    assert "question to the brand (+10)" not in analyze("Acme opens at nine.").reasons
    assert "question to the brand (+10)" not in analyze("Acmeville is lovely?").reasons
    # context brand names override the configured ones
    assert "question to the brand (+10)" not in analyze("When does Acme open?",
                                                         context={"brand_names": ["Zed"]}).reasons
    # an email is always addressed to the brand
    assert "question to the brand (+10)" in analyze("When will it ship?", context={"channel": "email"}).reasons


def test_context_signals():
    text = "Any news on my order?"
    assert analyze(text, context={"reach": 9_999}).reasons == []
    assert analyze(text, context={"reach": 10_000}).reasons == ["large audience (+10)"]
    assert analyze(text, context={"reach": 250_000}).reasons == ["large audience (+10)", "very large audience (+10)"]
    assert analyze(text, context={"repeat_contact": True}).reasons == ["repeat contact (+15)"]
    assert analyze(text, context={"waiting_seconds": 3 * 3600}).reasons == []
    assert analyze(text, context={"waiting_seconds": 5 * 3600}).reasons == ["waiting over 4 h (+10)"]
    assert analyze(text, context={"waiting_seconds": 30 * 3600}).urgency == 25


def test_subject_counts():
    a = analyze("see below", context={"subject": "Refund for order 123", "channel": "email"})
    assert "refund request (+25)" in a.reasons


def test_urgency_is_capped_at_100():
    a = analyze("URGENT: hacked account, charged twice, I want a refund or my lawyer sues, the charger caught fire",
                context={"reach": 10**6, "repeat_contact": True, "waiting_seconds": 10**6})
    assert a.urgency == 100 and len(a.reasons) >= 8


def test_override_by_name(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text('''
[[rule]]
name = "refund request"
weight = 40

[[rule]]
name = "urgent"
enabled = false

[[rule]]
name = "outage"
phrases = ["broken"]

[[rule]]
name = "vip"
weight = 30
when = "reach"
at_least = 500
''', encoding="utf-8")
    configure(rules_path=path)
    a = analyze("refund asap, the site is broken", context={"reach": 600})
    # (whether the model finds the text strongly negative is not this test's business)
    assert [r for r in a.reasons if not r.startswith("strong negative")] == [
        "refund request (+40)", "outage (+20)", "vip (+30)"]
    assert analyze("the site is down").reasons == []          # the override replaced the phrases
    configure(rules_path="")
    assert "urgent (+15)" in analyze("refund asap").reasons


@pytest.mark.parametrize("body,message", [
    ('[[rule]]\nweight = 5\nphrases = ["x"]', "needs a name"),
    ('[[rule]]\nname = "x"\nweight = 500\nphrases = ["x"]', "rule 'x': weight"),
    ('[[rule]]\nname = "x"\nweight = 5', "exactly one of"),
    ('[[rule]]\nname = "x"\nweight = 5\nwhen = "moon"', "not one of"),
    ('[[rule]]\nname = "x"\nweight = 5\nphrases = ["x"]\nwieght = 3', "unknown key 'wieght'"),
    ('[[rule]\nname = ', "not valid TOML"),
])
def test_bad_rules_file_names_the_problem(tmp_path, body, message):
    path = tmp_path / "bad.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(RulesError, match=message) as e:
        configure(rules_path=path)
    assert str(path) in str(e.value)
    with pytest.raises(RulesError, match="not found"):
        configure(rules_path=tmp_path / "missing.toml")


def test_what_needs_someone_now_stands_out_in_the_inbox():
    """The inbox shows 50+ as medium and 75+ as high (webui/render.py)."""
    assert analyze("My kettle caught fire this morning").urgency >= 75
    assert analyze("My account got hacked").urgency >= 50
    assert analyze("My account got hacked, please fix this asap!").urgency >= 75
    assert analyze("Where can I ask for a refund?").urgency < 50

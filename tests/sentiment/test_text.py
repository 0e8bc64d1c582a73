"""Tokens, language check and corrections export."""
import io

import pytest

from sentiment import dataset, lang
from sentiment.corrections import Correction, write_tsv
from sentiment.text import fold, tokenize, tokenize_many


def test_tokens():
    assert tokenize("@Acme Sooooo GOOD :D http://x.co/1 #win 😡 don’t") == [
        "@user", "soo", "good", ":d", "<url>", "#win", ":(", "don't"]
    assert tokenize("Łódź 1000") == ["łódź", "1000"]
    # clause punctuation is kept (it ends a negation's scope), one mark a run;
    # emoticons and numbers keep theirs
    assert tokenize("Not good... at all; ok, 12:30 :) 3.5") == [
        "not", "good", ".", "at", "all", ";", "ok", ",", "12:30", ":)", "3.5"]


def test_batch_tokens_equal_single():
    texts = ["Sooooo goooood", "no repeats here...", "!!!", "aaa bbb", "", "ÉÉÉ ok", "1000 zzzz", "a, b; c: d."]
    assert tokenize_many(texts) == [tokenize(t) for t in texts]


def test_fold():
    assert fold("Zwrot PIENIĘDZY, vrácení peněz, devolução") == "zwrot pieniedzy, vraceni penez, devolucao"


@pytest.mark.parametrize("text", ["I love my new phone", "thanks!!", "@acme where is my order?",
                                  "Happy birthday to the best mum"])
def test_quick_english(text):
    assert lang.quick_english(text, tokenize(text)) is True


@pytest.mark.parametrize("text", [
    "Hello,\n\nmy parcel has not arrived and the tracking has not moved since Monday.\n\nThanks,\nZoë",
    "Hi, I was charged twice for the same order, please help. Tomás",
])
def test_one_name_with_accents_in_an_english_text_is_still_english(text):
    assert lang.quick_english(text, tokenize(text)) is True


@pytest.mark.parametrize("text", [
    "Olá, meu pedido ainda não chegou", "Dzień dobry, moje zamowienie nie dotarlo",
    "Please help, prosím, nefunguje to", "thanks Zoë and Tomás",
])
def test_accented_text_with_foreign_or_few_english_words_goes_to_the_detector(text):
    assert lang.quick_english(text, tokenize(text)) is None


@pytest.mark.parametrize("text", [
    "quero meu dinheiro de volta", "nie dziala aplikacja", "Hola, necesito ayuda con mi pedido",
    "Ich habe ein Problem mit meiner Bestellung", "zrušit objednávku", "merci pour votre aide",
])
def test_quick_check_never_calls_foreign_text_english(text):
    assert lang.quick_english(text, tokenize(text)) is None
    assert lang.detect(text)[0] != "en"


def test_detect_without_words():
    assert lang.detect("😀 http://x.co @someone") == (None, 0.0)


def test_corrections_rows_roundtrip(tmp_path):
    out = io.StringIO()
    n = write_tsv([
        Correction("Great\tservice\nreally", "neutral", "positive", "en", 7),
        Correction("meh", "positive", "unknown", "en", 8),              # not a training label
        Correction("Quero o reembolso", "neutral", "negative", "pt", 9),  # model covers English
        Correction("   ", "neutral", "negative", None, 10),              # empty
        Correction("so slow", "neutral", "neutral", None, 11),
        Correction("so slow", "neutral", "negative", None, 12),          # later correction wins
    ], out)
    assert n == 2
    assert out.getvalue() == "correction-7\tpositive\tGreat service really\ncorrection-12\tnegative\tso slow\n"
    path = tmp_path / "c.tsv"
    path.write_text(out.getvalue(), encoding="utf-8")
    assert [(e.label, e.text) for e in dataset.read_tsv(path)] == [("positive", "Great service really"),
                                                                   ("negative", "so slow")]

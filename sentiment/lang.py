"""Which language a short text is in.

py3langid is accurate but costs about 0.7 ms a text, far too slow for the
batch path. Most customer texts here are plainly English, so a cheap check
runs first: the text's words are looked up in a list of common English
words and in lists of common words of other languages. Only a text that
this check cannot settle (few known words, foreign words, letters outside
ASCII in more than one word) goes to py3langid. The check only ever
answers "English"; it never guesses another language and never calls
foreign text English when a foreign function word is in it.
"""
from __future__ import annotations

from pathlib import Path

# Common words of other languages, ASCII-folded forms included. Words that
# are also everyday English ("a", "no", "do", "to", "me", "die", "con", "y",
# "per", "ale", "co", "na", "son", "un") are left out on purpose.
FOREIGN = {
    "pt": "não nao você voce vocês voces obrigado obrigada meu minha para com uma muito está esta estou "
          "isso pelo pela mais quero preciso ajuda pedido ainda já ja também tambem foi são sao mas "
          "por favor olá ola bom boa dia noite que os das dos nós nos ele ela eles tem fazer agora "
          "aqui dinheiro conta compra problema nunca nada ninguém ninguem",
    "es": "el la los las que de en es por para una pero muy gracias hola mi yo tengo quiero hacer "
          "cuando porque como esta estoy nada nunca ayuda pedido dinero cuenta también tambien",
    "fr": "le les des est et je tu vous nous pas une pour avec merci bonjour mais très tres sur dans "
          "c'est j'ai qui ne suis mon ma votre commande",
    "de": "der das und ist nicht ich sie wir ein eine mit für fur auf danke bitte aber sehr noch mein "
          "habe ihr bestellung geld",
    "it": "il che di non sono una della questo ho grazie ciao molto anche ordine",
    "nl": "het een niet ik je met voor dank bedankt maar zijn heb wat ook",
    "pl": "nie jest się sie że ze mnie mam jak czy już juz tak dziękuję dziekuje proszę prosze moje mój "
          "moj bardzo zamówienie zamowienie pieniądze pieniadze pieniędzy pieniedzy zwrot konto nic "
          "dlaczego kiedy gdzie jestem był byl była byla",
    "cs": "není neni jsem je se že mám jak už uz ano děkuji dekuji prosím prosim můj muj velmi "
          "objednávku objednavku peníze penize chci nefunguje proč proc kdy kde byl byla jste",
}
_FOREIGN_WORDS = frozenset(w for words in FOREIGN.values() for w in words.split())


def _english_words() -> frozenset[str]:
    path = Path(__file__).with_name("words_en.txt")
    with open(path, encoding="utf-8") as f:
        words = {line.strip() for line in f if line.strip() and not line.startswith("#")}
    return frozenset(words - _FOREIGN_WORDS)


ENGLISH = _english_words()

_identifier = None


def _langid():
    global _identifier
    if _identifier is None:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier
        _identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    return _identifier


def quick_english(text: str, tokens: list[str]) -> bool | None:
    """True when the text is plainly English; None when unsure.

    `tokens` are those of sentiment.text.tokenize(text)."""
    # Letters outside ASCII: one word of them (a name signing an English
    # email: Zoë, Tomás) is allowed with plenty of English around it; more,
    # and the detector decides.
    odd = 0 if text.isascii() else sum(1 for w in text.split() if not w.isascii() and
                                       any(c.isalpha() and not c.isascii() for c in w))
    if odd > 1:
        return None
    english = foreign = words = 0
    for w in tokens:
        if w in ENGLISH:  # every one of them starts with a letter
            english += 1
            words += 1
        elif w[0].isalpha():
            words += 1
            if w in _FOREIGN_WORDS:
                foreign += 1
    if not words:
        return None
    if 2 * english < words or (odd and (english < 5 or foreign)):
        return None
    if foreign == 0 or (english >= 3 and english >= 4 * foreign):
        return True
    return None


def detect(text: str, tokens: list[str] | None = None) -> tuple[str | None, float]:
    """(ISO 639-1 code or None, confidence 0..1).

    None means "no language could be told": no words at all (emoji,
    links, mentions only) or the detector was unsure."""
    if tokens is None:
        from .text import tokenize
        tokens = tokenize(text)
    if quick_english(text, tokens):
        return "en", 0.9
    words = [t for t in tokens if t[0].isalpha()]
    if not words:
        return None, 0.0
    return slow_detect(" ".join(words))


def slow_detect(words: str) -> tuple[str | None, float]:
    """py3langid over the words of a text (links and mentions removed)."""
    lang, prob = _langid().classify(words)
    prob = float(prob)
    if prob < 0.5:
        return None, prob
    return lang, prob

"""What the sender wrote this time, without the quoted history and signature.

Used for previews in the inbox list and for sentiment: a calm reply that
quotes an angry first message should not score as angry. Line-based, like
the splitters in Zammad and GitHub's email_reply_parser: cut at the first
attribution line ("On … wrote:", Outlook's "-----Original Message-----" or
From:/Sent: block) in the languages customers write in, drop "> " lines,
then drop a signature after "-- " or a phone's "Sent from my …".
"""
from __future__ import annotations

import re

# An attribution line that starts the quoted history (one line or two joined).
_ATTRIBUTION = re.compile(
    r"^\s*("
    r"on\b.{0,200}\bwrote\s*:"              # On Mon, 3 Jun 2024, Alice <a@b> wrote:
    r"|am\b.{0,200}\bschrieb\b.{0,200}:"    # Am 03.06.2024 um 10:00 schrieb Alice:
    r"|le\b.{0,200}\ba\s+écrit\s*:"          # Le 3 juin 2024 à 10:00, Alice a écrit :
    r"|el\b.{0,200}\bescribió\s*:"           # El 3 jun 2024, Alice escribió:
    r"|il\b.{0,200}\bha\s+scritto\s*:"       # Il giorno ... ha scritto:
    r"|op\b.{0,200}\bschreef\b.{0,200}:"     # Op 3 jun. 2024 schreef Alice:
    r"|em\b.{0,200}\bescreveu\s*:"           # Em 3 de jun., Alice escreveu:
    r"|w\s+dniu\b.{0,200}\bpisze\s*:"        # W dniu ... pisze:
    r"|den\b.{0,200}\bskrev\b.{0,200}:"      # Den 3 juni 2024 skrev Alice:
    r"|.{0,80}\d{4}.{0,80}<[^<>@\s]+@[^<>\s]+>.{0,40}:"  # 2024-06-03 10:00 GMT+2 Alice <a@b>:
    r")\s*$", re.IGNORECASE)
_ORIGINAL_MESSAGE = re.compile(
    r"^\s*-{2,}\s*(original message|ursprüngliche nachricht|originalnachricht|message d'origine"
    r"|mensaje original|messaggio originale|oorspronkelijk bericht|mensagem original"
    r"|původní zpráva|wiadomość oryginalna)\s*-{2,}\s*$", re.IGNORECASE)
_SEPARATOR = re.compile(r"^\s*_{10,}\s*$")  # Outlook's line before its From:/Sent: block
_HEADER_FROM = re.compile(r"^\s*\*?(from|von|de|da|van|od|från|fra)\s*:\*?\s", re.IGNORECASE)
_HEADER_NEXT = re.compile(r"^\s*\*?(sent|date|gesendet|datum|envoyé|date|enviado|fecha|inviato|data"
                          r"|verzonden|wysłano|skickat|sendt|to|an|à|para|a|aan|do|till|til|subject|betreff"
                          r"|objet|asunto|oggetto|onderwerp|temat|ämne|emne)\s*:", re.IGNORECASE)
_SIGNATURE = re.compile(r"^(-- ?|--|__)\s*$")
_MOBILE = re.compile(
    r"^\s*(sent from my \w+|sent from (mail|outlook|yahoo mail|gmail|samsung)\b.*|get outlook for \w+"
    r"|sent with proton mail.*|von meinem \w+ gesendet|gesendet von meinem \w+"
    r"|envoyé de mon \w+|enviado desde mi \w+|inviato da \w+|verzonden met \w+|enviado do meu \w+)\.?\s*$",
    re.IGNORECASE)


def _history_starts(lines: list[str]) -> int | None:
    for i, line in enumerate(lines):
        if not line.strip() or line.lstrip().startswith(">"):
            continue
        if _ORIGINAL_MESSAGE.match(line):
            return i
        if _ATTRIBUTION.match(line):
            return i
        # Mail clients wrap a long attribution over two lines.
        if i + 1 < len(lines) and len(line) < 200 and _ATTRIBUTION.match(line + " " + lines[i + 1].strip()):
            return i
        if _HEADER_FROM.match(line) and sum(bool(_HEADER_NEXT.match(x)) for x in lines[i + 1:i + 5]) >= 2:
            return i - 1 if i and _SEPARATOR.match(lines[i - 1]) else i
    return None


def new_text(text: str) -> str:
    """The new part of a message's text; the whole text when nothing is new
    (e.g. a bare forward), so a preview is never empty."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    start = _history_starts(lines)
    if start is not None:
        lines = lines[:start]
    lines = [line for line in lines if not line.lstrip().startswith(">")]
    lines = _without_signature(lines)
    result = "\n".join(lines).strip()
    result = re.sub(r"\n{3,}", "\n\n", result)
    return result or text.strip()


def _without_signature(lines: list[str]) -> list[str]:
    for i, line in enumerate(lines):
        if _SIGNATURE.match(line) and i > 0:
            return lines[:i]
    # A phone's footer is the last non-empty line or close to it.
    tail_start = max(0, len(lines) - 4)
    for i in range(len(lines) - 1, tail_start - 1, -1):
        if _MOBILE.match(lines[i]):
            return lines[:i]
    return lines

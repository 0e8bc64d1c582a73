"""Reading header fields of real-world mail without ever raising.

The stdlib's `policy.default` decodes RFC 2047 words and parses addresses
and dates, but on broken input a field can raise when it is first read, or
come back with undecodable bytes kept as surrogates (which no database
accepts). Every read here falls back to a cruder decoding and records what
was wrong, so one bad header costs a defect note, never the message.
"""
from __future__ import annotations

import codecs
import functools
import hashlib
import re
from datetime import datetime, timezone
from email import policy, utils
from email.header import decode_header
from email.message import Message
from email.parser import BytesParser
from email.policy import EmailPolicy, linesep_splitter

MAX_HEADER_CHARS = 16_384


# Few values repeat (common Content-Types); an entry holds a parse tree of ~10 KB.
@functools.lru_cache(maxsize=512)
def _header_object(name: str, value: str):
    return policy.default.header_factory(name, "".join(linesep_splitter.split(value)))


class _CachingPolicy(EmailPolicy):
    """policy.default, but a header value seen before is not parsed again.

    The stdlib builds a new header object on every read, and both its own
    parser and ours read Content-Type of every part many times over; most
    Content-Type, MIME-Version and Content-Transfer-Encoding values are the
    same across messages. Header objects are immutable, so sharing is safe.
    This makes parsing several times faster and changes no result."""

    def header_fetch_parse(self, name, value):
        if hasattr(value, "name"):
            return value
        # The stdlib's header parser is slow beyond linear on huge fields
        # (a 200 KB Subject takes a second): nothing readable is that long.
        value = value[:MAX_HEADER_CHARS]
        if name.lower() == "content-type":
            # Every multipart's Content-Type is new (its boundary), so the
            # cache cannot help, and parsing one costs ~0.1 ms. Plain ones
            # get their parsed text without the parse (see _plain_content_type).
            unparsed = _content_type(name, value)
            if unparsed is not None:
                return unparsed
        return _header_object(name, value)


@functools.lru_cache(maxsize=256)  # read many times over while one message is parsed
def _content_type(name: str, value: str) -> _Unparsed | None:
    text = _plain_content_type("".join(linesep_splitter.split(value)))
    return _Unparsed(text, name, value) if text is not None else None


class _Unparsed(str):
    """A header's text as the stdlib's parsed header object would give it;
    anything more than the text (params, defects, ...) parses it then."""

    def __new__(cls, text: str, name: str, value: str):
        self = super().__new__(cls, text)
        self._source = (name, value)
        return self

    def __getattr__(self, attr: str):
        if attr.startswith("__") or attr == "_source":
            raise AttributeError(attr)
        return getattr(_header_object(*self._source), attr)

    def __reduce__(self):
        return str, (str(self),)


_TOKEN = r"[A-Za-z0-9._+-]+"
_PLAIN_TYPE = re.compile(r"[ \t]*(" + _TOKEN + "/" + _TOKEN + ")")
_PLAIN_PARAM = re.compile(r';[ \t]*(' + _TOKEN + r')=(?:"([\x20\x21\x23-\x5b\x5d-\x7e]+)"|(' + _TOKEN + r'))[ \t]*')


def _plain_content_type(value: str) -> str | None:
    """`str()` of the stdlib's parsed Content-Type for a plain ASCII value
    (type/subtype, then distinct name=value or name="value" parameters),
    or None for anything else: encoded words, RFC 2231, odd spacing or
    characters, repeated or empty parameters. tests/email/test_mime.py
    checks it against the stdlib on every Content-Type of the fixtures."""
    if "=?" in value or not value.isascii():
        return None
    m = _PLAIN_TYPE.match(value)
    if m is None:
        return None
    out, seen, at = [m.group(1)], set(), m.end()
    while at < len(value):
        p = _PLAIN_PARAM.match(value, at)
        if p is None:
            return None
        key = p.group(1).lower()
        if key in seen:
            return None
        seen.add(key)
        out.append(f'; {p.group(1)}="{p.group(2) if p.group(2) is not None else p.group(3)}"')
        at = p.end()
    return "".join(out)


POLICY = _CachingPolicy()
PARSER = BytesParser(policy=POLICY)

# Names mail programs write that Python does not know, or knows as a
# narrower charset than the one senders really use.
CHARSET_ALIASES = {
    "ks_c_5601-1987": "cp949", "ks_c_5601": "cp949", "euc-kr": "cp949", "x-windows-949": "cp949",
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "gb_2312-80": "gb18030", "cn-gb": "gb18030",
    "iso-8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252",  # what browsers do too
    "us-ascii": "utf-8", "ascii": "utf-8", "ansi_x3.4-1968": "utf-8",  # 8-bit text labelled ASCII is UTF-8 or 1252
    "iso-8859-8-i": "iso-8859-8", "windows-874": "cp874", "x-sjis": "shift_jis", "sjis": "shift_jis",
    "shift-jis": "cp932", "shift_jis": "cp932", "x-mac-roman": "mac-roman", "win-1252": "cp1252",
    "unicode-1-1-utf-7": "utf-7", "x-unknown": "", "unknown-8bit": "", "unknown": "", "x-user-defined": "",
    "utf8": "utf-8", "default": "", "charset": "",
}

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_MSGID = re.compile(r"<([^<>\s]+)>")
_FOLD = re.compile(r"\r?\n[ \t]")
# `Name <a@b>`, `"Name" <a@b>`, `a@b` or `a@b (Name)`: one address, no tricks.
_ONE_ADDRESS = re.compile(r'^\s*(?:"([^"\\<>]*)"|([^"<>(),;:@\\]*))?\s*<([^<>\s@"(),;:\\]+@[^<>\s"(),;:\\]+)>\s*$'
                          r'|^\s*([^<>\s@"(),;:\\]+@[^<>\s"(),;:\\]+)\s*(?:\(([^()\\]*)\))?\s*$')

MAX_ID_LENGTH = 250  # longer ids are hashed so they fit an index


def codec_for(charset: str | None) -> str | None:
    """Python codec for a declared charset; "" when it names none, None when unknown."""
    if not charset:
        return ""
    name = charset.strip().strip('"\'').lower()
    if name in CHARSET_ALIASES:
        return CHARSET_ALIASES[name]
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode_bytes(data: bytes, charset: str | None) -> tuple[str, str | None]:
    """Decode body or header bytes; returns (text, defect or None).

    Trust the declared charset, then UTF-8 (often sent undeclared or
    mislabelled), then Windows-1252, which decodes any byte."""
    codec = codec_for(charset)
    defect = None
    if codec == "cp1252" and not data.isascii():
        # Mail labelled Latin-1 is often UTF-8; real Latin-1 text is almost never valid UTF-8.
        try:
            return clean_text(data.decode("utf-8")), None
        except UnicodeDecodeError:
            pass
    if codec is None:
        defect = f"unknown charset {charset!r}"
    elif codec:
        try:
            return clean_text(data.decode(codec)), None
        except (UnicodeDecodeError, LookupError):
            defect = f"text does not match its charset {charset!r}"
    try:
        return clean_text(data.decode("utf-8")), defect
    except UnicodeDecodeError:
        pass
    if codec:
        return clean_text(data.decode(codec, "replace")), defect
    return clean_text(data.decode("cp1252", "replace")), defect


def clean_text(text: str) -> str:
    """Text safe for any database: no NUL/control characters, no lone
    surrogates (kept by the email package for bytes it could not decode)."""
    if _SURROGATE.search(text):
        try:
            text = _guess(text.encode("utf-8", "surrogateescape"))
        except UnicodeEncodeError:
            text = _SURROGATE.sub("\ufffd", text)
    return _CONTROL.sub("", text) if _CONTROL.search(text) else text


_HIGH_RUNS = re.compile(rb"[\x80-\xff]+")


def _guess(raw: bytes) -> str:
    """Undeclared 8-bit text (raw bytes in a header): UTF-8 when valid; else
    double-byte Chinese when every run of high bytes pairs up (Western
    accents stand alone: "Gr\xfc\xdfe" has a run of two, but "K\xf6ln" of
    one), else Windows-1252."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    runs = _HIGH_RUNS.findall(raw)
    if runs and all(len(r) % 2 == 0 for r in runs) and sum(len(r) for r in runs) >= 4:
        try:
            return raw.decode("gb18030")
        except UnicodeDecodeError:
            pass
    return raw.decode("cp1252", "replace")


def raw_header(msg: Message, name: str) -> str | None:
    """A field as it stands in the message, unfolded, before any decoding.

    The first occurrence of every field is indexed once per message (kept on
    the message object): the parser and the checks ask for a dozen fields
    each, and a scan of the header list per question was a tenth of the
    parsing time."""
    fields = msg.__dict__.get("_replydesk_fields")
    if fields is None:
        fields = {}
        for key, value in msg.raw_items():
            fields.setdefault(key.lower(), value)
        msg.__dict__["_replydesk_fields"] = fields
    value = fields.get(name.lower())
    if value is None:
        return None
    value = str(value)
    return _FOLD.sub(" ", value) if "\n" in value else value


def header(msg: Message, name: str, defects: list[str] | None = None) -> str:
    """The decoded text of a field ("" when absent).

    RFC 2047 words are decoded with email.header (a regex pass), not the
    header registry's full parser: same result on real mail at a fraction
    of the cost; the registry is the fallback when the quick way fails."""
    raw = raw_header(msg, name)
    if raw is None:
        return ""
    if "=?" not in raw:
        return clean_text(" ".join(raw[:MAX_HEADER_CHARS].split()))
    try:
        return decode_words(raw[:MAX_HEADER_CHARS], strict=True)
    except Exception:
        pass
    try:
        return clean_text(" ".join(str(msg.get(name)).split()))
    except Exception as e:  # the header registry's failures are not typed
        if defects is not None:
            defects.append(f"{name} header could not be decoded ({type(e).__name__})")
        return clean_text(" ".join(raw.split()))


def long_headers(msg: Message) -> list[str]:
    return [f"{name} header longer than {MAX_HEADER_CHARS} characters: cut"
            for name, value in msg.raw_items() if len(value) > MAX_HEADER_CHARS]


def decode_words(value: str, strict: bool = False) -> str:
    """Decode RFC 2047 encoded words by hand, charset by charset."""
    out = []
    try:
        parts = decode_header(value)
    except Exception:
        if strict:
            raise
        return clean_text(value)
    for chunk, charset in parts:
        if isinstance(chunk, str):
            out.append(chunk)
        else:
            out.append(decode_bytes(chunk, charset or "utf-8")[0])
    return clean_text(" ".join("".join(out).split()))


def addresses(msg: Message, name: str, defects: list[str] | None = None) -> list[tuple[str, str]]:
    """[(display name, address lower-cased)] of an address field.

    email.utils.getaddresses on the raw field first (display names are
    decoded after splitting, so an encoded comma cannot split an address);
    the header registry's RFC 5322 parser when that finds nothing."""
    raw = raw_header(msg, name)
    if not raw:
        return []
    simple = _ONE_ADDRESS.match(raw)
    if simple:  # most fields are one plain address; getaddresses costs ten times more
        display = simple.group(1) or simple.group(2) or simple.group(5) or ""
        addr = simple.group(3) or simple.group(4)
        return [(decode_words(display.strip()) if display else "", clean_text(addr).lower())]
    found: list[tuple[str, str]] = []
    try:
        for display, addr in utils.getaddresses([raw[:MAX_HEADER_CHARS]]):
            if "@" in addr and " " not in addr.strip():
                found.append((decode_words(display), clean_text(addr.strip()).lower()))
    except Exception:
        found = []
    if not found:
        try:
            for a in getattr(msg.get(name), "addresses", ()):
                if a.addr_spec and "@" in a.addr_spec:
                    found.append((clean_text(a.display_name or ""), clean_text(a.addr_spec).lower()))
        except Exception:
            found = []
    if not found and defects is not None:
        defects.append(f"{name} header has no readable address")
    return found


def message_ids(value: str) -> list[str]:
    """Message-IDs in a References / In-Reply-To field, in order, normalised."""
    ids = [normalise_id(m) for m in _MSGID.findall(value or "")]
    if not ids and value and "@" in value and len(value.split()) == 1:
        ids = [normalise_id(value)]  # a bare id without angle brackets
    seen: set[str] = set()
    return [i for i in ids if i and not (i in seen or seen.add(i))]


def normalise_id(value: str) -> str:
    """The form we store and compare: without <>, spaces or control characters."""
    text = clean_text(value).strip().strip("<>").strip()
    text = "".join(text.split())
    if len(text) > MAX_ID_LENGTH:
        text = "h." + hashlib.sha256(text.encode()).hexdigest() + "@long-id.invalid"
    return text


def date(msg: Message, defects: list[str] | None = None) -> datetime | None:
    """The Date field as aware UTC, or None when missing or unreadable."""
    raw = raw_header(msg, "Date")
    if not raw:
        return None
    try:  # what the header registry's DateHeader does too, without the registry
        when = utils.parsedate_to_datetime(raw.strip())
    except Exception:
        when = None
    if when is None:
        if defects is not None:
            defects.append("Date header could not be read")
        return None
    if when.tzinfo is None:  # "-0000" or no zone: RFC 5322 says the zone is unknown; UTC is the best guess
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc)

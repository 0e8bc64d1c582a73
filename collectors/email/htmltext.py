"""Customer HTML: sanitised for display, and turned into plain text when a
message has no text/plain part.

Sanitising is nh3 (the Rust `ammonia` library): an allow-list of tags,
attributes and URL schemes, so nothing a sender writes can run in an
agent's browser. `cid:` stays allowed so the web UI can point inline images
at the stored attachments. The text conversion keeps what a reader needs:
paragraphs, line breaks, list items, link targets, and quoted blocks marked
with "> " so the quote splitter treats HTML-only replies like plain ones.
"""
from __future__ import annotations

import re
from html.parser import HTMLParser

import nh3

_STYLES = {
    "color", "background-color", "font-weight", "font-style", "font-size", "font-family",
    "text-decoration", "text-align", "vertical-align", "white-space", "width", "height",
    "border", "border-collapse", "padding", "margin", "line-height",
}
_ATTRIBUTES = {tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()}
for _tag in ("td", "th", "table", "tr", "div", "p", "span", "font", "img", "a", "blockquote", "li", "ul", "ol"):
    _ATTRIBUTES.setdefault(_tag, set()).update({"style", "align", "width", "height", "bgcolor", "color"})
_ATTRIBUTES["img"].update({"src", "alt", "title"})

_CLEANER = nh3.Cleaner(
    tags=set(nh3.ALLOWED_TAGS) | {"font"},
    clean_content_tags={"script", "style", "title", "head", "noscript", "template", "xml"},
    attributes=_ATTRIBUTES,
    url_schemes={"http", "https", "mailto", "tel", "cid"},
    filter_style_properties=_STYLES,
    link_rel="noopener noreferrer nofollow",
)


def sanitise(html: str) -> str:
    return _CLEANER.clean(html)


_BLOCK = {"p", "div", "table", "tr", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "hr",
          "section", "article", "header", "footer", "address", "dl", "dt", "dd", "center", "form"}
_SKIP = {"script", "style", "head", "title", "noscript", "template", "xml"}


class _TextMaker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.quote = 0
        self.skip = 0
        self.pre = 0
        self.href: str | None = None
        self.link_text: list[str] = []

    def newline(self) -> None:
        text = "".join(self.current)
        if not self.pre:
            text = " ".join(text.split())
        self.lines.append(("> " * self.quote) + text if (text or self.quote) else "")
        self.current = []

    def handle_starttag(self, tag, attrs):
        if tag in _SKIP:
            self.skip += 1
        elif tag == "br":
            self.newline()
        elif tag in _BLOCK:
            self.newline()
            self.pre += tag == "pre"
        elif tag == "blockquote":
            self.newline()
            self.quote += 1
        elif tag == "li":
            if self.current:
                self.newline()
            self.current.append("- ")
        elif tag in ("td", "th"):
            self.current.append(" ")
        elif tag == "a":
            self.href = dict(attrs).get("href")
            self.link_text = []
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self.current.append(f"[{alt}]")

    def handle_endtag(self, tag):
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag == "li":
            self.newline()
        elif tag in _BLOCK:
            self.newline()
            if tag == "pre":
                self.pre = max(0, self.pre - 1)
        elif tag == "blockquote":
            self.newline()
            self.quote = max(0, self.quote - 1)
        elif tag == "a" and self.href:
            label = "".join(self.link_text).strip()
            href = self.href
            self.href = None
            if href.startswith(("http:", "https:")) and href != label and href not in label:
                self.current.append(f" <{href}>")

    def handle_data(self, data):
        if self.skip:
            return
        if self.pre:
            parts = data.split("\n")
            for i, part in enumerate(parts):
                if i:
                    self.newline()
                self.current.append(part)
            return
        self.current.append(data)
        if self.href is not None:
            self.link_text.append(data)


def to_text(html: str) -> str:
    """Readable plain text from (any) HTML."""
    maker = _TextMaker()
    try:
        maker.feed(html)
        maker.close()
    except Exception:  # html.parser is lenient; this is a last resort
        return " ".join(re.sub(r"<[^>]*>", " ", html).split())
    maker.newline()
    text = "\n".join(line.rstrip() for line in maker.lines).replace("\xa0", " ")
    return re.sub(r"\n{3,}", "\n\n", text).strip()

"""Rendering customer content safely, and small template helpers.

Everything customers wrote is either escaped text or HTML that passes
through nh3 here with a strict allowlist, whatever the channel did before:
defence in depth against script tags, event handlers, `javascript:` links,
SVG and CSS tricks. No template marks customer content `|safe` itself.
"""
from __future__ import annotations

import re
from datetime import datetime

import nh3
from flask import Flask
from markupsafe import Markup, escape

from inbox.inbox_list import UNSURE_BELOW
from inbox.models import utcnow

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "div", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
    "i", "li", "ol", "p", "pre", "s", "span", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th",
    "thead", "tr", "u", "ul",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}}
URL_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "noopener noreferrer nofollow"
_URL = re.compile(r"https?://[^\s<>\"'\]\)]+", re.IGNORECASE)


_CID = re.compile(r"""(src\s*=\s*["']?)cid:([^"'\s>]+)""", re.IGNORECASE)
ATTACHMENT_PREFIX = "/c/attachments/"
_IMG_WITHOUT_SRC = re.compile(r"<img(?![^>]*\ssrc=)[^>]*>", re.IGNORECASE)


def clean_html(html: str | None, attachments=()) -> Markup:
    """Customer HTML, sanitised again with our own strict allowlist.

    Images show only when they are the message's own inline attachments
    (`cid:` links, rewritten to our download URL): a remote image is how a
    sender learns that and when an agent opened the mail, so none is kept."""
    if not html:
        return Markup("")
    inline = {a.content_id.strip("<>"): a.id for a in attachments if a.content_id and a.content is not None} \
        if attachments else {}
    if not inline:
        return Markup(nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes=URL_SCHEMES,
                                link_rel=LINK_REL, strip_comments=True))
    html = _CID.sub(lambda m: m.group(1) + (f"{ATTACHMENT_PREFIX}{inline[m.group(2)]}" if m.group(2) in inline
                                             else "blocked:"), html)
    cleaned = nh3.clean(html, tags=ALLOWED_TAGS | {"img"}, attributes=ALLOWED_ATTRIBUTES | {"img": {"src", "alt"}},
                        url_schemes=URL_SCHEMES, link_rel=LINK_REL, strip_comments=True,
                        attribute_filter=_only_own_images)
    # An image whose source was refused is left as a bare <img>: drop it, it
    # would only show a broken-image box.
    return Markup(_IMG_WITHOUT_SRC.sub("", cleaned))


def _only_own_images(tag: str, attribute: str, value: str) -> str | None:
    if tag == "img" and attribute == "src":
        return value if re.fullmatch(re.escape(ATTACHMENT_PREFIX) + r"\d+", value) else None
    return value


def safe_url(url: str | None) -> str | None:
    """The URL if it is http(s), else None (no javascript:, data:, ...)."""
    if not url:
        return None
    url = url.strip()
    return url if re.match(r"^https?://", url, re.IGNORECASE) and not re.search(r"[\s\x00-\x1f]", url) else None


def linkify(text: str | None) -> Markup:
    """Plain text, escaped, with http(s) links made clickable (and inert)."""
    if not text:
        return Markup("")
    out, last = [], 0
    for m in _URL.finditer(text):
        url = m.group(0).rstrip(".,;:!?")
        end = m.start() + len(url)
        out.append(escape(text[last:m.start()]))
        out.append(Markup('<a href="{0}" rel="{1}" target="_blank">{0}</a>').format(url, LINK_REL))
        last = end
    out.append(escape(text[last:]))
    return Markup("").join(out)


def ago(at: datetime | None, now: datetime | None = None) -> str:
    """A short, human span: "now", "4 min", "3 h", "2 d"."""
    if at is None:
        return ""
    seconds = max(0, int(((now or utcnow()) - at).total_seconds()))
    if seconds < 60:
        return "now"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400 * 2:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


def since(at: datetime | None) -> str:
    """"just now", "4 min ago", "3 h ago"."""
    span = ago(at)
    return "" if not span else "just now" if span == "now" else f"{span} ago"


def urgency_level(urgency: int | None) -> str:
    u = urgency or 0
    return "high" if u >= 75 else "medium" if u >= 50 else "low"


def unsure(label: str | None, confidence: float | None) -> bool:
    """Whether a sentiment label is to be shown as a guess: the scorer gave
    it below even odds. Not an unknown label (it says so already), nor one
    without a confidence (a person's correction). The inbox list's "unsure"
    filter finds the same ones."""
    return label not in (None, "unknown") and confidence is not None and confidence < UNSURE_BELOW


# --- Reddit Markdown preview --------------------------------------------------
# A small renderer for the composer's preview: enough of Reddit's Markdown to
# show what the comment will look like. Input is escaped before any markup is
# made and the result still passes through nh3.

_INLINE = [
    (re.compile(r"`([^`]+)`"), r"<code>\1</code>"),
    (re.compile(r"\*\*(.+?)\*\*"), r"<strong>\1</strong>"),
    (re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])"), r"<em>\1</em>"),
    (re.compile(r"~~(.+?)~~"), r"<del>\1</del>"),
    (re.compile(r"\[([^\]]+)\]\((https?://[^\s)]+)\)"), r'<a href="\2">\1</a>'),
    (re.compile(r"\^(\w+)"), r"<sup>\1</sup>"),
]


_BULLET = re.compile(r"^\s*[-*+] ")
_NUMBER = re.compile(r"^\s*\d+[.)] ")


def _inline(line: str) -> str:
    s = str(escape(line))
    for pattern, repl in _INLINE:
        s = pattern.sub(repl, s)
    return s


def markdown(text: str) -> Markup:
    blocks = re.split(r"\n\s*\n", (text or "").replace("\r\n", "\n").strip())
    html = []
    for block in filter(None, blocks):
        lines = block.split("\n")
        if all(ln.startswith(">") for ln in lines):
            inner = markdown("\n".join(ln[1:].lstrip() for ln in lines))
            html.append(f"<blockquote>{inner}</blockquote>")
        elif all(_BULLET.match(ln) for ln in lines):
            html.append("<ul>" + "".join("<li>" + _inline(_BULLET.sub("", ln)) + "</li>" for ln in lines) + "</ul>")
        elif all(_NUMBER.match(ln) for ln in lines):
            html.append("<ol>" + "".join("<li>" + _inline(_NUMBER.sub("", ln)) + "</li>" for ln in lines) + "</ol>")
        elif all(ln.startswith("    ") for ln in lines):
            html.append("<pre><code>" + str(escape("\n".join(ln[4:] for ln in lines))) + "</code></pre>")
        elif re.match(r"^#{1,6} ", lines[0]) and len(lines) == 1:
            level = len(lines[0].split(" ")[0])
            html.append(f"<h{level}>{_inline(lines[0][level + 1:])}</h{level}>")
        else:
            # Reddit breaks a line only after two trailing spaces.
            parts = [_inline(ln.rstrip()) + ("<br>" if ln.endswith("  ") else "") for ln in lines]
            html.append("<p>" + " ".join(parts) + "</p>")
    return clean_html("\n".join(html))


def install(app: Flask) -> None:
    app.jinja_env.filters.update(
        clean_html=clean_html, linkify=linkify, ago=ago, since=since, safe_url=safe_url, urgency_level=urgency_level,
        markdown=markdown, unsure=unsure)
    app.jinja_env.globals.update(now=utcnow)

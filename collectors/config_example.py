"""Writes config.example.toml from the settings lists, so the example, the
validation and the docs cannot drift apart (tests/test_docs.py checks).

    python -m collectors.config_example > config.example.toml
"""
from __future__ import annotations

from inbox.config import ACCOUNT_COMMON, SECTIONS, example_lines

from .registry import KINDS, channel_class

HEADER = """\
# Replydesk configuration. Copy to replydesk.toml (or point --config /
# $REPLYDESK_CONFIG at your copy) and edit.
#
# Every key is shown with its default; commented-out keys may be left out.
# Secrets (passwords, tokens, the database URL) may be read from the
# environment instead: write `<key>_env = "VARIABLE"` in place of `<key>`.
#
# This file is generated: python -m collectors.config_example > config.example.toml
"""


def render() -> str:
    out = [HEADER]
    for section, settings in SECTIONS.items():
        out.append(f"[{section}]")
        out.extend(example_lines(settings))
        out.append("")
    for kind in KINDS:
        cls = channel_class(kind)
        out.append(f"# --- {cls.title} accounts (kind = \"{kind}\") " + "-" * max(0, 50 - len(cls.title) - len(kind)))
        doc = (cls.__doc__ or "").strip().splitlines()
        if doc:
            out.append(f"# {doc[0]}")
        out.append("[[accounts]]")
        common = [s for s in ACCOUNT_COMMON if s.name not in ("name", "kind")]
        out.append(f'name = "{cls.example_name}"')
        out.append(f'kind = "{kind}"')
        out.extend(example_lines(common + list(cls.settings)))
        out.append("")
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    print(render(), end="")

"""Documentation that cannot drift: the example config is generated from the
settings and loads; every channel kind has its section in the example
config and the README, documents every key, and has tests; the README's
two commands are the ones CI runs."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from collectors.config_example import render
from collectors.registry import KINDS, channel_class, settings_by_kind
from inbox.config import SECTIONS, load

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_example_config_is_generated_from_the_settings():
    assert (ROOT / "config.example.toml").read_text() == render(), \
        "run: python -m collectors.config_example > config.example.toml"


def test_example_config_loads_as_written():
    config = load(ROOT / "config.example.toml", settings_by_kind())
    assert {a.kind for a in config.accounts} == set(KINDS)


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_kind_is_documented_and_tested(kind):
    example = tomllib.loads((ROOT / "config.example.toml").read_text())
    assert kind in {a["kind"] for a in example["accounts"]}
    assert f'kind = "{kind}"' in README
    for s in channel_class(kind).settings:
        assert f"`{s.name}`" in README, f"README does not document {kind} key {s.name}"
    tests = list((ROOT / "tests").rglob(f"test_*{kind}*.py")) + list((ROOT / "tests" / kind).glob("test_*.py"))
    assert tests, f"no test module for the {kind} channel"


@pytest.mark.parametrize("section", list(SECTIONS))
def test_every_section_key_is_in_the_readme(section):
    for s in SECTIONS[section]:
        assert f"`{s.name}`" in README, f"README does not mention [{section}] {s.name}"


def test_readme_commands_are_what_ci_runs():
    run = re.search(r"## Try it.*?```sh\n(.+?)\n```", README, re.S).group(1).strip()
    test = re.search(r"## Run the tests.*?```sh\n(.+?)\n```", README, re.S).group(1).strip()
    assert run == "python3 -m pip install -e . && replydesk demo"
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert ci == test

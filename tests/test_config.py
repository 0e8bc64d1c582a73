"""Configuration errors name the file, the key and what is expected."""
from __future__ import annotations

import pytest

from inbox.config import ConfigError, Setting, load, parse

CHANNELS = {
    "email": [Setting("address", str, None, "The mailbox's address.", required=True),
              Setting("imap_password", str, None, "Password.", secret=True),
              Setting("imap_port", int, 993, "Port."),
              Setting("mailboxes", "list[str]", ["INBOX"], "Folders."),
              Setting("imap_security", str, "ssl", "How.", choices=("ssl", "starttls", "none"))],
    "x": [Setting("bearer_token", str, None, "Token.", required=True, secret=True)],
}


def check(data, env=None):
    return parse(data, "replydesk.toml", CHANNELS, env=env or {})


def error(data, env=None) -> str:
    with pytest.raises(ConfigError) as e:
        check(data, env)
    return str(e.value)


def test_defaults_without_any_key():
    c = check({})
    assert c.database["url"] == "sqlite:///replydesk.db"
    assert c.web["undo_seconds"] == 10 and c.accounts == []


def test_account_with_defaults_and_secret_from_environment():
    c = check({"accounts": [{"name": "support", "kind": "email", "address": "help@acme.test",
                             "imap_password_env": "MAIL_PW"}]}, env={"MAIL_PW": "s3cret-pw"})
    acc = c.account("support")
    assert acc.settings["imap_password"] == "s3cret-pw"
    assert acc.settings["imap_port"] == 993 and acc.settings["mailboxes"] == ["INBOX"]
    assert "s3cret" not in repr(acc) and "s3cret" not in repr(c)


@pytest.mark.parametrize("data, env, expected", [
    ({"databse": {}}, {}, 'replydesk.toml: top level: unknown key "databse"; did you mean "database"?'),
    ({"web": {"port": "80"}}, {}, 'replydesk.toml: [web]: key "port": expected an integer, got \'80\''),
    ({"web": {"undo_seconds": True}}, {}, 'key "undo_seconds": expected an integer, got True'),
    ({"worker": {"log_level": "loud"}}, {}, "key \"log_level\": expected one of 'debug', 'info', 'warning', 'error'"),
    ({"accounts": [{"name": "a"}]}, {}, '[[accounts]] #1 (name \'a\'): missing required key "kind" (one of: email, x)'),
    ({"accounts": [{"name": "a", "kind": "fax"}]}, {}, 'key "kind": unknown channel kind \'fax\'; expected one of: email, x'),
    ({"accounts": [{"name": "a", "kind": "email"}]}, {},
     '[[accounts]] #1 (name \'a\'): missing required key "address" (a string: The mailbox\'s address.)'),
    ({"accounts": [{"kind": "x", "bearer_token": "t"}]}, {}, '[[accounts]] #1: missing required key "name"'),
    ({"accounts": [{"name": "a", "kind": "email", "address": "a@b", "imap_prot": 1}]}, {},
     'unknown key "imap_prot"; did you mean "imap_port"?'),
    ({"accounts": [{"name": "a", "kind": "email", "address": "a@b", "imap_security": "tls"}]}, {},
     "key \"imap_security\": expected one of 'ssl', 'starttls', 'none', got 'tls'"),
    ({"accounts": [{"name": "a", "kind": "email", "address": "a@b", "mailboxes": "INBOX"}]}, {},
     'key "mailboxes": expected a list of strings'),
    ({"accounts": [{"name": "a", "kind": "x", "bearer_token_env": "NOPE"}]}, {},
     'key "bearer_token_env": environment variable NOPE is not set (it should hold bearer_token)'),
    ({"accounts": [{"name": "a", "kind": "x", "bearer_token": "t", "bearer_token_env": "T"}]}, {"T": "x"},
     'give either "bearer_token" or "bearer_token_env", not both'),
    ({"accounts": [{"name": "a", "kind": "x", "bearer_token": 5}]}, {}, 'key "bearer_token": expected a string, got (hidden)'),
    ({"accounts": [{"name": "a", "kind": "x", "bearer_token": "t"}, {"name": "a", "kind": "x", "bearer_token": "u"}]},
     {}, "key \"name\": 'a' is used by two accounts"),
    ({"accounts": {"name": "a"}}, {}, "accounts must be written as [[accounts]] tables"),
])
def test_each_error_names_key_and_expectation(data, env, expected):
    assert expected in error(data, env)


def test_secret_values_never_appear_in_errors():
    msg = error({"accounts": [{"name": "a", "kind": "x", "bearer_token": ["AAAA-very-secret"]}]})
    assert "very-secret" not in msg


def test_missing_file_and_bad_toml(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("REPLYDESK_CONFIG", raising=False)
    with pytest.raises(ConfigError, match=r"replydesk.toml: config file not found. Copy config.example.toml"):
        load(None, CHANNELS)
    bad = tmp_path / "bad.toml"
    bad.write_text("[web\nport = 1")
    with pytest.raises(ConfigError, match=r"bad.toml: not valid TOML"):
        load(bad, CHANNELS)
    monkeypatch.setenv("REPLYDESK_CONFIG", str(bad))
    with pytest.raises(ConfigError, match="bad.toml"):
        load(None, CHANNELS)

"""Check requests and responses against the X API v2 OpenAPI document.

The document (`x_openapi.json.gz`, v2.167 from xdevplatform/xdk, MIT, see
LICENSE.xdk) is the authority on shapes. One wrinkle: in its core
endpoints it renames the wire's "tweet" words to "post" (`post.fields`,
`referenced_posts`, `edit_history_post_ids`, `includes.posts`,
`note_post`, `post_count`, `repost_count`), while the live API, tweepy and the recorded
payloads in tests/fixtures/x all use the tweet names, and the document's own
streaming endpoints still declare `tweet.fields` and the
`referenced_tweets.id` expansions. `WIRE_NAMES` renames those few
properties back, taking enums from the document itself, so validation
checks the shapes the spec gives under the names the wire uses.

The document also has no shape for the RFC 7807 `about:blank` problem X
sends with 401, 403 (authentication kind) and 429; those are checked
against `ABOUT_BLANK`.
"""
from __future__ import annotations

import copy
import functools
import gzip
import json
import re
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator
from referencing import Registry
from referencing.jsonschema import DRAFT7

SPEC_PATH = Path(__file__).with_name("x_openapi.json.gz")
URI = "urn:x-api-v2-openapi"

WIRE_NAMES = {
    "edit_history_post_ids": "edit_history_tweet_ids",
    "referenced_posts": "referenced_tweets",
    "post_count": "tweet_count",
    "repost_count": "retweet_count",
    "note_post": "note_tweet",
}
ABOUT_BLANK = {
    "type": "object", "required": ["type", "title", "status"],
    "properties": {"type": {"const": "about:blank"}, "title": {"type": "string"},
                   "detail": {"type": "string"}, "status": {"type": "integer"}},
}


@functools.cache
def spec() -> dict[str, Any]:
    with gzip.open(SPEC_PATH, "rt", encoding="utf-8") as f:
        doc = json.load(f)
    return _wire_overlay(doc)


def _wire_overlay(doc: dict[str, Any]) -> dict[str, Any]:
    # Absolute references let any sub-schema (a parameter's) be checked on its own.
    for node in _walk(doc):
        if isinstance(node.get("$ref"), str) and node["$ref"].startswith("#"):
            node["$ref"] = URI + node["$ref"]
    schemas = doc["components"]["schemas"]
    for schema in _walk(schemas):
        props = schema.get("properties")
        if isinstance(props, dict):
            for old, new in WIRE_NAMES.items():
                if old in props:
                    props[new] = props.pop(old)
            if isinstance(schema.get("required"), list):
                schema["required"] = [WIRE_NAMES.get(r, r) for r in schema["required"]]
        if schema.get("nullable") is True and isinstance(schema.get("type"), str):
            schema["type"] = [schema["type"], "null"]
    expansions = schemas["Expansions"]["properties"]
    expansions["tweets"] = expansions.pop("posts")
    # The wire's tweet.fields and expansions, as the streaming endpoints declare them.
    stream = {p["name"]: p for p in doc["paths"]["/2/tweets/search/stream"]["get"]["parameters"] if "name" in p}
    params = doc["components"]["parameters"]
    fields = params["PostFieldsParameter"]
    fields["name"] = "tweet.fields"
    fields["schema"] = copy.deepcopy(stream["tweet.fields"]["schema"])
    enum = params["PostExpansionsParameter"]["schema"]["items"]["enum"]
    enum.extend(e for e in stream["expansions"]["schema"]["items"]["enum"] if e not in enum)
    return doc


def _walk(node: Any):
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


@functools.cache
def _registry() -> Registry:
    return Registry().with_resource(URI, DRAFT7.create_resource(spec()))


@functools.cache
def _validator(pointer: str) -> Draft7Validator:
    return Draft7Validator({"$ref": f"{URI}#{pointer}"}, registry=_registry())


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


@functools.cache
def _operations() -> list[tuple[re.Pattern, str, str]]:
    """(path regex, template, pointer prefix); literal paths before templated ones."""
    out = []
    for template in spec()["paths"]:
        regex = re.compile("^" + re.sub(r"\\\{\w+\\\}", "([^/]+)", re.escape(template)) + "$")
        out.append((regex, template, f"/paths/{_escape(template)}"))
    out.sort(key=lambda t: t[1].count("{"))
    return out


def operation(method: str, path: str) -> tuple[str, str, dict[str, str]] | None:
    """(path template, JSON pointer of the operation, path parameters) for a
    request, if the spec has it."""
    for regex, template, pointer in _operations():
        m = regex.match(path)
        if m and method.lower() in spec()["paths"][template]:
            names = re.findall(r"\{(\w+)\}", template)
            return template, f"{pointer}/{method.lower()}", dict(zip(names, m.groups()))
    return None


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = _at(node["$ref"].removeprefix(URI + "#"))
    return node


def _at(pointer: str) -> Any:
    node: Any = spec()
    for token in pointer.strip("/").split("/"):
        node = node[token.replace("~1", "/").replace("~0", "~")]
    return node


def _coerce(value: str, schema: dict[str, Any]) -> Any:
    schema = _resolve(schema)
    t = schema.get("type")
    if t == "array":
        return [_coerce(v, schema.get("items", {})) for v in value.split(",")]
    if t == "integer":
        return int(value) if re.fullmatch(r"-?\d+", value) else value
    if t == "boolean":
        return {"true": True, "false": False}.get(value, value)
    return value


def check_request(method: str, path: str, query: dict[str, str], body: Any) -> list[str]:
    """What is wrong with this request by the spec (empty list: nothing)."""
    op = operation(method, path)
    if op is None:
        return [f"{method} {path}: no such operation in the X API v2 spec"]
    template, pointer, values = op
    node = _at(pointer)
    problems: list[str] = []
    declared = {(p["in"], p["name"]): p for p in map(_resolve, node.get("parameters", []))}
    for (where, name), p in declared.items():
        if where == "path":
            value = values.get(name)
        elif where == "query":
            value = query.get(name)
        else:
            continue
        if value is None:
            if p.get("required"):
                problems.append(f"{method} {template}: missing required {where} parameter {name}")
            continue
        checker = Draft7Validator(p["schema"], registry=_registry())
        errors = sorted(checker.iter_errors(_coerce(value, p["schema"])), key=str)
        problems += [f"{method} {template}: {where} parameter {name}={value!r}: {e.message}" for e in errors]
    for name in query:
        if ("query", name) not in declared:
            problems.append(f"{method} {template}: unknown query parameter {name!r}")
    request_body = node.get("requestBody")
    if request_body:
        schema = request_body["content"].get("application/json", {}).get("schema")
        if body is None and request_body.get("required"):
            problems.append(f"{method} {template}: request body required")
        elif schema is not None:
            v = _validator(f"{pointer}/requestBody/content/application~1json/schema")
            problems += [f"{method} {template}: body: {e.message}" for e in v.iter_errors(body)]
    elif body is not None:
        problems.append(f"{method} {template}: the operation takes no body")
    return problems


def check_response(method: str, path: str, status: int, content_type: str, body: Any) -> list[str]:
    """What is wrong with a response the stand-in is about to send."""
    op = operation(method, path)
    if op is None:
        return [f"{method} {path}: no such operation in the X API v2 spec"]
    template, pointer, _ = op
    responses = _at(pointer)["responses"]
    key = str(status) if str(status) in responses else "default"
    if key not in responses:
        return [f"{method} {template}: the spec has no {status} response"]
    media = "application/problem+json" if "problem" in content_type else "application/json"
    if status in (401, 403, 429) and isinstance(body, dict) and body.get("type") == "about:blank":
        errors = list(Draft7Validator(ABOUT_BLANK).iter_errors(body))
    elif media not in responses[key].get("content", {}):
        return [f"{method} {template}: {status} is not declared as {media}"]
    else:
        v = _validator(f"{pointer}/responses/{key}/content/{_escape(media)}/schema")
        errors = list(v.iter_errors(body))
    return [f"{method} {template} -> {status}: {'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in errors]

"""Every rule's tokens, planted in the files they leak from, are found where they were planted.

For each rule (parametrized), each example's secret is taken out of its example. If the rule
finds that secret on its own (a *bare token*: a prefix, a checksum, a fixed shape), it is planted
in random surroundings of each context shape below where the shape can hold it verbatim, and the
rule must report exactly that secret at exactly that offset, with both prefilters. Rules anchored
on their context (``aws_secret_access_key = ...``, a connection URL, a PEM armor) are skipped: a
new shape changes the context they need, and their examples already cover their surroundings.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nhiscan.engine.scanner import Scanner
from nhiscan.model import Rule
from nhiscan.rules import load_rules
from tests.conftest import BACKENDS

RULES = load_rules()
_SCANNERS: dict[str, Scanner] = {}


def scanner_for(backend: str) -> Scanner:
    if backend not in _SCANNERS:
        _SCANNERS[backend] = Scanner(RULES, backend=backend)  # type: ignore[arg-type]
    return _SCANNERS[backend]


@lru_cache(maxsize=None)
def bare_tokens(rule_id: str) -> tuple[bytes, ...]:
    """Secrets of the rule's examples that the rule also finds with nothing around them."""
    rule = RULES.by_id[rule_id]
    scanner = scanner_for(BACKENDS[0])
    out: list[bytes] = []
    for example in rule.examples:
        found = [m for m in scanner.scan(example.encode()).matches if m.rule_id == rule.id]
        if len(found) != 1:
            continue
        secret = found[0].secret
        alone = [m for m in scanner.scan(secret).matches if m.rule_id == rule.id]
        if len(alone) == 1 and alone[0].secret == secret and secret not in out:
            out.append(secret)
    return tuple(out)


# -- context shapes ---------------------------------------------------------------------------
# Each takes (variable name, token, filler lines) and returns the file text, or None when the
# shape cannot hold the token verbatim (a quote inside a quoted string, a newline in a
# single-line value, ...).

Shape = Callable[[str, str, list[str]], "str | None"]
_QUOTE_UNSAFE = set("\"\\\n\r")
_SHELL_UNSAFE = _QUOTE_UNSAFE | set("$`!")


def _json_string_ok(token: str) -> bool:
    return json.dumps(token, ensure_ascii=False) == f'"{token}"'


def json_value(name: str, token: str, filler: list[str]) -> str | None:
    if not _json_string_ok(token):
        return None
    doc = {f"note{i}": line for i, line in enumerate(filler)}
    doc[name] = token
    return json.dumps({"service": {"settings": doc}}, indent=2, ensure_ascii=False)


def yaml_value(name: str, token: str, filler: list[str]) -> str | None:
    if "\n" in token or "\r" in token:
        return None
    plain_ok = (
        not any(c.isspace() for c in token)
        and ": " not in token and "#" not in token
        and token[0] not in "-?:,[]{}#&*!|>'\"%@`"
        and not token.endswith(":")
    )
    if plain_ok:
        value = token
    elif "'" not in token:
        value = f"'{token}'"
    else:
        return None
    comments = "".join(f"  # {line}\n" for line in filler)
    return f"app:\n  env: production\n{comments}  {name}: {value}\n  replicas: 2\n"


def dotenv_line(name: str, token: str, filler: list[str]) -> str | None:
    if any(c.isspace() for c in token) or set(token) & set("#'\"$`\\"):
        return None
    lines = [f"# {line}" for line in filler] + [f"{name.upper()}={token}", "DEBUG=false"]
    return "\n".join(lines) + "\n"


def shell_export(name: str, token: str, filler: list[str]) -> str | None:
    if set(token) & _SHELL_UNSAFE:
        return None
    lines = ["#!/bin/sh", "set -eu", *(f"# {line}" for line in filler)]
    lines += [f'export {name.upper()}="{token}"', 'exec "$@"']
    return "\n".join(lines) + "\n"


def python_assignment(name: str, token: str, filler: list[str]) -> str | None:
    if set(token) & _QUOTE_UNSAFE:
        return None
    lines = ["import os", "", *(f"# {line}" for line in filler), f'{name} = "{token}"', "TIMEOUT = 30"]
    return "\n".join(lines) + "\n"


def python_triple_quoted(name: str, token: str, filler: list[str]) -> str | None:
    """Multi-line tokens (PEM blocks) kept verbatim in a triple-quoted string."""
    if "\n" not in token or '"""' in token or "\\" in token:
        return None
    return f'{name.upper()} = """{token}"""\n' + "".join(f"# {line}\n" for line in filler)


def terraform_attribute(name: str, token: str, filler: list[str]) -> str | None:
    if set(token) & _QUOTE_UNSAFE or "${" in token or "%{" in token:
        return None
    comments = "".join(f"  # {line}\n" for line in filler)
    return (
        'provider "example" {\n  region = "eu-west-1"\n}\n\n'
        'resource "example_secret" "app" {\n'
        f'{comments}  {name} = "{token}"\n  enabled = true\n}}\n'
    )


def notebook_cell(name: str, token: str, filler: list[str]) -> str | None:
    line = f'{name} = "{token}"\n'
    if set(token) & _QUOTE_UNSAFE:
        return None
    nb = {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": [f"{f}\n" for f in filler]},
            {
                "cell_type": "code",
                "execution_count": 1,
                "metadata": {},
                "outputs": [],
                "source": ["import requests\n", line, "requests.get(URL)\n"],
            },
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    text = json.dumps(nb, indent=1, ensure_ascii=False)
    return text if token in text else None


SHAPES: dict[str, Shape] = {
    "json": json_value,
    "yaml": yaml_value,
    "dotenv": dotenv_line,
    "shell-export": shell_export,
    "python": python_assignment,
    "python-multiline": python_triple_quoted,
    "terraform": terraform_attribute,
    "jupyter": notebook_cell,
}

NAMES = ["token", "api_key", "secret", "value", "credential", "auth_token", "client_secret", "key"]
filler_line = st.text(alphabet=st.sampled_from(list("abcdefghij klmnop.,;-")), max_size=40)


def _check_planted(rule: Rule, token: bytes, shape: str, text: str) -> None:
    data = text.encode()
    offset = data.index(token)
    for backend in BACKENDS:
        found = [m for m in scanner_for(backend).scan(data).matches if m.rule_id == rule.id]
        assert any(m.secret == token and m.start == offset for m in found), (
            f"{backend}: {rule.id}: token planted in a {shape} shape at byte {offset} not found "
            f"(found: {[(m.start, len(m.secret)) for m in found]})\n{text}"
        )


# Context-anchored rules (a provider name before the value) are not found bare; their whole
# examples are planted in random surroundings by tests/test_properties.py instead.
SELF_IDENTIFYING = [r.id for r in RULES.rules if bare_tokens(r.id)]


def test_most_token_formats_are_self_identifying() -> None:
    assert len(SELF_IDENTIFYING) >= 150, len(SELF_IDENTIFYING)


@pytest.mark.parametrize("rule_id", SELF_IDENTIFYING)
def test_planted_tokens_found_in_every_shape(rule_id: str) -> None:
    rule = RULES.by_id[rule_id]
    tokens = bare_tokens(rule_id)

    @settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
    @given(name=st.sampled_from(NAMES), filler=st.lists(filler_line, max_size=4))
    def planted(name: str, filler: list[str]) -> None:
        for token in tokens:
            text_token = token.decode("utf-8", "surrogateescape")
            for shape, build in SHAPES.items():
                text = build(name, text_token, filler)
                if text is not None:
                    _check_planted(rule, token, shape, text)

    planted()


def test_bare_token_rules_are_the_majority_of_provider_rules() -> None:
    """Guards the planting test against silently skipping everything."""
    bare = [r.id for r in RULES.rules if bare_tokens(r.id)]
    assert len(bare) >= 150, len(bare)


def test_every_shape_is_exercised() -> None:
    used = {
        shape
        for r in RULES.rules
        for token in bare_tokens(r.id)
        for shape, build in SHAPES.items()
        if build("token", token.decode("utf-8", "surrogateescape"), []) is not None
    }
    assert used == set(SHAPES)

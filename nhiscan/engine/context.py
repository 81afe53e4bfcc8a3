"""Confidence from context: where a finding is and what its value looks like.

The engine works on bytes without paths; the caller that knows the path (``scan.ReportBuilder``)
asks :func:`adjust_confidence` for the confidence to report, once per finding:

* a **test fixture** path (``tests/``, ``fixtures/``, ``test_*.py``, ``*.spec.ts``, ...) lowers
  the rule's confidence one step: tests hold generated keys and fakes, but also real leaked
  credentials (a deploy token pasted into a unit test is still a deploy token);
* a **documentation or example** path (``docs/``, ``examples/``, ``README.md``, ``*.rst``,
  ``.env.example``, ``*.sample``) lowers it one step;
* an **obvious placeholder value** (``test``, ``fake``, ``sample`` inside the token, a repeated
  pattern) lowers it one step.

Generic rules (credential-named assignments) have no format to vouch for the value, so in
documentation and for placeholder-looking values they are dropped (``None``); in tests they
are reported at low confidence. Specific rules are never dropped: the issuer's format is
evidence on its own. Pure functions: no I/O, no state.
"""

from __future__ import annotations

import enum
from functools import lru_cache
from pathlib import PurePosixPath


from nhiscan.engine.lazyre import lazy

from nhiscan.model import Confidence, NhiKind, Rule


class PathKind(enum.Flag):
    """What a path says about the files it names."""

    NONE = 0
    TEST = enum.auto()
    """Test code and fixtures."""
    DOCS = enum.auto()
    """Documentation, examples, samples and templates of configuration."""


_TEST_DIRS = frozenset(
    {
        "test", "tests", "testing", "__tests__", "spec", "specs", "fixture", "fixtures",
        "testdata", "test_data", "test-data", "testfixtures", "test_fixtures", "test-fixtures",
        "mock", "mocks", "__mocks__", "e2e", "unittests", "unit_tests", "unit-tests",
        "integration_tests", "integration-tests", "functional_tests", "__snapshots__",
    }
)
_TEST_DIR_PATTERN = lazy(r"^tests?[_-]|[_-]tests?$")
_TEST_FILE = lazy(
    r"""(?x)
    ^test_[^/]*\.py$ | ^[^/]*_tests?\.py$ | ^conftest\.py$
    | ^[^/]*_test\.(?:go|rb|exs?|dart|cc|cpp|c|rs)$ | ^[^/]*_spec\.rb$
    | ^[^/]*\.(?:test|spec)\.[cm]?[jt]sx?$
    | ^[^/]*(?:Test|Tests|IT|Spec)\.(?:java|kt|kts|scala|groovy|cs|php|swift)$
    """
)
_DOC_DIRS = frozenset(
    {
        "doc", "docs", "documentation", "man", "manual", "manuals", "example", "examples",
        "sample", "samples", "demo", "demos", "tutorial", "tutorials", "guide", "guides",
        "_build", "site-docs", "javadoc", "apidocs",
    }
)
_DOC_SUFFIXES = frozenset({".md", ".markdown", ".mdx", ".rst", ".adoc", ".asciidoc", ".rdoc", ".pod"})
_DOC_STEMS = lazy(
    r"(?i)^(?:readme|changelog|changes|history|news|contributing|authors|install|upgrading)(?:\.|$)"
)
# Example and template configuration: .env.example, config.sample.yml, settings.py.dist,
# values.template.yaml, examples-1.json.
_EXAMPLE_FILE = lazy(
    r"(?i)(?:^|[._-])(?:examples?|samples?|templates?|tmpl|tpl|dist)(?:[._-]|$)"
)

_PLACEHOLDER_VALUE = lazy(
    rb"(?i)test|fake|sample|demo|dummy|mock|invalid|not[_-]?real|do[_-]?not[_-]?use|foo[_-]?bar"
)


@lru_cache(maxsize=4096)
def path_kind(path: str) -> PathKind:
    """Classify a scanned path (relative, ``/``-separated) as test code, docs, both or neither.

    >>> path_kind("tests/fixtures/client.key") is PathKind.TEST
    True
    >>> path_kind("docs/howto/deploy.rst") is PathKind.DOCS
    True
    >>> path_kind("config/.env.example") is PathKind.DOCS
    True
    >>> path_kind("src/app/settings.py") is PathKind.NONE
    True
    """
    parts = [p for p in path.replace("\\", "/").split("/") if p and p != "."]
    if not parts:
        return PathKind.NONE
    kind = PathKind.NONE
    name = parts[-1]
    for folder in parts[:-1]:
        low = folder.lower()
        if low in _TEST_DIRS or _TEST_DIR_PATTERN.search(low):
            kind |= PathKind.TEST
        if low in _DOC_DIRS:
            kind |= PathKind.DOCS
    if _TEST_FILE.search(name):
        kind |= PathKind.TEST
    suffix = PurePosixPath(name).suffix.lower()
    if suffix in _DOC_SUFFIXES or _DOC_STEMS.search(name) or _EXAMPLE_FILE.search(name):
        kind |= PathKind.DOCS
    return kind


def _repeated_unit(secret: bytes) -> bool:
    """``abcabcabc...``, ``0101...``: a value made of one short unit repeated."""
    n = len(secret)
    for size in range(1, min(8, n // 3) + 1):
        unit = secret[:size]
        if unit * (n // size) + unit[: n % size] == secret:
            return True
    return False


def looks_like_placeholder(secret: bytes) -> bool:
    """A value that passed the engine's filters but still reads as a stand-in for a secret."""
    if len(secret) >= 8 and _repeated_unit(secret):
        return True
    if len(secret) >= 16 and len(set(secret)) * 4 < len(secret) and len(set(secret)) <= 6:
        return True
    # Words inside a long random body (a PEM key: "TeSt" turns up in ~1% of them) mean nothing.
    return len(secret) <= 128 and _PLACEHOLDER_VALUE.search(secret) is not None


def _lower(confidence: Confidence, steps: int) -> Confidence:
    rank = max(1, confidence.rank - steps)
    return {1: Confidence.LOW, 2: Confidence.MEDIUM, 3: Confidence.HIGH}[rank]


def adjust_confidence(rule: Rule, path: str, secret: bytes) -> Confidence | None:
    """The confidence to report for ``rule``'s finding of ``secret`` at ``path``.

    ``None`` means "do not report": only for generic rules, in documentation or for a
    placeholder-looking value. Otherwise the rule's confidence, lowered one step for each of
    test path, documentation path and placeholder-looking value (never below ``low``).
    """
    kind = path_kind(path)
    placeholder = looks_like_placeholder(secret)
    if rule.nhi_kind is NhiKind.GENERIC_CREDENTIAL:
        if placeholder or PathKind.DOCS in kind:
            return None
        if PathKind.TEST in kind:
            return Confidence.LOW
        return rule.confidence
    steps = (PathKind.TEST in kind) + (PathKind.DOCS in kind) + placeholder
    return _lower(rule.confidence, steps)

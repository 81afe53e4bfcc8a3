"""CODEOWNERS, as GitHub reads it: the last matching pattern wins.

Patterns follow ``.gitignore`` rules with GitHub's documented exceptions:

- ``!`` negation and ``[...]`` character ranges are not supported (taken literally);
- a pattern holding a ``/`` at its start or in its middle is anchored at the repository root,
  any other pattern matches at any depth (``*.js``, ``apps/``);
- a pattern matches a path, or a folder holding it (``/docs/``, ``apps/``, ``**/logs``),
  except that a trailing ``/*`` matches the files directly inside that folder only
  (``docs/*`` owns ``docs/a.md`` but not ``docs/sub/b.md``);
- ``*`` and ``?`` stay within one path segment, ``**`` crosses segments;
- a pattern with no owners makes the path explicitly unowned.

``nhiscan.globs`` is for config globs and does not implement these rules, hence this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from nhiscan.globs import glob_body

# GitHub's search order: the first file found is the only one used.
CODEOWNERS_LOCATIONS: tuple[str, ...] = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")


@dataclass(frozen=True, kw_only=True)
class OwnerRule:
    pattern: str
    owners: tuple[str, ...]
    line: int
    """1-based line of the rule in its file."""
    regex: re.Pattern[str]
    match_folders: bool
    """The pattern may match a folder holding the path (not only the path itself)."""
    match_files: bool
    """The pattern may match the path itself (false for ``dir/``)."""

    def matches(self, path: str) -> bool:
        path = path.strip("/")
        if self.match_files and self.regex.fullmatch(path):
            return True
        if self.match_folders:
            parts = path.split("/")
            for i in range(len(parts) - 1, 0, -1):
                if self.regex.fullmatch("/".join(parts[:i])):
                    return True
        return False


@dataclass(frozen=True, kw_only=True)
class OwnerMatch:
    owners: tuple[str, ...]
    """Empty when the matching rule leaves the path explicitly unowned."""
    file: str
    line: int
    pattern: str


@dataclass(frozen=True, kw_only=True)
class CodeOwners:
    file: str
    """Where it was read from, e.g. ``.github/CODEOWNERS``."""
    rules: tuple[OwnerRule, ...]

    def owner_of(self, path: str) -> OwnerMatch | None:
        """The last rule matching ``path`` (relative to the repository root), if any."""
        for rule in reversed(self.rules):
            if rule.matches(path):
                return OwnerMatch(owners=rule.owners, file=self.file, line=rule.line, pattern=rule.pattern)
        return None


def _split_line(line: str) -> list[str]:
    """Whitespace-separated tokens; ``\\ `` keeps a space inside a pattern."""
    tokens: list[str] = []
    cur: list[str] = []
    i = 0
    while i < len(line):
        c = line[i]
        if c == "\\" and i + 1 < len(line):
            cur.append(line[i : i + 2])
            i += 2
            continue
        if c.isspace():
            if cur:
                tokens.append("".join(cur))
                cur = []
        else:
            cur.append(c)
        i += 1
    if cur:
        tokens.append("".join(cur))
    return tokens


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def compile_pattern(pattern: str) -> tuple[re.Pattern[str], bool, bool]:
    """(regex for the path or folder itself, may match a folder, may match a file)."""
    dir_only = pattern.endswith("/")
    pat = pattern.rstrip("/")
    anchored = pat.startswith("/") or "/" in pat
    pat = pat.lstrip("/")
    body = glob_body(pat, char_classes=False)  # GitHub's CODEOWNERS has no [...] ranges
    if not anchored:
        body = "(?:.*/)?" + body
    last = pat.rsplit("/", 1)[-1]
    direct_children_only = last == "*" and "/" in pat
    match_folders = not direct_children_only
    match_files = not dir_only
    return re.compile(body, re.DOTALL), match_folders, match_files


def parse_codeowners(text: str, *, file: str = "CODEOWNERS") -> CodeOwners:
    """Parse a CODEOWNERS file; lines that cannot be rules are ignored, as GitHub does."""
    rules: list[OwnerRule] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        tokens = _split_line(line)
        pattern = _unescape(tokens[0]) if tokens[0].startswith("\\#") else tokens[0]
        owners: list[str] = []
        for tok in tokens[1:]:
            if tok.startswith("#"):
                break
            owners.append(tok)
        if pattern.startswith("!"):
            continue  # negation is not supported by GitHub: the line is skipped
        regex, folders, files = compile_pattern(pattern)
        rules.append(
            OwnerRule(
                pattern=_unescape(pattern),
                owners=tuple(owners),
                line=lineno,
                regex=regex,
                match_folders=folders,
                match_files=files,
            )
        )
    return CodeOwners(file=file, rules=tuple(rules))


def find_codeowners(read: Callable[[str], bytes | None]) -> CodeOwners | None:
    """The first CODEOWNERS file ``read`` returns, in GitHub's search order."""
    for location in CODEOWNERS_LOCATIONS:
        data = read(location)
        if data is not None:
            return parse_codeowners(data.decode("utf-8", "replace"), file=location)
    return None


def read_from_disk(root: Path) -> Callable[[str], bytes | None]:
    def read(rel: str) -> bytes | None:
        try:
            return (root / rel).read_bytes()
        except OSError:
            return None

    return read

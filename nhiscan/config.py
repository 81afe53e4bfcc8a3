"""One Config object, loaded from ``.nhiscan.toml`` or ``[tool.nhiscan]``, passed explicitly."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nhiscan import tomlcompat
from nhiscan.errors import ConfigError
from nhiscan.globs import glob_match, glob_to_regex

DEFAULT_MAX_FILE_SIZE = 10 * 1024 * 1024
_UNITS = {"": 1, "B": 1, "KB": 1024, "K": 1024, "MB": 1024**2, "M": 1024**2, "GB": 1024**3, "G": 1024**3}


def parse_size(text: str | int) -> int:
    """``512KB``, ``10MB``, ``1GB`` (powers of 1024) or a plain number of bytes."""
    if isinstance(text, int) and not isinstance(text, bool):
        if text <= 0:
            raise ValueError("size must be positive")
        return text
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMG]?B?)\s*", str(text), re.IGNORECASE)
    if not m:
        raise ValueError(f"not a size: {text!r} (use bytes, or a unit: 512KB, 10MB, 1GB)")
    value = int(float(m.group(1)) * _UNITS[m.group(2).upper()])
    if value <= 0:
        raise ValueError("size must be positive")
    return value


@dataclass(frozen=True, kw_only=True)
class AllowEntry:
    """A finding matching every key given here is not reported."""

    paths: tuple[str, ...] = ()
    regexes: tuple[str, ...] = ()
    stopwords: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    description: str = ""

    def matches(self, *, rule_id: str, path: str, secret: bytes) -> bool:
        if self.rules and rule_id not in self.rules:
            return False
        if self.paths and not any(glob_match(p, path) for p in self.paths):
            return False
        if self.regexes:
            import regex

        if self.regexes and not any(
            regex.search(r.encode(), secret) for r in self.regexes
        ):
            return False
        if self.stopwords:
            low = secret.lower()
            if not any(s.lower().encode() in low for s in self.stopwords):
                return False
        return True


@dataclass(frozen=True, kw_only=True)
class Config:
    """Everything configurable, after merging the config file and the command line."""

    path: Path | None = None
    """The file this came from (None: defaults)."""
    root: Path | None = None
    """The folder the config's path globs are relative to (the repository root)."""
    extend: tuple[Path, ...] = ()
    disable: tuple[str, ...] = ()
    allow: tuple[AllowEntry, ...] = ()
    exclude: tuple[str, ...] = ()
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    regex_timeout: float = 2.0

    def is_allowed(self, *, rule_id: str, path: str, secret: bytes) -> bool:
        return any(a.matches(rule_id=rule_id, path=path, secret=secret) for a in self.allow)

    def is_excluded(self, path: str) -> bool:
        return any(glob_match(p, path) for p in self.exclude)


_TOP_KEYS = {"rules", "allow", "scan"}
_RULES_KEYS = {"extend": list, "disable": list}
_ALLOW_KEYS = {"paths": list, "regexes": list, "stopwords": list, "rules": list, "description": str}
_SCAN_KEYS = {"exclude": list, "max_file_size": (str, int), "regex_timeout": (int, float)}


def _check_table(name: str, where: str, table: Any, schema: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: '{name}' must be a table")
    for key, value in table.items():
        if key not in schema:
            expected = ", ".join(sorted(schema))
            raise ConfigError(f"{where}: unknown key '{name}.{key}' (expected one of: {expected})")
        typ = schema[key]
        if not isinstance(value, typ) or isinstance(value, bool):
            raise ConfigError(f"{where}: '{name}.{key}' has the wrong type ({type(value).__name__})")
        if typ is list and not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: '{name}.{key}' must be a list of strings")
    return table


def parse_config(doc: dict[str, Any], *, path: Path, base: Path, root: Path | None = None) -> Config:
    where = str(path)
    for key in doc:
        if key not in _TOP_KEYS:
            raise ConfigError(f"{where}: unknown key '{key}' (expected rules, allow or scan)")
    rules = _check_table("rules", where, doc.get("rules", {}), _RULES_KEYS)
    scan = _check_table("scan", where, doc.get("scan", {}), _SCAN_KEYS)
    allow_raw = doc.get("allow", [])
    if not isinstance(allow_raw, list):
        raise ConfigError(f"{where}: 'allow' must be an array of tables ([[allow]])")
    allow = []
    for i, entry in enumerate(allow_raw):
        t = _check_table(f"allow[{i}]", where, entry, _ALLOW_KEYS)
        if not any(t.get(k) for k in ("paths", "regexes", "stopwords")):
            raise ConfigError(f"{where}: 'allow[{i}]' needs at least one of paths, regexes, stopwords")
        for r in t.get("regexes", []):
            import regex

            try:
                regex.compile(r.encode())
            except (regex.error, ValueError) as exc:
                raise ConfigError(f"{where}: 'allow[{i}].regexes' entry {r!r} does not compile: {exc}") from None
        for g in t.get("paths", []):
            try:
                glob_to_regex(g)
            except re.error as exc:
                raise ConfigError(f"{where}: 'allow[{i}].paths' entry {g!r} is not a valid glob: {exc}") from None
        allow.append(
            AllowEntry(
                paths=tuple(t.get("paths", [])),
                regexes=tuple(t.get("regexes", [])),
                stopwords=tuple(t.get("stopwords", [])),
                rules=tuple(t.get("rules", [])),
                description=t.get("description", ""),
            )
        )
    try:
        max_size = parse_size(scan["max_file_size"]) if "max_file_size" in scan else DEFAULT_MAX_FILE_SIZE
    except ValueError as exc:
        raise ConfigError(f"{where}: 'scan.max_file_size': {exc}") from None
    timeout = float(scan.get("regex_timeout", 2.0))
    if timeout <= 0:
        raise ConfigError(f"{where}: 'scan.regex_timeout' must be positive")
    return Config(
        path=path,
        root=root if root is not None else base,
        extend=tuple((base / p) for p in rules.get("extend", [])),
        disable=tuple(rules.get("disable", [])),
        allow=tuple(allow),
        exclude=tuple(scan.get("exclude", [])),
        max_file_size=max_size,
        regex_timeout=timeout,
    )


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc}") from None
    try:
        doc: dict[str, Any] = tomlcompat.loads(text)
        return doc
    except tomlcompat.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def load_config(explicit: str | None, *, search_root: Path) -> Config:
    """``--config FILE``, else ``.nhiscan.toml`` at ``search_root``, else ``[tool.nhiscan]``.

    Path globs are relative to ``search_root`` (the repository root), also for ``--config``.
    """
    if explicit:
        path = Path(explicit)
        doc = _read_toml(path)
        if path.name == "pyproject.toml":
            doc = _tool_table(doc, path)
        return parse_config(doc, path=path, base=path.parent, root=search_root)
    candidate = search_root / ".nhiscan.toml"
    if candidate.is_file():
        return parse_config(_read_toml(candidate), path=candidate, base=search_root)
    pyproject = search_root / "pyproject.toml"
    if pyproject.is_file():
        doc = _read_toml(pyproject)
        if "nhiscan" in doc.get("tool", {}):
            return parse_config(_tool_table(doc, pyproject), path=pyproject, base=search_root)
    return Config(root=search_root)


def _tool_table(doc: dict[str, Any], path: Path) -> dict[str, Any]:
    table = doc.get("tool", {}).get("nhiscan", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: 'tool.nhiscan' must be a table")
    return table

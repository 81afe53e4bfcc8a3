"""Load and validate rule packs. Errors say ``file:rule-id: what is wrong``."""

from __future__ import annotations

import dataclasses
import marshal
import os
import re
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from nhiscan import __version__, tomlcompat
from nhiscan.engine.validators import VALIDATORS
from nhiscan.cache import cache_dir, cache_key, mark_used, prune_stale
from nhiscan.errors import RuleError
from nhiscan.model import Confidence, NhiKind, Rule, RuleSet, Severity

if TYPE_CHECKING:
    import regex

__all__ = ["RuleSet", "builtin_rules_dir", "load_pack", "load_rules", "parse_rule"]

_SCHEMA = 6  # bump when Rule's fields or the cache format change, to invalidate cached packs
_ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

_REQUIRED: dict[str, type | tuple[type, ...]] = {
    "id": str,
    "name": str,
    "provider": str,
    "nhi_kind": str,
    "severity": str,
    "keywords": list,
    "regex": str,
}
_OPTIONAL: dict[str, type | tuple[type, ...]] = {
    "confidence": str,
    "secret_group": (int, str),
    "min_entropy": (int, float),
    "checksum": str,
    "multiline": bool,
    "value_check": bool,
    "public_group": (int, str),
    "allow_regexes": list,
    "allow_match_regexes": list,
    "controls": list,
    "cwe": list,
    "description": str,
    "references": list,
    "tags": list,
    "priority": int,
    "examples": list,
    "negative_examples": list,
}


def builtin_rules_dir() -> Path:
    """The packs shipped with nhiscan: inside the wheel, or ``rules/`` in a source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_rules", here.parent / "rules"):
        if candidate.is_dir():
            return candidate
    raise RuleError(f"{here / '_rules'}: built-in rule packs are missing from the installation")


def _str_list(value: Any, where: str, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RuleError(f"{where}: '{key}' must be a list of strings")
    return tuple(value)


def _group_exists(pattern: regex.Pattern[bytes], group: int | str) -> bool:
    if isinstance(group, int):
        return 0 <= group <= int(pattern.groups)
    return bool(group in pattern.groupindex)


def parse_rule(raw: Any, *, source: str, index: int) -> Rule:
    """Validate one ``[[rule]]`` table and build a :class:`Rule`."""
    if not isinstance(raw, dict):
        raise RuleError(f"{source}: rule #{index + 1} is not a table")
    rid = raw.get("id")
    where = f"{source}:{rid if isinstance(rid, str) else f'rule #{index + 1}'}"
    for key, typ in _REQUIRED.items():
        if key not in raw:
            raise RuleError(f"{where}: missing required key '{key}'")
        if not isinstance(raw[key], typ):
            raise RuleError(f"{where}: '{key}' has the wrong type")
    for key, value in raw.items():
        if key in _REQUIRED:
            continue
        if key not in _OPTIONAL:
            raise RuleError(f"{where}: unknown key '{key}'")
        if not isinstance(value, _OPTIONAL[key]) or (
            isinstance(value, bool) and _OPTIONAL[key] != bool
        ):
            raise RuleError(f"{where}: '{key}' has the wrong type")
    assert isinstance(rid, str)
    if not _ID_RE.match(rid):
        raise RuleError(f"{where}: id must be kebab-case (lowercase letters, digits, '-')")
    try:
        kind = NhiKind(raw["nhi_kind"])
    except ValueError:
        kinds = ", ".join(k.value for k in NhiKind)
        raise RuleError(f"{where}: unknown nhi_kind '{raw['nhi_kind']}' (one of: {kinds})") from None
    try:
        severity = Severity(raw["severity"])
    except ValueError:
        raise RuleError(f"{where}: severity must be low, medium, high or critical") from None
    try:
        confidence = Confidence(raw.get("confidence", "high"))
    except ValueError:
        raise RuleError(f"{where}: confidence must be low, medium or high") from None
    keywords = tuple(k.lower() for k in _str_list(raw["keywords"], where, "keywords"))
    if not keywords or any(not k for k in keywords):
        raise RuleError(f"{where}: 'keywords' must list at least one non-empty literal")
    import regex  # here, not at module level: a cached run never validates

    pattern_text: str = raw["regex"]
    try:
        compiled = regex.compile(pattern_text.encode())
    except (regex.error, ValueError) as exc:
        raise RuleError(f"{where}: regex does not compile: {exc}") from None
    if "secret_group" in raw:
        secret_group: int | str = raw["secret_group"]
    else:
        secret_group = 1 if compiled.groups >= 1 else 0
    if not _group_exists(compiled, secret_group):
        raise RuleError(f"{where}: secret_group {secret_group!r} is not a group of the regex")
    public_group = raw.get("public_group")
    if public_group is not None and not _group_exists(compiled, public_group):
        raise RuleError(f"{where}: public_group {public_group!r} is not a group of the regex")
    checksum = raw.get("checksum")
    if checksum is not None and checksum not in VALIDATORS:
        raise RuleError(
            f"{where}: unknown checksum '{checksum}' (one of: {', '.join(sorted(VALIDATORS))})"
        )
    allow = _str_list(raw.get("allow_regexes", []), where, "allow_regexes")
    allow_match = _str_list(raw.get("allow_match_regexes", []), where, "allow_match_regexes")
    for key, entries in (("allow_regexes", allow), ("allow_match_regexes", allow_match)):
        for a in entries:
            try:
                regex.compile(a.encode())
            except (regex.error, ValueError) as exc:
                raise RuleError(f"{where}: {key} entry does not compile: {exc}") from None
    cwe = raw.get("cwe", [])
    if not all(isinstance(c, int) and not isinstance(c, bool) for c in cwe):
        raise RuleError(f"{where}: 'cwe' must be a list of integers")
    min_entropy = raw.get("min_entropy")
    return Rule(
        id=rid,
        name=raw["name"],
        provider=raw["provider"],
        nhi_kind=kind,
        severity=severity,
        confidence=confidence,
        keywords=keywords,
        regex=pattern_text,
        secret_group=secret_group,
        min_entropy=float(min_entropy) if min_entropy is not None else None,
        checksum=checksum,
        multiline=bool(raw.get("multiline", False)),
        value_check=bool(raw.get("value_check", kind is NhiKind.GENERIC_CREDENTIAL)),
        public_group=public_group,
        allow_regexes=allow,
        allow_match_regexes=allow_match,
        controls=_str_list(raw.get("controls", []), where, "controls"),
        cwe=tuple(cwe),
        description=raw.get("description", ""),
        references=_str_list(raw.get("references", []), where, "references"),
        tags=_str_list(raw.get("tags", []), where, "tags"),
        priority=int(raw.get("priority", 0)),
        examples=_str_list(raw.get("examples", []), where, "examples"),
        negative_examples=_str_list(raw.get("negative_examples", []), where, "negative_examples"),
        source=source,
    )


_TUPLE_FIELDS = (
    "keywords", "allow_regexes", "allow_match_regexes", "controls", "cwe", "references", "tags", "examples", "negative_examples",
)


def _rule_to_cache(rule: Rule) -> dict[str, Any]:
    d = dict(rule.__dict__)
    for key in ("nhi_kind", "severity", "confidence"):
        d[key] = d[key].value
    return d


_RULE_FIELDS = frozenset(f.name for f in dataclasses.fields(Rule))
_KINDS = {k.value: k for k in NhiKind}
_SEVERITIES = {s.value: s for s in Severity}
_CONFIDENCES = {c.value: c for c in Confidence}


def _rule_from_cache(d: dict[str, Any]) -> Rule:
    """A cached rule, already validated: built without the dataclass's ``__init__`` (453 frozen
    ``__init__`` calls were a third of a pre-commit run's rule loading)."""
    d = dict(d)
    d["nhi_kind"] = _KINDS[d["nhi_kind"]]
    d["severity"] = _SEVERITIES[d["severity"]]
    d["confidence"] = _CONFIDENCES[d["confidence"]]
    for key in _TUPLE_FIELDS:
        d[key] = tuple(d[key])
    if d.keys() != _RULE_FIELDS:
        raise KeyError("cached rule fields differ from Rule's")  # a stale cache: parse again
    rule = object.__new__(Rule)
    rule.__dict__.update(d)
    return rule


def load_pack(path: Path, *, display: str | None = None) -> list[Rule]:
    """Parse and validate one TOML rule pack.

    Validating compiles every regex, which costs more than a pre-commit hook can spend; the
    validated rules are therefore cached, keyed by the pack's content hash, in ``marshal``
    format: the format of Python's own bytecode caches, loaded five times faster than JSON (a
    pre-commit run loads all packs). Only plain values are stored, after the cache key, the
    number of rules and a CRC-32 of the rules (against damage: whoever can write the cache
    folder can write a matching CRC, or a Hyperscan database); a cache file that does not load, names another
    key, count or checksum, or does not hold Rule's fields is ignored and rewritten.
    """
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RuleError(f"{name}: rule pack not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleError(f"{name}: cannot read rule pack: {exc}") from None
    key = cache_key(__version__, name, str(_SCHEMA), text)
    cache = cache_dir()
    cache_file = cache / f"rules-{key}.marshal" if cache else None
    if cache_file is not None:
        cached = _load_cached(cache_file, key)
        if cached is not None:
            mark_used(cache_file)
            return cached
    rules = _parse_pack(text, name)
    if cache_file is not None:
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            import tempfile

            fd, tmp = tempfile.mkstemp(dir=cache_file.parent, prefix=".rules-")
            with os.fdopen(fd, "wb") as fh:
                payload = marshal.dumps([_rule_to_cache(r) for r in rules])
                fh.write(marshal.dumps((key, len(rules), zlib.crc32(payload), payload)))
            os.replace(tmp, cache_file)
            prune_stale(cache_file.parent, keep=cache_file)
        except OSError:
            pass  # no cache: the next run validates again
    return rules


def _load_cached(cache_file: Path, key: str) -> list[Rule] | None:
    try:
        stored_key, count, checksum, payload = marshal.loads(cache_file.read_bytes())
        if stored_key != key or checksum != zlib.crc32(payload):
            return None
        raw = marshal.loads(payload)
        if count != len(raw) or not raw:
            return None  # (an empty pack parses in no time: never trust an empty cache)
        return [_rule_from_cache(d) for d in raw]
    except Exception:  # noqa: BLE001 - any damage (even a MemoryError from a bad length) means: parse again
        return None


def _parse_pack(text: str, name: str) -> list[Rule]:
    try:
        doc = tomlcompat.loads(text)
    except tomlcompat.TOMLDecodeError as exc:
        raise RuleError(f"{name}: invalid TOML: {exc}") from None
    unknown = set(doc) - {"rule"}
    if unknown:
        raise RuleError(f"{name}: unknown top-level key '{sorted(unknown)[0]}' (expected [[rule]])")
    raw_rules = doc.get("rule", [])
    if not isinstance(raw_rules, list):
        raise RuleError(f"{name}: 'rule' must be an array of tables ([[rule]])")
    return [parse_rule(r, source=name, index=i) for i, r in enumerate(raw_rules)]


def load_rules(
    extra_packs: Iterable[Path] = (),
    *,
    disable: Iterable[str] = (),
    builtin: bool = True,
) -> RuleSet:
    """The built-in packs plus ``extra_packs``, minus the ``disable``d ids."""
    rules: list[Rule] = []
    if builtin:
        base = builtin_rules_dir()
        for pack in sorted(base.glob("*.toml")):
            rules.extend(load_pack(pack, display=f"rules/{pack.name}"))
    for pack in extra_packs:
        rules.extend(load_pack(pack))
    seen: dict[str, Rule] = {}
    for r in rules:
        if r.id in seen:
            raise RuleError(f"{r.source}:{r.id}: duplicate rule id (also in {seen[r.id].source})")
        seen[r.id] = r
    ruleset = RuleSet(tuple(rules))
    unknown = [d for d in disable if d not in seen]
    if unknown:
        raise RuleError(f"rules.disable: unknown rule id '{unknown[0]}'")
    return ruleset.without(disable)

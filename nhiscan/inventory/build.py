"""Findings -> the NHI register: one entry per distinct credential (by ``nhi_id``)."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from nhiscan.errors import NhiscanError
from nhiscan.inventory.codeowners import CodeOwners
from nhiscan.inventory.gitinfo import PresenceOracle
from nhiscan.inventory.metadata import inband_metadata
from nhiscan.inventory.model import (
    PEOPLE_FIELDS,
    STATUSES,
    Inventory,
    InventoryEntry,
    Location,
    Owner,
    Seen,
    Sighting,
)
from nhiscan.mapping.controls import ControlMapping, control_sort_key
from nhiscan.model import CommitInfo, Confidence, Finding, NhiKind, ScanReport, Severity
from nhiscan.rules import RuleSet

_ENV_RE = re.compile(
    r"(?:^|[/._-])(dev|develop|development|local|test|testing|qa|stage|staging|stg|uat|"
    r"preprod|pre-prod|prod|production|prd|live)(?=[/._-]|$)",
    re.IGNORECASE,
)
_ENV_NAMES = {
    "dev": "dev", "develop": "dev", "development": "dev", "local": "dev",
    "test": "test", "testing": "test", "qa": "test",
    "stage": "staging", "staging": "staging", "stg": "staging", "uat": "staging",
    "preprod": "staging", "pre-prod": "staging",
    "prod": "prod", "production": "prod", "prd": "prod", "live": "prod",
}
_LONG_LIVED_DAYS = 365


# -- sightings: findings reduced to what the register may keep ---------------------------------

def sighting_from_finding(f: Finding, *, prefix: str = "") -> Sighting:
    """Drop the raw secret, keeping only what it says about itself (``metadata``)."""
    return Sighting(
        rule_id=f.rule_id,
        rule_name=f.rule_name,
        severity=f.severity,
        confidence=f.confidence,
        path=_join(prefix, f.path),
        line=f.line,
        column=f.column,
        preview=f.preview,
        secret_sha256=f.secret_sha256,
        nhi_id=f.nhi_id,
        kind=f.nhi_kind,
        provider=f.provider,
        controls=f.controls,
        commit=f.commit,
        commit_source="history" if f.commit is not None else "",
        public_id=f.public_id,
        repo=f.repo,
        metadata=inband_metadata(f.secret),
    )


def _join(prefix: str, path: str) -> str:
    if not prefix or path.startswith("/"):
        return path
    return f"{prefix.rstrip('/')}/{path}"


def _req(d: Mapping[str, Any], key: str, typ: type | tuple[type, ...], where: str) -> Any:
    value = d.get(key)
    if not isinstance(value, typ) or isinstance(value, bool) and typ is not bool:
        raise NhiscanError(f"{where}: '{key}' is missing or has the wrong type")
    return value


def sighting_from_json(d: Any, *, where: str) -> Sighting:
    """A finding of a JSON report (``nhiscan scan --format json``) read back."""
    if not isinstance(d, dict):
        raise NhiscanError(f"{where}: a finding is not an object")
    nhi = _req(d, "nhi", dict, where)
    try:
        kind = NhiKind(_req(nhi, "kind", str, where))
        severity = Severity(_req(d, "severity", str, where))
        confidence = Confidence(d.get("confidence") or "high")
    except ValueError as exc:
        raise NhiscanError(f"{where}: {exc}") from None
    digest = _req(d, "secret_sha256", str, where)
    shown = d.get("secret")
    metadata: dict[str, Any] = {}
    if isinstance(nhi.get("metadata"), dict):
        metadata = dict(nhi["metadata"])
    elif isinstance(shown, str) and hashlib.sha256(shown.encode("utf-8", "surrogateescape")).hexdigest() == digest:
        # A report written with --show-secrets: read what the token says, keep only that.
        metadata = inband_metadata(shown.encode("utf-8", "surrogateescape"))
        shown = None
    preview = shown if isinstance(shown, str) else "…"
    commit = None
    if isinstance(d.get("commit"), str) and d["commit"]:
        commit = CommitInfo(
            sha=d["commit"],
            author=str(d.get("author") or ""),
            email=str(d.get("email") or ""),
            date=str(d.get("date") or ""),
        )
    controls = d.get("controls") or []
    if not isinstance(controls, list) or not all(isinstance(c, str) for c in controls):
        raise NhiscanError(f"{where}: 'controls' must be a list of strings")
    return Sighting(
        rule_id=_req(d, "rule_id", str, where),
        rule_name=str(d.get("rule_name") or d["rule_id"]),
        severity=severity,
        confidence=confidence,
        path=_req(d, "path", str, where),
        line=_req(d, "line", int, where),
        column=int(d.get("column") or 1),
        preview=preview,
        secret_sha256=digest,
        nhi_id=_req(nhi, "id", str, where),
        kind=kind,
        provider=str(nhi.get("provider") or ""),
        controls=tuple(controls),
        commit=commit,
        commit_source="history" if commit is not None else "",
        public_id=nhi.get("public_id") if isinstance(nhi.get("public_id"), str) else None,
        repo=d.get("repo") if isinstance(d.get("repo"), str) else None,
        metadata=metadata,
    )


@dataclass(frozen=True, kw_only=True)
class ReportReadBack:
    sightings: list[Sighting]
    source_kind: str


def read_json_report(path: Path) -> ReportReadBack:
    """Read a JSON report back; errors name the file and what is wrong."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NhiscanError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise NhiscanError(f"{path}: cannot read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise NhiscanError(f"{path}: not JSON: line {exc.lineno}: {exc.msg}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("findings"), list):
        raise NhiscanError(f"{path}: not an nhiscan JSON report (no 'findings' list)")
    if doc.get("version") != 1:
        raise NhiscanError(f"{path}: unsupported report version {doc.get('version')!r} (expected 1)")
    sightings = [
        sighting_from_json(f, where=f"{path}: finding #{i + 1}") for i, f in enumerate(doc["findings"])
    ]
    source = doc.get("source")
    return ReportReadBack(sightings=sightings, source_kind=source if isinstance(source, str) else "files")


# -- building --------------------------------------------------------------------------------

@dataclass(kw_only=True)
class BuildContext:
    """What the builder may consult besides the findings. Everything is optional."""

    mapping: ControlMapping
    ruleset: RuleSet | None = None
    oracle: PresenceOracle | None = None
    """Decides present-at-HEAD and the removing commit from history (git sources)."""
    blame: Callable[[str, int], Seen | None] | None = None
    """Files in a git work tree: the commit that last changed a line."""
    codeowners: CodeOwners | None = None
    present_default: bool | None = None
    """Without an oracle: True for a files scan (seen now), None when unknown."""
    now: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    previous: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Entries of an earlier register by id: people's columns and status are carried over."""


def parse_date(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _days(start: str | None, end: datetime | None) -> int | None:
    begin = parse_date(start)
    if begin is None or end is None:
        return None
    return max(0, int((end - begin).total_seconds() // 86400))


def _primary(group: list[Sighting]) -> Sighting:
    """The finding that best names the credential: specific rule, then severity, confidence."""
    return min(
        group,
        key=lambda s: (
            s.kind is NhiKind.GENERIC_CREDENTIAL,
            -s.severity.rank,
            -s.confidence.rank,
            s.rule_id,
        ),
    )


def environments_of(paths: Iterable[str]) -> tuple[str, ...]:
    found = {_ENV_NAMES[m.group(1).lower()] for p in paths for m in _ENV_RE.finditer(p)}
    order = ["dev", "test", "staging", "prod"]
    return tuple(e for e in order if e in found)


def _locations(group: list[Sighting], ctx: BuildContext) -> list[Location]:
    seen: dict[tuple[str | None, str, int, str | None], Location] = {}
    for s in group:
        commit = Seen.of(s.commit) if s.commit is not None else None
        if commit is None and ctx.blame is not None and not s.path.startswith("/"):
            commit = ctx.blame(s.path, s.line)
        key = (s.repo, s.path, s.line, commit.commit if commit else None)
        if key not in seen:
            seen[key] = Location(path=s.path, line=s.line, column=s.column, rule_id=s.rule_id, commit=commit, repo=s.repo)
    return sorted(
        seen.values(),
        key=lambda loc: (
            parse_date(loc.commit.date if loc.commit else None) or datetime.max.replace(tzinfo=timezone.utc),
            loc.repo or "",
            loc.path,
            loc.line,
        ),
    )


def _owner(first: Location | None, ctx: BuildContext) -> Owner:
    author = (
        Owner(
            owners=(f"{first.commit.author} <{first.commit.email}>" if first.commit.email else first.commit.author,),
            source="author",
            detail=f"introduced in {first.commit.commit[:12]}",
        )
        if first is not None and first.commit is not None
        else None
    )
    if first is not None and ctx.codeowners is not None and first.repo is None:
        match = ctx.codeowners.owner_of(first.path)
        if match is not None:
            where = f"{match.file}:{match.line} ({match.pattern})"
            if match.owners:
                return Owner(owners=match.owners, source="codeowners", detail=where)
            if author is not None:
                return Owner(owners=author.owners, source="author", detail=f"{author.detail}; {where} leaves it unowned")
            return Owner(owners=(), source="codeowners-unowned", detail=where)
    return author or Owner(owners=(), source="none")


def _cwe_owasp(group: list[Sighting], ctx: BuildContext) -> tuple[tuple[int, ...], list[str]]:
    cwe: set[int] = set()
    owasp: set[str] = set()
    for s in group:
        rule = ctx.ruleset.by_id.get(s.rule_id) if ctx.ruleset is not None else None
        if rule is not None:
            cwe.update(ctx.mapping.cwe_for(rule))
            owasp.update(ctx.mapping.owasp_for(rule))
        else:
            km = ctx.mapping.kinds[s.kind]
            cwe.update(km.cwe)
            owasp.update(km.owasp)
    return tuple(sorted(cwe)), sorted(owasp, key=lambda o: int(o[3:]) if o[3:].isdigit() else 99)


def build_entry(group: list[Sighting], ctx: BuildContext) -> InventoryEntry:
    primary = _primary(group)
    locations = _locations(group, ctx)
    dated = [loc for loc in locations if loc.commit is not None and parse_date(loc.commit.date)]
    first_loc = dated[0] if dated else (locations[0] if locations else None)
    first_seen = dated[0].commit if dated else None
    last_seen = dated[-1].commit if dated else None
    removed_in: Seen | None = None
    head_paths: tuple[str, ...] = ()
    present = ctx.present_default
    if ctx.oracle is not None:
        hashes = sorted({s.secret_sha256 for s in group})
        paths = [loc.path for loc in locations if loc.repo is None and not loc.path.startswith("/")]
        results = [ctx.oracle.presence(h, paths) for h in hashes]
        present = any(r.present_at_head for r in results)
        if present:
            head_paths = tuple(sorted({p for r in results for p in r.head_paths}))
            last_seen = next((r.last_seen for r in results if r.present_at_head and r.last_seen), last_seen)
        else:
            removals = [r for r in results if r.removed_in is not None]
            if removals:
                latest = max(removals, key=lambda r: parse_date(r.removed_in.date if r.removed_in else None) or ctx.now)
                removed_in = latest.removed_in
                last_seen = latest.last_seen or last_seen
    elif present:
        head_paths = tuple(sorted({loc.path for loc in locations if loc.repo is None}))
    end = parse_date(removed_in.date) if removed_in else ctx.now
    age_days = _days(first_seen.date if first_seen else None, ctx.now)
    exposure_days = _days(first_seen.date if first_seen else None, end)
    committers: list[str] = []
    for loc in dated:
        assert loc.commit is not None
        who = f"{loc.commit.author} <{loc.commit.email}>" if loc.commit.email else loc.commit.author
        if who not in committers:
            committers.append(who)
    files = {(loc.repo, loc.path) for loc in locations}
    environments = environments_of(loc.path for loc in locations)
    controls = {c for s in group for c in s.controls}
    if dated:
        controls.update(ctx.mapping.history)  # committed is exposed: incident handling applies
    cwe, owasp = _cwe_owasp(group, ctx)
    extra_owasp = []
    if len(files) > 1:
        extra_owasp.append("NHI9")
    if len(environments) > 1:
        extra_owasp.append("NHI8")
    if age_days is not None and age_days >= _LONG_LIVED_DAYS:
        extra_owasp.append("NHI7")
    for o in extra_owasp:
        if o not in owasp:
            owasp.append(o)
    owasp.sort(key=lambda o: int(o[3:]) if o[3:].isdigit() else 99)
    metadata: dict[str, Any] = {}
    for s in group:
        for k, v in s.metadata.items():
            metadata.setdefault(k, v)
    if isinstance(metadata.get("jwt"), dict) and isinstance(metadata["jwt"].get("exp"), (int, float)):
        metadata["jwt"] = {**metadata["jwt"], "expired": metadata["jwt"]["exp"] < ctx.now.timestamp()}
    status = "open"
    people = {k: "" for k in PEOPLE_FIELDS}
    prev = ctx.previous.get(primary.nhi_id)
    if prev is not None:
        if prev.get("status") in STATUSES:
            status = str(prev["status"])
        nested = prev.get("people")
        prev_people: dict[str, Any] = nested if isinstance(nested, dict) else prev
        for k in PEOPLE_FIELDS:
            if isinstance(prev_people.get(k), str):
                people[k] = prev_people[k]
    return InventoryEntry(
        id=primary.nhi_id,
        kind=primary.kind,
        kind_title=ctx.mapping.kinds[primary.kind].title,
        provider=primary.provider,
        rule_id=primary.rule_id,
        rule_name=primary.rule_name,
        rule_ids=tuple(sorted({s.rule_id for s in group})),
        severity=max((s.severity for s in group), key=lambda v: v.rank),
        confidence=max((s.confidence for s in group), key=lambda v: v.rank),
        secret=primary.preview,
        secret_sha256=primary.secret_sha256,
        public_id=next((s.public_id for s in group if s.public_id), None),
        locations=tuple(locations),
        head_paths=head_paths,
        present_at_head=present,
        first_seen=first_seen,
        last_seen=last_seen,
        removed_in=removed_in,
        age_days=age_days,
        exposure_days=exposure_days,
        committers=tuple(committers),
        owner=_owner(first_loc, ctx),
        reuse_count=len(files),
        environments=environments,
        metadata=metadata,
        controls=tuple(sorted(controls, key=control_sort_key)),
        cwe=cwe,
        owasp=tuple(owasp),
        status=status,
        people=people,
    )


def _entry_order(e: InventoryEntry) -> tuple[Any, ...]:
    return (
        -e.severity.rank,
        0 if e.present_at_head else 1,
        -(e.exposure_days or 0),
        e.kind.value,
        e.provider,
        e.id,
    )


def build_inventory(
    sightings: Iterable[Sighting],
    *,
    ctx: BuildContext,
    source_kind: str,
    root: str,
    head_commit: str | None = None,
    repository_uri: str | None = None,
    warnings: Iterable[str] = (),
) -> Inventory:
    groups: dict[str, list[Sighting]] = {}
    for s in sightings:
        groups.setdefault(s.nhi_id, []).append(s)
    entries = sorted((build_entry(g, ctx) for g in groups.values()), key=_entry_order)
    return Inventory(
        entries=tuple(entries),
        source_kind=source_kind,
        root=root,
        generated=ctx.now.isoformat(timespec="seconds"),
        head_commit=head_commit,
        repository_uri=repository_uri,
        codeowners_file=ctx.codeowners.file if ctx.codeowners else None,
        warnings=tuple(warnings),
    )


def load_previous(path: Path) -> dict[str, dict[str, Any]]:
    """Entries of an earlier JSON register, by id (for ``--previous``)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NhiscanError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NhiscanError(f"{path}: not a readable JSON register: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("entries"), list):
        raise NhiscanError(f"{path}: not an nhiscan JSON register (no 'entries' list)")
    return {e["id"]: e for e in doc["entries"] if isinstance(e, dict) and isinstance(e.get("id"), str)}


def kind_counts(entries: Iterable[InventoryEntry]) -> Counter[str]:
    return Counter(e.kind_title for e in entries)

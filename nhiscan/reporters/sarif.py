"""SARIF 2.1.0 for GitHub code scanning and other SARIF viewers.

- Every loaded rule is a ``reportingDescriptor`` with help (text and Markdown), tags that
  repeat the mapping (GitHub ignores taxonomies), ``security-severity`` and ``precision``.
- ``run.taxonomies`` holds ISO/IEC 27001:2022 Annex A, CWE and the OWASP NHI Top 10; rules
  point at their taxa through ``relationships``; a result adds the controls that depend on
  where it was found (history: incident handling) through ``result.taxa``.
- URIs are relative to the repository root under ``uriBaseId`` ``SRCROOT``.
- GitHub's limits (25,000 results and rules per run, 20 tags per rule, 10 MB gzipped) are
  respected by cutting predictably (lowest severity last) and saying so in a notification.
- The raw secret appears only with ``--show-secrets``.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from nhiscan import __version__
from nhiscan.mapping.controls import ControlMapping, control_sort_key, load_mapping
from nhiscan.model import Confidence, Finding, Rule, ScanReport, Severity
from nhiscan.reporters import RenderOptions
from nhiscan.reporters.json import secret_text
from nhiscan.rules import RuleSet

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "SRCROOT"

MAX_RESULTS = 25_000
MAX_RULES = 25_000
MAX_TAGS = 20
MAX_GZIP_BYTES = 10 * 1024 * 1024
MAX_NOTIFICATIONS = 200

ISO_TAXONOMY = "ISO/IEC 27001:2022 Annex A"
CWE_TAXONOMY = "CWE"
OWASP_TAXONOMY = "OWASP Non-Human Identities Top 10"

SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
}
LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
}
PROBLEM_SEVERITY = {"error": "error", "warning": "warning", "note": "recommendation"}
PRECISION = {Confidence.HIGH: "high", Confidence.MEDIUM: "medium", Confidence.LOW: "low"}

_URI_SAFE = "/!$&'()*+,;=:@-._~"

ALLOW_HELP = (
    "If this is not a real credential: put `nhiscan:allow` in a comment on the line, or add an "
    "`[[allow]]` entry (`paths`, `regexes` or `stopwords`, optionally `rules = [\"{rule_id}\"]`) to "
    "`.nhiscan.toml`. To accept a real one for now, record it in a baseline "
    "(`nhiscan baseline -o .nhiscan-baseline.json`) and track its rotation."
)


@dataclass(frozen=True)
class _Taxonomies:
    """Index of each taxonomy in ``run.taxonomies`` and of each taxon inside it."""

    iso: dict[str, int]
    cwe: dict[int, int]
    owasp: dict[str, int]


def _component(name: str, guid: str, index: int) -> dict[str, Any]:
    return {"name": name, "guid": guid, "index": index}


def _taxonomies(mapping: ControlMapping) -> tuple[list[dict[str, Any]], _Taxonomies]:
    controls = sorted(mapping.controls.values(), key=lambda c: control_sort_key(c.id))
    cwes = sorted(mapping.cwe)
    owasp = sorted(mapping.owasp, key=lambda o: int(o[3:]))
    iso = {
        "name": ISO_TAXONOMY,
        "guid": mapping.taxonomy_guid,
        "version": "2022",
        "organization": "ISO/IEC",
        "shortDescription": {"text": "ISO/IEC 27001:2022 Annex A information security controls (ids and titles; summaries are nhiscan's own words)."},
        "isComprehensive": False,
        "taxa": [
            {
                "id": c.id,
                "name": c.title,
                "shortDescription": {"text": c.title},
                "fullDescription": {"text": c.summary or c.title},
                "properties": {"iso27001-2013": c.iso2013},
            }
            for c in controls
        ],
    }
    cwe = {
        "name": CWE_TAXONOMY,
        "guid": mapping.cwe_guid,
        "organization": "MITRE",
        "shortDescription": {"text": "The MITRE Common Weakness Enumeration"},
        "informationUri": "https://cwe.mitre.org/",
        "isComprehensive": False,
        "taxa": [
            {
                "id": f"CWE-{n}",
                "name": mapping.cwe[n],
                "shortDescription": {"text": mapping.cwe[n]},
                "helpUri": f"https://cwe.mitre.org/data/definitions/{n}.html",
            }
            for n in cwes
        ],
    }
    nhi = {
        "name": OWASP_TAXONOMY,
        "guid": mapping.owasp_guid,
        "version": "2025",
        "organization": "OWASP",
        "shortDescription": {"text": "OWASP Top 10 risks of non-human identities (2025)"},
        "informationUri": "https://owasp.org/www-project-non-human-identities-top-10/",
        "isComprehensive": True,
        "taxa": [{"id": o, "name": mapping.owasp[o], "shortDescription": {"text": mapping.owasp[o]}} for o in owasp],
    }
    index = _Taxonomies(
        iso={c.id: i for i, c in enumerate(controls)},
        cwe={n: i for i, n in enumerate(cwes)},
        owasp={o: i for i, o in enumerate(owasp)},
    )
    return [iso, cwe, nhi], index


def _iso_ref(cid: str, mapping: ControlMapping, tax: _Taxonomies) -> dict[str, Any]:
    ref: dict[str, Any] = {"id": cid, "toolComponent": _component(ISO_TAXONOMY, mapping.taxonomy_guid, 0)}
    if cid in tax.iso:
        ref["index"] = tax.iso[cid]
    return ref


def _relationships(rule: Rule, mapping: ControlMapping, tax: _Taxonomies) -> list[dict[str, Any]]:
    rels: list[dict[str, Any]] = []
    for cid in mapping.controls_for(rule):
        rels.append({"target": _iso_ref(cid, mapping, tax), "kinds": ["relevant"]})
    for n in mapping.cwe_for(rule):
        target: dict[str, Any] = {"id": f"CWE-{n}", "toolComponent": _component(CWE_TAXONOMY, mapping.cwe_guid, 1)}
        if n in tax.cwe:
            target["index"] = tax.cwe[n]
        rels.append({"target": target, "kinds": ["relevant"]})
    for o in mapping.owasp_for(rule):
        target = {"id": o, "toolComponent": _component(OWASP_TAXONOMY, mapping.owasp_guid, 2)}
        if o in tax.owasp:
            target["index"] = tax.owasp[o]
        rels.append({"target": target, "kinds": ["relevant"]})
    return rels


def rule_tags(rule: Rule, mapping: ControlMapping) -> tuple[list[str], int]:
    """Tags in priority order, cut to GitHub's 20; returns (tags, how many were cut)."""
    tags = ["security", *(f"external/cwe/cwe-{n}" for n in mapping.cwe_for(rule)), "secret", f"nhi/{rule.nhi_kind.value}"]
    tags += [f"owasp-nhi/{o}" for o in mapping.owasp_for(rule)]
    tags += [f"iso27001/{c}" for c in mapping.controls_for(rule)]
    tags += [t for t in rule.tags]
    unique = list(dict.fromkeys(tags))
    return unique[:MAX_TAGS], max(0, len(unique) - MAX_TAGS)


def _pascal(rule_id: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", rule_id) if part)


def _help(rule: Rule, mapping: ControlMapping) -> dict[str, str]:
    kind = mapping.kinds[rule.nhi_kind]
    what = rule.description or f"A {kind.title.lower()} issued by {rule.provider}."
    controls = [mapping.controls[c] for c in mapping.controls_for(rule) if c in mapping.controls]
    cwe = [f"CWE-{n} {mapping.cwe.get(n, '')}".strip() for n in mapping.cwe_for(rule)]
    owasp = [f"{o} {mapping.owasp.get(o, '')}".strip() for o in mapping.owasp_for(rule)]
    allow = ALLOW_HELP.format(rule_id=rule.id)
    text = [
        f"{rule.name} ({rule.provider}; {kind.title}).",
        "",
        f"What it is: {what}",
        f"Why it matters: {kind.risk}" if kind.risk else "",
        f"Revoke and rotate: {kind.remediation} Removing it from the code is not enough: it stays in git history, so treat it as exposed."
        if kind.remediation else "",
        f"False positive: {allow.replace('`', '')}",
        "",
        "ISO/IEC 27001:2022 controls: " + "; ".join(f"{c.id} {c.title}" for c in controls),
        "CWE: " + "; ".join(cwe),
        "OWASP NHI Top 10: " + "; ".join(owasp),
    ]
    if rule.references:
        text.append("References: " + " ".join(rule.references))
    md = [
        f"**{rule.name}** ({rule.provider}; {kind.title})",
        "",
        f"**What it is.** {what}",
        "",
    ]
    if kind.risk:
        md += [f"**Why it matters.** {kind.risk}", ""]
    if kind.remediation:
        md += [
            f"**Revoke and rotate.** {kind.remediation} Removing it from the code is not enough: "
            "it stays in git history, so treat it as exposed.",
            "",
        ]
    md += [f"**False positive?** {allow}", "", "**Controls in question**", ""]
    md += [f"- ISO/IEC 27001:2022 {c.id} {c.title} (2013: {c.iso2013})" for c in controls]
    md += [f"- {c}" for c in cwe] + [f"- OWASP NHI Top 10: {o}" for o in owasp]
    if rule.references:
        md += ["", "**References**", ""] + [f"- <{r}>" for r in rule.references]
    return {"text": "\n".join(line for line in text if line is not None).strip(), "markdown": "\n".join(md).strip()}


def rule_descriptor(rule: Rule, mapping: ControlMapping, tax: _Taxonomies) -> tuple[dict[str, Any], int]:
    tags, cut = rule_tags(rule, mapping)
    level = LEVEL[rule.severity]
    kind = mapping.kinds[rule.nhi_kind]
    d: dict[str, Any] = {
        "id": rule.id,
        "name": _pascal(rule.id),
        "shortDescription": {"text": rule.name},
        "fullDescription": {"text": rule.description or f"{rule.name}: a {kind.title.lower()} issued by {rule.provider}."},
        "help": _help(rule, mapping),
        "defaultConfiguration": {"level": level},
        "relationships": _relationships(rule, mapping, tax),
        "properties": {
            "tags": tags,
            "security-severity": SECURITY_SEVERITY[rule.severity],
            "precision": PRECISION[rule.confidence],
            "problem.severity": PROBLEM_SEVERITY[level],
            "nhi-kind": rule.nhi_kind.value,
            "provider": rule.provider,
            "iso27001": list(mapping.controls_for(rule)),
            "cwe": [f"CWE-{n}" for n in mapping.cwe_for(rule)],
            "owasp-nhi": list(mapping.owasp_for(rule)),
        },
    }
    if rule.references:
        d["helpUri"] = rule.references[0]
    return d, cut


def _unknown_rule(f: Finding) -> Rule:
    """A descriptor for a finding whose rule is not in the rule set (e.g. a merged report)."""
    return Rule(
        id=f.rule_id,
        name=f.rule_name,
        provider=f.provider,
        nhi_kind=f.nhi_kind,
        severity=f.severity,
        confidence=f.confidence,
        keywords=(),
        regex="",
        secret_group=0,
    )


def find_repo_top(start: Path) -> Path | None:
    """The nearest folder holding ``.git`` at or above ``start`` (no git process needed)."""
    try:
        here = start.resolve()
    except OSError:
        return None
    for folder in (here, *here.parents):
        if (folder / ".git").exists():
            return folder
    return None


def _base(report: ScanReport) -> tuple[Path | None, str]:
    """(the repository root URIs are relative to, the scan root's path inside it)."""
    root = Path(report.root)
    if report.source_kind == "git":
        return root, ""
    top = find_repo_top(root if root.is_dir() else root.parent)
    if top is None:
        return (root if root.is_dir() else None), ""
    try:
        rel = os.path.relpath(root.resolve(), top)
    except ValueError:
        return root, ""
    return top, "" if rel == "." else rel.replace(os.sep, "/") + "/"


_ESCAPED_BYTE = re.compile(rb"\\x([0-9a-f]{2})")


def _path_bytes(path: str) -> bytes:
    """The file name's bytes: report paths show undecodable bytes as ``\\xNN`` (see
    ``sources.files.display_path``); a URI percent-encodes the byte itself (``caf%E9.txt``)."""
    return _ESCAPED_BYTE.sub(lambda m: bytes([int(m.group(1), 16)]), path.encode("utf-8"))


def artifact_location(path: str, prefix: str, base: Path | None) -> dict[str, Any]:
    if path.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", path):
        # Outside the scan root: relative to the repository when inside it, else absolute.
        if base is not None:
            try:
                rel = Path(path).resolve().relative_to(base.resolve())
                return {"uri": quote(rel.as_posix(), safe=_URI_SAFE), "uriBaseId": SRCROOT}
            except (ValueError, OSError):
                pass
        return {"uri": Path(path).as_uri()}
    loc: dict[str, Any] = {"uri": quote(_path_bytes(prefix + path), safe=_URI_SAFE)}
    if base is not None:
        loc["uriBaseId"] = SRCROOT
    return loc


def _priority(f: Finding) -> tuple[Any, ...]:
    return (-f.severity.rank, -f.confidence.rank, f.path, f.line, f.column, f.rule_id)


def _message(f: Finding, kind_title: str, options: RenderOptions) -> str:
    shown = secret_text(f, options.show_secrets)
    text = f"{f.rule_name} ({kind_title}, {f.provider}) hard-coded here: {shown}."
    if f.commit is not None:
        text += f" Introduced in commit {f.commit.sha[:12]} by {f.commit.author} on {f.commit.date[:10]}."
        if f.commits_count > 1:
            text += f" Seen in {f.commits_count} commits."
    return text + " Revoke and rotate it, then load it from a secret store."


def _result(
    f: Finding,
    *,
    rule_index: int,
    rule_controls: set[str],
    occurrence: int,
    mapping: ControlMapping,
    tax: _Taxonomies,
    prefix: str,
    base: Path | None,
    options: RenderOptions,
) -> dict[str, Any]:
    region: dict[str, Any] = {"startLine": max(1, f.line), "startColumn": max(1, f.column)}
    if f.end_line >= f.line:
        region["endLine"] = f.end_line
        if f.end_column >= 1 and (f.end_line > f.line or f.end_column > f.column):
            region["endColumn"] = f.end_column
    props: dict[str, Any] = {
        "nhi-id": f.nhi_id,
        "nhi-kind": f.nhi_kind.value,
        "provider": f.provider,
        "confidence": f.confidence.value,
        "controls": list(f.controls),
    }
    if f.public_id:
        props["public-id"] = f.public_id
    c = f.commit
    if c is not None:
        props.update(
            {"commit": c.sha, "author": c.author, "email": c.email, "first-seen": c.date, "commits-count": f.commits_count}
        )
    if f.repo is not None:
        props["repo"] = f.repo
    if options.show_secrets:
        props["secret"] = secret_text(f, True)
    result: dict[str, Any] = {
        "ruleId": f.rule_id,
        "ruleIndex": rule_index,
        "level": LEVEL[f.severity],
        "kind": "fail",
        "message": {"text": _message(f, mapping.kinds[f.nhi_kind].title, options)},
        "locations": [
            {"physicalLocation": {"artifactLocation": artifact_location(f.path, prefix, base), "region": region}}
        ],
        "partialFingerprints": {
            "primaryLocationLineHash": f"{f.fingerprint[:16]}:{occurrence}",
            "nhiscan/fingerprint/v1": f.fingerprint,
        },
        "properties": props,
    }
    extra = [c for c in f.controls if c not in rule_controls]
    if extra:
        result["taxa"] = [_iso_ref(c, mapping, tax) for c in sorted(extra, key=control_sort_key)]
    return result


def _notification(text: str, level: str, descriptor: str) -> dict[str, Any]:
    return {"message": {"text": text}, "level": level, "descriptor": {"id": descriptor}}


def build_sarif(
    report: ScanReport,
    ruleset: RuleSet,
    options: RenderOptions,
    *,
    mapping: ControlMapping | None = None,
    max_results: int = MAX_RESULTS,
) -> dict[str, Any]:
    """The SARIF log as a dict (``render_sarif`` serializes it)."""
    mapping = mapping or load_mapping()
    taxonomies, tax = _taxonomies(mapping)
    notes: list[dict[str, Any]] = []

    # Only the rules that have results: 450 rules with their help text would make every SARIF
    # file megabytes large (GitHub also caps a run at 25,000 rules).
    used = {f.rule_id for f in report.findings}
    rules = [r for r in ruleset.rules if r.id in used]
    known = {r.id for r in rules}
    for f in report.findings:
        if f.rule_id not in known:
            rules.append(_unknown_rule(f))
            known.add(f.rule_id)
    if len(rules) > MAX_RULES:
        notes.append(_notification(f"{len(rules) - MAX_RULES} rules were left out (GitHub's limit is {MAX_RULES:,} rules per run).", "warning", "rules-truncated"))
        rules = rules[:MAX_RULES]
    descriptors = []
    rule_index: dict[str, int] = {}
    rule_controls: dict[str, set[str]] = {}
    cut_tags = 0
    for i, r in enumerate(rules):
        d, cut = rule_descriptor(r, mapping, tax)
        descriptors.append(d)
        rule_index[r.id] = i
        rule_controls[r.id] = set(mapping.controls_for(r))
        cut_tags += 1 if cut else 0
    if cut_tags:
        notes.append(_notification(
            f"{cut_tags} rule(s) have more than {MAX_TAGS} tags (GitHub's limit): the tags were cut, "
            "lowest priority (ISO control tags) last; properties.iso27001 holds the full list.",
            "note", "tags-truncated"))

    findings = sorted(report.findings, key=_priority)
    total = len(findings)
    if total > max_results:
        findings = findings[:max_results]
        notes.append(_notification(
            f"{total - max_results} of {total} results were left out: GitHub code scanning accepts {max_results:,} "
            "results per run. The highest-severity results were kept; run with --format json for all of them.",
            "warning", "results-truncated"))

    base, prefix = _base(report)
    occurrences: dict[str, int] = {}

    def results_for(chosen: list[Finding]) -> list[dict[str, Any]]:
        occurrences.clear()
        out = []
        for f in sorted(chosen, key=lambda f: (f.path, f.line, f.column, f.rule_id)):
            n = occurrences[f.fingerprint] = occurrences.get(f.fingerprint, 0) + 1
            out.append(
                _result(f, rule_index=rule_index[f.rule_id], rule_controls=rule_controls[f.rule_id], occurrence=n,
                        mapping=mapping, tax=tax, prefix=prefix, base=base, options=options)
            )
        return out

    for err in report.errors[:MAX_NOTIFICATIONS]:
        notes.append({
            "message": {"text": f"{err.path}: could not be read: {err.message}"},
            "level": "error",
            "descriptor": {"id": "unreadable-input"},
            "locations": [{"physicalLocation": {"artifactLocation": artifact_location(err.path, prefix, base)}}],
        })
    for w in report.warnings[:MAX_NOTIFICATIONS]:
        notes.append(_notification(w, "warning", "scan-warning"))
    skipped = sum(report.stats.skipped.values())
    if skipped:
        notes.append(_notification(f"{skipped} input(s) skipped by policy (binary, too large, special files, ignored).", "note", "skipped-inputs"))

    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "nhiscan",
                "version": __version__,
                "semanticVersion": __version__,
                "rules": descriptors,
                "supportedTaxonomies": [
                    _component(ISO_TAXONOMY, mapping.taxonomy_guid, 0),
                    _component(CWE_TAXONOMY, mapping.cwe_guid, 1),
                    _component(OWASP_TAXONOMY, mapping.owasp_guid, 2),
                ],
            }
        },
        # No automationDetails: upload-sarif's ``category`` must decide, so that pull-request and
        # default-branch analyses land in one category and can be compared.
        "taxonomies": taxonomies,
        "columnKind": "unicodeCodePoints",
        "invocations": [],
        "results": results_for(findings),
        "properties": {
            "nhiscan": {
                "source": report.source_kind,
                "results-total": total,
                "files": report.stats.files,
                "commits": report.stats.commits,
                "mapping-version": mapping.version,
            }
        },
    }
    if base is not None:
        run["originalUriBaseIds"] = {SRCROOT: {"uri": base.resolve().as_uri().rstrip("/") + "/"}}
    if report.repository_uri:
        vcp: dict[str, Any] = {"repositoryUri": report.repository_uri}
        if report.head_commit:
            vcp["revisionId"] = report.head_commit
        if base is not None:
            vcp["mappedTo"] = {"uriBaseId": SRCROOT}
        run["versionControlProvenance"] = [vcp]
    elif report.head_commit:
        run["properties"]["nhiscan"]["head-commit"] = report.head_commit

    doc: dict[str, Any] = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}

    def finish() -> None:
        run["invocations"] = [{
            "executionSuccessful": not report.errors and not report.incomplete,
            "toolExecutionNotifications": notes,
        }]
        run["properties"]["nhiscan"]["results-written"] = len(run["results"])

    finish()
    # GitHub refuses uploads over 10 MB gzipped: drop the lowest-priority results until it fits.
    while len(findings) > 0 and len(gzip.compress(json.dumps(doc).encode(), 6)) > MAX_GZIP_BYTES:
        keep = int(len(findings) * 0.9)
        notes.append(_notification(
            f"the SARIF file exceeded GitHub's 10 MB (gzipped) limit: only the {keep} highest-severity results were kept.",
            "warning", "size-truncated"))
        findings = findings[:keep]
        run["results"] = results_for(findings)
        finish()
    return doc


def render_sarif(report: ScanReport, ruleset: RuleSet, options: RenderOptions) -> str:
    return json.dumps(build_sarif(report, ruleset, options), indent=2, ensure_ascii=False) + "\n"


__all__ = ["build_sarif", "render_sarif", "rule_tags"]

"""The versioned mapping data (``data/iso27001-2022.toml``), loaded once and passed around."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from nhiscan import tomlcompat
from nhiscan.model import NhiKind, Rule


@dataclass(frozen=True, kw_only=True)
class Control:
    id: str
    title: str
    iso2013: str
    summary: str


@dataclass(frozen=True, kw_only=True)
class KindMapping:
    kind: NhiKind
    title: str
    controls: tuple[str, ...]
    cwe: tuple[int, ...]
    owasp: tuple[str, ...]
    risk: str = ""
    """Why a leak of this kind matters (our words; used in SARIF help)."""
    remediation: str = ""
    """How to revoke and rotate a credential of this kind."""


@dataclass(frozen=True, kw_only=True)
class RuleOverride:
    """Per-rule refinements kept in the mapping data (``[rules."id"]``)."""

    controls: tuple[str, ...] = ()
    """Extra controls."""
    cwe: tuple[int, ...] | None = None
    """Replaces the CWE ids of the rule and its kind."""
    owasp: tuple[str, ...] | None = None
    """Replaces the OWASP NHI Top 10 items of the kind."""


@dataclass(frozen=True, kw_only=True)
class ControlMapping:
    version: int
    taxonomy_guid: str
    owasp_guid: str
    cwe_guid: str
    baseline: tuple[str, ...]
    history: tuple[str, ...]
    controls: dict[str, Control]
    kinds: dict[NhiKind, KindMapping]
    owasp: dict[str, str]
    cwe: dict[int, str]
    rules: dict[str, RuleOverride] = field(default_factory=dict)
    _controls: dict[tuple[str, NhiKind, tuple[str, ...], bool], tuple[str, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    """Memo of :meth:`controls_for` (a history sweep asks once per blob and placement), keyed by
    all the rule contributes, since rule sets with different rules under one id share it."""

    def controls_for(self, rule: Rule, *, from_history: bool = False) -> tuple[str, ...]:
        """Controls a finding of ``rule`` bears on, in Annex A order, without duplicates."""
        key = (rule.id, rule.nhi_kind, rule.controls, from_history)
        found = self._controls.get(key)
        if found is None:
            found = self._controls[key] = self._compute_controls(rule, from_history)
        return found

    def _compute_controls(self, rule: Rule, from_history: bool) -> tuple[str, ...]:
        override = self.rules.get(rule.id)
        ids = [*self.baseline, *self.kinds[rule.nhi_kind].controls, *rule.controls]
        if override is not None:
            ids.extend(override.controls)
        if from_history:
            ids.extend(self.history)
        return tuple(sorted(set(ids), key=control_sort_key))

    def cwe_for(self, rule: Rule) -> tuple[int, ...]:
        override = self.rules.get(rule.id)
        if override is not None and override.cwe is not None:
            return override.cwe
        return rule.cwe or self.kinds[rule.nhi_kind].cwe

    def owasp_for(self, rule: Rule) -> tuple[str, ...]:
        override = self.rules.get(rule.id)
        if override is not None and override.owasp is not None:
            return override.owasp
        return self.kinds[rule.nhi_kind].owasp


def control_sort_key(control_id: str) -> tuple[int, ...]:
    """``A.5.9`` < ``A.5.17`` < ``A.8.4``."""
    return tuple(int(p) for p in control_id.split(".")[1:] if p.isdigit())


@lru_cache(maxsize=1)
def load_mapping() -> ControlMapping:
    text = resources.files("nhiscan.mapping").joinpath("data/iso27001-2022.toml").read_text("utf-8")
    doc = tomlcompat.loads(text)
    controls = {
        cid: Control(id=cid, title=c["title"], iso2013=c["iso2013"], summary=c["summary"])
        for cid, c in doc["controls"].items()
    }
    kinds = {
        NhiKind(k): KindMapping(
            kind=NhiKind(k),
            title=v["title"],
            controls=tuple(v["controls"]),
            cwe=tuple(v["cwe"]),
            owasp=tuple(v["owasp"]),
            risk=v.get("risk", ""),
            remediation=v.get("remediation", ""),
        )
        for k, v in doc["kinds"].items()
    }
    overrides = {
        rid: RuleOverride(
            controls=tuple(v.get("controls", ())),
            cwe=tuple(v["cwe"]) if "cwe" in v else None,
            owasp=tuple(v["owasp"]) if "owasp" in v else None,
        )
        for rid, v in doc.get("rules", {}).items()
    }
    return ControlMapping(
        version=doc["version"],
        taxonomy_guid=doc["taxonomy_guid"],
        owasp_guid=doc["owasp_guid"],
        cwe_guid=doc["cwe_guid"],
        baseline=tuple(doc["baseline"]),
        history=tuple(doc["history"]),
        controls=controls,
        kinds=kinds,
        owasp=dict(doc["owasp"]),
        cwe={int(k): v for k, v in doc["cwe"].items()},
        rules=overrides,
    )

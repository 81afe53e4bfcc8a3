"""Register formats: one module per format; the registry maps each format to its renderer."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Callable

from nhiscan.inventory.model import Inventory, InventoryEntry
from nhiscan.mapping.controls import Control, ControlMapping, control_sort_key


class InventoryFormat(str, enum.Enum):
    JSON = "json"
    CSV = "csv"
    MARKDOWN = "markdown"
    HTML = "html"


InventoryRenderer = Callable[[Inventory, ControlMapping], str]


def inventory_renderer_for(fmt: InventoryFormat) -> InventoryRenderer:
    """The renderer of a register format. A test proves every member is handled."""
    if fmt is InventoryFormat.JSON:
        from nhiscan.inventory.render.json import render_inventory_json

        return render_inventory_json
    if fmt is InventoryFormat.CSV:
        from nhiscan.inventory.render.csv import render_inventory_csv

        return render_inventory_csv
    if fmt is InventoryFormat.MARKDOWN:
        from nhiscan.inventory.render.markdown import render_inventory_markdown

        return render_inventory_markdown
    if fmt is InventoryFormat.HTML:
        from nhiscan.inventory.render.html import render_inventory_html

        return render_inventory_html
    raise AssertionError(f"unhandled format {fmt}")


@dataclass(frozen=True, kw_only=True)
class ControlEvidence:
    """A control with the credentials that put it in question."""

    control: Control
    entries: tuple[InventoryEntry, ...]


def control_evidence(inventory: Inventory, mapping: ControlMapping) -> list[ControlEvidence]:
    """Controls with at least one entry against them, in Annex A order."""
    by_control: dict[str, list[InventoryEntry]] = {}
    for e in inventory.entries:
        for c in e.controls:
            by_control.setdefault(c, []).append(e)
    out = []
    for cid in sorted(by_control, key=control_sort_key):
        control = mapping.controls.get(cid) or Control(id=cid, title="", iso2013="", summary="")
        out.append(ControlEvidence(control=control, entries=tuple(by_control[cid])))
    return out


@dataclass(frozen=True, kw_only=True)
class Summary:
    credentials: int
    present: int
    historical: int
    unknown: int
    locations: int
    files: int
    providers: int
    unowned: int
    max_exposure_days: int | None
    expired_jwts: int


def summarize(inventory: Inventory) -> Summary:
    entries = inventory.entries
    exposures = [e.exposure_days for e in entries if e.exposure_days is not None]
    return Summary(
        credentials=len(entries),
        present=sum(1 for e in entries if e.present_at_head is True),
        historical=sum(1 for e in entries if e.present_at_head is False),
        unknown=sum(1 for e in entries if e.present_at_head is None),
        locations=sum(len(e.locations) for e in entries),
        files=len({(loc.repo, loc.path) for e in entries for loc in e.locations}),
        providers=len({e.provider for e in entries}),
        unowned=sum(1 for e in entries if not e.owner.owners),
        max_exposure_days=max(exposures) if exposures else None,
        expired_jwts=sum(1 for e in entries if isinstance(e.metadata.get("jwt"), dict) and e.metadata["jwt"].get("expired")),
    )


def location_text(path: str, line: int, commit: str | None, repo: str | None = None) -> str:
    where = f"{repo}:" if repo else ""
    at = f"@{commit[:12]}" if commit else ""
    return f"{where}{path}:{line}{at}"


def metadata_text(metadata: dict[str, object]) -> str:
    """``jwt.alg=HS256; jwt.iss=...; key.algorithm=RSA`` (flat, for tables)."""
    parts = []
    for group, values in metadata.items():
        if isinstance(values, dict):
            for k, v in values.items():
                if k in ("exp", "iat", "nbf") and f"{k}_iso" in values:
                    continue
                if isinstance(v, list):
                    v = ",".join(str(x) for x in v)
                parts.append(f"{group}.{k}={v}")
    return "; ".join(parts)

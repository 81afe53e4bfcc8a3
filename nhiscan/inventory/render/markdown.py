"""The register as Markdown: headline figures, the register table, the controls table."""

from __future__ import annotations

import re

from nhiscan.inventory.model import Inventory
from nhiscan.inventory.render import control_evidence, location_text, metadata_text, summarize
from nhiscan.mapping.controls import ControlMapping

_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|#!~])")
_MAX_LOCATIONS = 10


def md(text: object) -> str:
    """Inline text safe in a table cell: no pipes, no markup, no HTML, one line."""
    value = "" if text is None else str(text)
    value = re.sub(r"[\r\n\t]+", " ", value)
    return _SPECIAL.sub(r"\\\1", value)


def render_inventory_markdown(inv: Inventory, mapping: ControlMapping) -> str:
    s = summarize(inv)
    out: list[str] = ["# NHI register", ""]
    source = f"{md(inv.source_kind)} scan of `{inv.root.replace('`', '')}`"
    if inv.head_commit:
        source += f" at `{inv.head_commit[:12]}`"
    out += [f"Generated {md(inv.generated)} from a {source}.", ""]
    out += [
        "| credentials | present at HEAD | historical only | locations | files | providers | unowned | longest exposure (days) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {s.credentials} | {s.present} | {s.historical} | {s.locations} | {s.files} | {s.providers} | {s.unowned} | {'' if s.max_exposure_days is None else s.max_exposure_days} |",
        "",
        "## Register",
        "",
        "| id | kind | provider | rule | secret | at HEAD | locations | first seen | removed in | exposure (days) | owner | reuse | metadata | controls | status |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | ---: | --- | ---: | --- | --- | --- |",
    ]
    for e in inv.entries:
        locs = [location_text(loc.path, loc.line, loc.commit.commit if loc.commit else None, loc.repo) for loc in e.locations]
        if len(locs) > _MAX_LOCATIONS:
            locs = locs[:_MAX_LOCATIONS] + [f"… {len(e.locations) - _MAX_LOCATIONS} more"]
        first = f"{e.first_seen.commit[:12]} {e.first_seen.date[:10]} {e.first_seen.author}" if e.first_seen else ""
        removed = f"{e.removed_in.commit[:12]} {e.removed_in.date[:10]}" if e.removed_in else ""
        present = "unknown" if e.present_at_head is None else ("yes" if e.present_at_head else "no")
        cells = [
            e.id, e.kind_title, e.provider, e.rule_id, e.secret, present, "<br>".join(md(x) for x in locs), first,
            removed, "" if e.exposure_days is None else e.exposure_days, e.owner.text, e.reuse_count,
            metadata_text(e.metadata), " ".join(e.controls), e.status,
        ]
        out.append("| " + " | ".join(str(c) if i == 6 else md(c) for i, c in enumerate(cells)) + " |")
    out += [
        "",
        "## ISO/IEC 27001:2022 Annex A controls with evidence",
        "",
        "| control | title | 2013 | credentials | where |",
        "| --- | --- | --- | ---: | --- |",
    ]
    for ev in control_evidence(inv, mapping):
        where = sorted({loc.path for e in ev.entries for loc in e.locations[:1]})
        shown = ", ".join(where[:5]) + (f", … {len(where) - 5} more" if len(where) > 5 else "")
        out.append(
            f"| {md(ev.control.id)} | {md(ev.control.title)} | {md(ev.control.iso2013)} | {len(ev.entries)} | {md(shown)} |"
        )
    out += ["", "People fill in: " + md(", ".join(
        ("purpose", "consuming systems", "business owner", "privilege scope", "supplier/contract",
         "rotation policy", "rotation due", "vault path", "ticket", "review date"))) + " (JSON and CSV carry the columns).", ""]
    for w in inv.warnings:
        out.append(f"> warning: {md(w)}")
    return "\n".join(out).rstrip("\n") + "\n"

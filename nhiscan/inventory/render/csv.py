"""The register as CSV: one row per credential, locations joined in one cell.

Spreadsheets execute cells that start with ``=``, ``+``, ``-``, ``@`` (and tab or carriage
return): such cells get a leading ``'`` so a hostile path or committer name stays text. The
file starts with a UTF-8 byte-order mark so Excel reads non-ASCII names right.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from nhiscan.inventory.model import PEOPLE_FIELDS, Inventory, InventoryEntry, Seen
from nhiscan.inventory.render import location_text, metadata_text
from nhiscan.mapping.controls import ControlMapping

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")

COLUMNS: tuple[str, ...] = (
    "id", "status", "kind", "provider", "rule_id", "severity", "confidence", "secret",
    "secret_sha256", "public_id", "present_at_head", "locations", "location_count", "head_paths",
    "first_seen_commit", "first_seen_date", "first_seen_author",
    "last_seen_commit", "last_seen_date", "last_seen_author",
    "removed_in_commit", "removed_in_date", "removed_in_author",
    "age_days", "exposure_days", "committers", "owner", "owner_source", "reuse_count",
    "environments", "metadata", "controls", "cwe", "owasp_nhi", *PEOPLE_FIELDS,
)


def safe_cell(value: Any) -> str:
    """Text a spreadsheet shows as text, never evaluates."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    stripped = text.lstrip(" ")
    if stripped.startswith(_FORMULA_START):
        return "'" + text
    return text


def _seen(seen: Seen | None) -> list[str]:
    return [seen.commit, seen.date, seen.author] if seen else ["", "", ""]


def row(e: InventoryEntry) -> list[str]:
    values: list[Any] = [
        e.id, e.status, e.kind.value, e.provider, e.rule_id, e.severity.value, e.confidence.value,
        e.secret, e.secret_sha256, e.public_id,
        "unknown" if e.present_at_head is None else e.present_at_head,
        "; ".join(location_text(loc.path, loc.line, loc.commit.commit if loc.commit else None, loc.repo) for loc in e.locations),
        len(e.locations),
        "; ".join(e.head_paths),
        *_seen(e.first_seen), *_seen(e.last_seen), *_seen(e.removed_in),
        e.age_days, e.exposure_days, "; ".join(e.committers), e.owner.text, e.owner.source,
        e.reuse_count, "; ".join(e.environments), metadata_text(e.metadata),
        " ".join(e.controls), " ".join(f"CWE-{c}" for c in e.cwe), " ".join(e.owasp),
        *(e.people.get(k, "") for k in PEOPLE_FIELDS),
    ]
    return [safe_cell(v) for v in values]


def render_inventory_csv(inv: Inventory, mapping: ControlMapping) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(COLUMNS)
    for e in inv.entries:
        writer.writerow(row(e))
    return "\ufeff" + buf.getvalue()

"""The register as JSON: ``{"version": 1, "tool": {...}, "entries": [...]}``."""

from __future__ import annotations

import json
from typing import Any

from nhiscan import __version__
from nhiscan.inventory.model import Inventory, InventoryEntry, Seen
from nhiscan.inventory.render import control_evidence, summarize
from nhiscan.mapping.controls import ControlMapping


def seen_dict(seen: Seen | None) -> dict[str, str] | None:
    if seen is None:
        return None
    return {"commit": seen.commit, "date": seen.date, "author": seen.author, "email": seen.email}


def entry_dict(e: InventoryEntry) -> dict[str, Any]:
    return {
        "id": e.id,
        "kind": e.kind.value,
        "kind_title": e.kind_title,
        "provider": e.provider,
        "rule_id": e.rule_id,
        "rule_name": e.rule_name,
        "rule_ids": list(e.rule_ids),
        "severity": e.severity.value,
        "confidence": e.confidence.value,
        "secret": e.secret,
        "secret_sha256": e.secret_sha256,
        "public_id": e.public_id,
        "locations": [
            {
                "path": loc.path,
                "line": loc.line,
                "column": loc.column,
                "rule_id": loc.rule_id,
                "commit": loc.commit.commit if loc.commit else None,
                "date": loc.commit.date if loc.commit else None,
                "author": loc.commit.author if loc.commit else None,
                **({"repo": loc.repo} if loc.repo else {}),
            }
            for loc in e.locations
        ],
        "present_at_head": e.present_at_head,
        "head_paths": list(e.head_paths),
        "first_seen": seen_dict(e.first_seen),
        "last_seen": seen_dict(e.last_seen),
        "removed_in": seen_dict(e.removed_in),
        "age_days": e.age_days,
        "exposure_days": e.exposure_days,
        "committers": list(e.committers),
        "owner": e.owner.text,
        "owners": list(e.owner.owners),
        "owner_source": e.owner.source,
        "owner_detail": e.owner.detail,
        "reuse_count": e.reuse_count,
        "environments": list(e.environments),
        "metadata": e.metadata,
        "controls": list(e.controls),
        "cwe": list(e.cwe),
        "owasp_nhi": list(e.owasp),
        "status": e.status,
        **e.people,
    }


def inventory_dict(inv: Inventory, mapping: ControlMapping) -> dict[str, Any]:
    s = summarize(inv)
    return {
        "version": 1,
        "tool": {"name": "nhiscan", "version": __version__},
        "generated": inv.generated,
        "source": inv.source_kind,
        "root": inv.root,
        "head_commit": inv.head_commit,
        "repository_uri": inv.repository_uri,
        "codeowners": inv.codeowners_file,
        "mapping_version": mapping.version,
        "summary": {
            "credentials": s.credentials,
            "present_at_head": s.present,
            "historical_only": s.historical,
            "presence_unknown": s.unknown,
            "locations": s.locations,
            "files": s.files,
            "providers": s.providers,
            "unowned": s.unowned,
            "max_exposure_days": s.max_exposure_days,
        },
        "entries": [entry_dict(e) for e in inv.entries],
        "controls": [
            {
                "id": ev.control.id,
                "title": ev.control.title,
                "iso2013": ev.control.iso2013,
                "entries": [e.id for e in ev.entries],
            }
            for ev in control_evidence(inv, mapping)
        ],
        "warnings": list(inv.warnings),
    }


def render_inventory_json(inv: Inventory, mapping: ControlMapping) -> str:
    return json.dumps(inventory_dict(inv, mapping), indent=2, ensure_ascii=False) + "\n"

"""The NHI register: one entry per distinct credential, built from findings.

Flow: findings (a scan just run, or a JSON report read back) -> :class:`Sighting` (the raw
secret dropped, its in-band metadata kept) -> grouped by ``nhi_id`` -> :class:`InventoryEntry`
with git evidence (present at HEAD, removed in, blame), a CODEOWNERS owner and the mapped
controls -> a renderer (``render/``: json, csv, markdown, html).
"""

from nhiscan.inventory.model import PEOPLE_FIELDS, Inventory, InventoryEntry, Location, Owner, Seen, Sighting

__all__ = ["PEOPLE_FIELDS", "Inventory", "InventoryEntry", "Location", "Owner", "Seen", "Sighting"]

"""The NHI register's data: frozen, keyword-only, and never holding a raw secret."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nhiscan.model import CommitInfo, Confidence, NhiKind, Severity

# Columns people fill in after the scan (NHI-ISO.md, "People fill"). The scanner writes them
# empty, and carries them over from a previous register with ``--previous``.
PEOPLE_FIELDS: tuple[str, ...] = (
    "purpose",
    "consuming_systems",
    "business_owner",
    "privilege_scope",
    "supplier_contract",
    "rotation_policy",
    "rotation_due",
    "vault_path",
    "ticket",
    "review_date",
)

STATUSES: tuple[str, ...] = ("open", "accepted", "rotated")
"""``open`` is what the scanner writes; people move an entry to ``accepted`` or ``rotated``."""


@dataclass(frozen=True, kw_only=True)
class Sighting:
    """One finding, reduced to what the register may keep (no raw secret)."""

    rule_id: str
    rule_name: str
    severity: Severity
    confidence: Confidence
    path: str
    """Relative to the repository root when one is known, '/'-separated."""
    line: int
    column: int
    preview: str
    secret_sha256: str
    nhi_id: str
    kind: NhiKind
    provider: str
    controls: tuple[str, ...]
    commit: CommitInfo | None = None
    commit_source: str = ""
    """``history`` (from a history scan) or ``blame`` (the line's last change, for files)."""
    public_id: str | None = None
    repo: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Seen:
    """A commit as evidence: when, by whom."""

    commit: str
    date: str
    author: str
    email: str = ""

    @classmethod
    def of(cls, info: CommitInfo) -> Seen:
        return cls(commit=info.sha, date=info.date, author=info.author, email=info.email)


@dataclass(frozen=True, kw_only=True)
class Location:
    path: str
    line: int
    column: int
    rule_id: str
    commit: Seen | None = None
    repo: str | None = None


@dataclass(frozen=True, kw_only=True)
class Owner:
    owners: tuple[str, ...]
    """CODEOWNERS owners (``@org/team``, ``@user``, emails) or the introducing author."""
    source: str
    """``codeowners``, ``codeowners-unowned`` (a rule with no owners), ``author`` or ``none``."""
    detail: str = ""
    """Where it came from: ``.github/CODEOWNERS:12 (/src/)`` or ``introduced in <sha>``."""

    @property
    def text(self) -> str:
        return " ".join(self.owners)


@dataclass(frozen=True, kw_only=True)
class InventoryEntry:
    """One distinct credential (one non-human identity's secret) with all its places."""

    id: str
    kind: NhiKind
    kind_title: str
    provider: str
    rule_id: str
    rule_name: str
    rule_ids: tuple[str, ...]
    severity: Severity
    confidence: Confidence
    secret: str
    """Redacted preview only."""
    secret_sha256: str
    public_id: str | None
    locations: tuple[Location, ...]
    head_paths: tuple[str, ...]
    """Where the credential is at HEAD (may differ from ``locations`` after a rename)."""
    present_at_head: bool | None
    """None when it cannot be known (a report read back without its repository)."""
    first_seen: Seen | None
    last_seen: Seen | None
    removed_in: Seen | None
    age_days: int | None
    exposure_days: int | None
    committers: tuple[str, ...]
    owner: Owner
    reuse_count: int
    """Distinct files (per repository) holding the credential."""
    environments: tuple[str, ...]
    metadata: dict[str, Any]
    controls: tuple[str, ...]
    cwe: tuple[int, ...]
    owasp: tuple[str, ...]
    status: str = "open"
    people: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Inventory:
    entries: tuple[InventoryEntry, ...]
    source_kind: str
    """``files``, ``git``, ``staged`` or ``report`` (read back with ``--from``)."""
    root: str
    generated: str
    """ISO 8601 time the register was built (ages are counted to it)."""
    head_commit: str | None = None
    repository_uri: str | None = None
    codeowners_file: str | None = None
    warnings: tuple[str, ...] = ()

"""Frozen, keyword-only data types shared by every layer. Imports nothing of ours."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Iterable


class Severity(str, enum.Enum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3, Severity.CRITICAL: 4}


class Confidence(str, enum.Enum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        return {"low": 1, "medium": 2, "high": 3}[self.value]


class NhiKind(str, enum.Enum):
    """The kinds of non-human identity a credential belongs to (see NHI-ISO.md)."""

    CLOUD_ACCESS_KEY = "cloud-access-key"
    CLOUD_SERVICE_ACCOUNT_KEY = "cloud-service-account-key"
    SOURCE_CONTROL_TOKEN = "source-control-token"
    CI_CD_TOKEN = "ci-cd-token"
    SAAS_API_KEY = "saas-api-key"
    DATABASE_CREDENTIAL = "database-credential"
    PRIVATE_KEY = "private-key"
    SIGNING_KEY = "signing-key"
    OAUTH_CLIENT_SECRET = "oauth-client-secret"
    WEBHOOK_URL = "webhook-url"
    GENERIC_CREDENTIAL = "generic-credential"


@dataclass(frozen=True, kw_only=True)
class Rule:
    """One detector, as loaded from a rule pack."""

    id: str
    """Stable kebab-case identifier, unique across all loaded packs."""
    name: str
    """Human name of the credential, e.g. "GitHub personal access token (classic)"."""
    provider: str
    """The issuer of the credential."""
    nhi_kind: NhiKind
    severity: Severity
    confidence: Confidence
    keywords: tuple[str, ...]
    """Lower-case literals; at least one occurs inside every match."""
    regex: str
    """Confirmation regex, compiled as a bytes pattern."""
    secret_group: int | str
    """Group holding the secret (0 = whole match)."""
    min_entropy: float | None = None
    checksum: str | None = None
    """Name of a validator in ``nhiscan.engine.validators.VALIDATORS``."""
    multiline: bool = False
    value_check: bool = False
    """Apply the generic-value heuristics (reject code references and dummies)."""
    public_group: str | int | None = None
    """Group holding a public identifier of the credential (AWS key id, client_email)."""
    allow_regexes: tuple[str, ...] = ()
    """A secret matching one of these is not reported."""
    allow_match_regexes: tuple[str, ...] = ()
    """A match whose line, from its start to the match's end, matches one of these is not
    reported: for names that say the value is no credential (``NextToken``)."""
    controls: tuple[str, ...] = ()
    cwe: tuple[int, ...] = ()
    description: str = ""
    references: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    priority: int = 0
    """Overlap tie-break: a container format (a JWT, an .npmrc line, a database URL) sets -1 so
    that a provider-specific rule matching the same value wins."""
    examples: tuple[str, ...] = ()
    negative_examples: tuple[str, ...] = ()
    source: str = ""
    """The pack file this rule came from (for error messages)."""


@dataclass(frozen=True, kw_only=True)
class Match:
    """A confirmed secret inside one blob of bytes, before any source context is added."""

    rule_id: str
    start: int
    """Byte offset of the secret in the scanned bytes."""
    end: int
    line: int
    """1-based line where the secret starts."""
    column: int
    """1-based column (Unicode code points) where the secret starts."""
    end_line: int
    end_column: int
    """1-based column just past the secret's last character."""
    secret: bytes = field(repr=False)
    """The raw secret. Never rendered unless the user asked with --show-secrets."""
    entropy: float
    public_id: str | None = None
    line_text: bytes = field(default=b"", repr=False)
    """The line(s) the secret is on (for inline allow directives); never rendered."""


@dataclass(frozen=True, kw_only=True)
class CommitInfo:
    """The commit that introduced a blob or line."""

    sha: str
    author: str
    email: str
    date: str
    """ISO 8601 author date."""


@dataclass(frozen=True, kw_only=True)
class Finding:
    """A match placed in its source, with identity and mapping attached."""

    rule_id: str
    rule_name: str
    severity: Severity
    confidence: Confidence
    path: str
    """Relative to the scanned root, '/'-separated."""
    line: int
    column: int
    end_line: int
    end_column: int
    secret: bytes = field(repr=False)
    secret_sha256: str
    fingerprint: str
    """sha256 of rule, path and secret hash: survives line moves."""
    preview: str
    """Redacted preview of the secret."""
    entropy: float
    nhi_id: str
    nhi_kind: NhiKind
    provider: str
    controls: tuple[str, ...]
    commit: CommitInfo | None = None
    commits_count: int = 0
    """For history scans: in how many commits the secret was seen at this path."""
    public_id: str | None = None
    repo: str | None = None


@dataclass(frozen=True, kw_only=True)
class Skipped:
    """An input not scanned by policy (binary, too large, special file, ...)."""

    path: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class ReadError:
    """An input that could not be read: makes the exit code 2."""

    path: str
    message: str


@dataclass(kw_only=True)
class Stats:
    """Counters for a whole scan (mutable while the scan runs)."""

    files: int = 0
    bytes: int = 0
    seconds: float = 0.0
    skipped: dict[str, int] = field(default_factory=dict)
    errors: int = 0
    timeouts: int = 0
    commits: int = 0
    blobs: int = 0
    allowed: int = 0
    baselined: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    """Counters of one kind of run, reported as they are (a sweep: engine, workers, repositories)."""

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


@dataclass(kw_only=True)
class ScanReport:
    """Everything a reporter needs to render one scan."""

    findings: list[Finding]
    stats: Stats
    skipped: list[Skipped] = field(default_factory=list)
    errors: list[ReadError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    source_kind: str = "files"
    """``files``, ``staged`` or ``git``."""
    root: str = "."
    head_commit: str | None = None
    repository_uri: str | None = None
    incomplete: bool = False


@dataclass(frozen=True)
class RuleSet:
    """The rules in force for one scan, in a stable order."""

    rules: tuple[Rule, ...]

    @cached_property
    def by_id(self) -> dict[str, Rule]:
        return {r.id: r for r in self.rules}

    @cached_property
    def digest(self) -> str:
        """Hash of everything that affects matching: keys the compiled-database cache."""
        from nhiscan.cache import cache_key

        return cache_key(*(f"{r.id}\0{r.regex}\0{int(r.multiline)}\0{','.join(r.keywords)}" for r in self.rules))

    def without(self, ids: Iterable[str]) -> RuleSet:
        drop = set(ids)
        return RuleSet(tuple(r for r in self.rules if r.id not in drop))

    def __len__(self) -> int:
        return len(self.rules)

"""Identity of a finding and of the credential behind it. Never stores the secret itself."""

from __future__ import annotations

import hashlib

from nhiscan.mapping.controls import ControlMapping
from nhiscan.model import CommitInfo, Confidence, Finding, Match, Rule


def sha256_hex(value: bytes) -> str:
    return hashlib.sha256(value).hexdigest()


def redact(secret: bytes, rule: Rule) -> str:
    """A preview that identifies the kind but not the value: ``ghp_…(40 chars)``.

    Only a literal prefix the rule's keywords already disclose is shown (``ghp_``,
    ``-----BEGIN RSA PRIVATE KEY-----``); nothing of the random part.
    """
    text = secret.decode("utf-8", "replace")
    lowered = text.lower()
    prefix = ""
    if not rule.value_check:
        for kw in rule.keywords:
            # A token prefix (``ghp_``, ``sk-ant-``, ``-----BEGIN``) carries punctuation; a
            # word such as ``pass`` or ``key`` at the start of a value is part of the secret.
            if (
                lowered.startswith(kw)
                and any(not c.isalnum() for c in kw)
                and len(kw) > len(prefix)
                and len(kw) < len(text) // 2 + 1
            ):
                prefix = text[: len(kw)]
    prefix = prefix.split("\n", 1)[0]
    return f"{prefix}…({len(text)} chars)"


def public_preview(public_id: str) -> str:
    """Non-secret context is shown (a service account's ``client_email``); an identifier that
    is half of a key pair (an AWS access key id) is redacted like a secret."""
    if "@" in public_id:
        return public_id
    return f"{public_id[:4]}…({len(public_id)} chars)"


def fingerprint(rule_id: str, path: str, secret_sha256: str) -> str:
    """Survives line moves and reformatting: rule, path and secret only."""
    return hashlib.sha256(f"{rule_id}\0{path}\0{secret_sha256}".encode()).hexdigest()


def nhi_id(rule: Rule, secret_sha256: str, public_id: str | None) -> str:
    """One id per credential: from its public part where it has one, else its hash."""
    basis = f"public\0{rule.provider}\0{public_id}" if public_id else f"secret\0{secret_sha256}"
    return "nhi-" + hashlib.sha256(basis.encode()).hexdigest()[:16]


def make_finding(
    match: Match,
    rule: Rule,
    *,
    path: str,
    mapping: ControlMapping,
    commit: CommitInfo | None = None,
    from_history: bool = False,
    commits_count: int = 0,
    repo: str | None = None,
    confidence: Confidence | None = None,
) -> Finding:
    digest = sha256_hex(match.secret)
    return Finding(
        rule_id=rule.id,
        rule_name=rule.name,
        severity=rule.severity,
        confidence=confidence if confidence is not None else rule.confidence,
        path=path,
        line=match.line,
        column=match.column,
        end_line=match.end_line,
        end_column=match.end_column,
        secret=match.secret,
        secret_sha256=digest,
        fingerprint=fingerprint(rule.id, path, digest),
        preview=redact(match.secret, rule),
        entropy=match.entropy,
        nhi_id=nhi_id(rule, digest, match.public_id),
        nhi_kind=rule.nhi_kind,
        provider=rule.provider,
        controls=mapping.controls_for(rule, from_history=from_history),
        commit=commit,
        commits_count=commits_count,
        public_id=public_preview(match.public_id) if match.public_id else None,
        repo=repo,
    )

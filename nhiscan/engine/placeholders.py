"""Values that look like secrets to a regex but are placeholders, references or dummies."""

from __future__ import annotations

import regex

# Placeholders and documentation values, rejected for every rule.
_PLACEHOLDER = regex.compile(
    rb"""(?ix)
    EXAMPLE                                  # AWS documentation keys and their kin
    | x{5,} | \*{3,} | \.{3,} | \#{4,} | _{4,}
    | \$\{ | \{\{ | \}\} | %\( | \$\( | ^< | >$ | ^\$[A-Za-z_]
    | change[_-]?me | replace[_-]?me | your[_-]?(?:api[_-]?)?(?:key|token|secret|password)
    | placeholder | redacted | dummy | insert[_-]?(?:key|token|here) | \bfixme\b | \btodo\b
    """
)

# For generic (credential-named assignment) rules: values that are code, not secrets.
_CODE_REFERENCE = regex.compile(
    rb"""(?x)
    ^(?:true|false|null|none|nil|undefined|yes|no|on|off)$
    | ^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+$    # attribute paths: self.password
    | ^[A-Za-z_][A-Za-z0-9_]*\(                                 # calls: get_secret(
    | ^(?:os\.|process\.env|env\.|ENV\[|getenv|secrets\.|vars\.|var\.|config\.|settings\.)
    | ^[A-Z][A-Z0-9_]{2,}$                                      # CONSTANT_NAMES
    | ^[a-z][a-z0-9]*(?:[_-][a-z0-9]+)+$                         # snake_case and kebab-case words
    | ^(?:[a-z]+[A-Z][a-z]+)+[A-Za-z]*$                         # camelCase words
    | ^\. | ^/ | ^~/ | \.(?:json|ya?ml|toml|ini|txt|pem|key|crt|env|py|js)$   # file paths
    | ^https?://                                                # plain URLs
    | ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$  # UUIDs (ids, not secrets)
    | ^(?:sha\d+|md5)[-:]                                       # digests with algorithm tag
    """
)

_DUMMY_WORDS = regex.compile(
    rb"(?i)(?:password|passwd|secret|token|example|sample|test|fake|mock|default|12345|abcdef|qwerty|letmein|admin)"
)


def is_placeholder(secret: bytes) -> bool:
    """True for template variables, masked values and documentation keys."""
    if len(set(secret)) <= 2:
        return True
    return _PLACEHOLDER.search(secret) is not None


def is_code_or_dummy(secret: bytes) -> bool:
    """True for values of credential-named assignments that are not literal secrets."""
    if _CODE_REFERENCE.search(secret) is not None:
        return True
    if _DUMMY_WORDS.search(secret) is not None:
        return True
    # A literal secret mixes character classes; a single class of letters is a word.
    classes = sum(
        (
            any(0x30 <= c <= 0x39 for c in secret),
            any(0x41 <= c <= 0x5A for c in secret),
            any(0x61 <= c <= 0x7A for c in secret),
            any(not (0x30 <= c <= 0x39 or 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A) for c in secret),
        )
    )
    return classes < 2

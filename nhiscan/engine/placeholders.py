"""Values that look like secrets to a regex but are placeholders, references or dummies.

Two levels:

* :func:`is_placeholder` runs for every rule: template variables, masks, documentation keys,
  format strings and sequential runs (``abcdefg``, ``1234567``) are never credentials.
* :func:`is_code_or_dummy` runs for generic rules (credential-named assignments), whose value
  may be any string: identifiers and attribute paths, calls, file paths, e-mail addresses,
  password *hashes* (verifiers, not credentials), words and dictionary passwords.

The heuristics are checked against real code in ``benchmarks/precision.md``; each false-positive
class found there has a negative example in ``rules/generic.toml``.
"""

from __future__ import annotations

import base64
import binascii


from nhiscan.engine.lazyre import lazy

# Placeholders and documentation values, rejected for every rule.
_PLACEHOLDER = lazy(
    rb"""(?ix)
    EXAMPLE                                  # AWS documentation keys and their kin
    | x{5,} | \*{3,} | \.{3,} | \#{4,} | _{4,}
    | \$\{ | \{\{ | \}\} | %\( | \$\( | ^< | >$ | ^\$[A-Za-z_]
    | (?-i:%[sdr]$|^%[sdr][^A-Za-z0-9]) | \{[0-9]?\}$   # printf / format slots at an edge
    | <%=? | \#\{                            # ERB / Ruby interpolation
    | change[_-]?me | replace[_-]?me | your[_-]?(?:api[_-]?)?(?:key|token|secret|password)
    | place[_-]?holder | redacted | dummy | insert[_-]?(?:key|token|here) | \bfixme\b | \btodo\b
    """
)

# Ascending runs: "abcdefg", "0123456", "ghijklm". A random token of 40 base62 characters holds
# a 7-long ascending run with probability ~1e-9 (hex: ~2e-6), so dropping them costs nothing.
_SEQUENCE_RUN = 7


def _has_sequence(secret: bytes, run: int) -> bool:
    count = 1
    prev = -2
    for c in secret:
        if c == prev + 1 and (0x30 <= c <= 0x39 or 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A):
            count += 1
            if count >= run:
                return True
        else:
            count = 1
        prev = c
    return False


# For generic (credential-named assignment) rules: values that are code, not secrets.
_CODE_REFERENCE = lazy(
    rb"""(?x)
    ^(?:true|false|null|none|nil|undefined|yes|no|on|off)$
    | ^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+$    # attribute paths: self.password
    | ^[A-Za-z_][A-Za-z0-9_]*\(                                 # calls: get_secret(
    | ^(?:os\.|process\.env|env\.|ENV\[|getenv|secrets\.|vars\.|var\.|config\.|settings\.)
    | ^[A-Z][A-Z0-9_]{2,}$                                      # CONSTANT_NAMES
    | ^[-_]*[a-z][a-z0-9]*(?:[_-]+[a-z0-9]+)+[-_]*$             # snake_case, kebab-case, --flags
    | ^(?:[a-z]+[A-Z][a-z]+)+[A-Za-z]*$                         # camelCase words
    | ^\. | ^/ | ^~/ | \.(?:json|ya?ml|toml|ini|txt|pem|key|crt|env|py|js)$   # file paths
    | ^https?://                                                # plain URLs
    | ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$  # UUIDs (ids, not secrets)
    | ^(?:sha\d+|md5)[-:]                                       # digests with algorithm tag
    | ^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}$  # e-mail
    | ^\d{4}-\d{2}-\d{2}(?:[T\x20]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$  # timestamps
    | ^[^/%]{1,128}(?:/|%2F)\d{8}(?:/|%2F)                          # AWS SigV4 credential scope
    """
)

# Password hashes: a verifier, not the credential (crypt(3) "$id$", Django "algo$", LDAP
# "{SCHEME}"). htpasswd-style files have their own rule (htpasswd-hash).
_PASSWORD_HASH = lazy(
    rb"""(?x)
    ^\$(?:1|2[abxy]?|5|6|7|y|gy|md5|sha1|sha256|sha512|apr1|argon2(?:id|i|d)|scrypt|pbkdf2(?:-sha\d{1,3})?)\$
    | ^(?:pbkdf2_sha(?:1|256|512)|bcrypt(?:_sha256)?|argon2|scrypt|unsalted_(?:md5|sha1)|sha1|md5|crypt)\$
    | ^\{(?:S?SHA(?:256|384|512)?|S?MD5|CRYPT|PBKDF2(?:-SHA\d{1,3})?|ARGON2|BCRYPT)\}
    """
)

_BASE64 = lazy(rb"^(?:[A-Za-z0-9+/]{4,}|[A-Za-z0-9_-]{4,})={0,2}$")

_DUMMY_WORDS = lazy(
    rb"""(?ix)
    password|passwd|secret|token|example|sample|test|fake|mock|default|12345|abcdef|qwerty|letmein|admin
    | p[a@4][s$5][s$5]w[o0]r?d | [s5$][e3][ck]r[e3][t7]        # leetspeak: Pa$$word, S3cr3t, 53cr37
    """
)

# Identifier and word tokens: acronyms before a Capitalized word (XRegExp, IDisposable),
# words (lower or Capitalized), CONSTANT words, digit runs and separators.
_WORD_TOKEN = lazy(rb"[A-Z]{1,6}(?=[A-Z][a-z]{2})|[A-Z]?[a-z]+|[A-Z]+|[0-9]+|[_.$:/@+-]+")

# How common each letter pair is inside words, from English prose and Python identifiers
# (Django's docs and sources, SQLAlchemy's library; `python benchmarks/precision.py bigrams`
# regenerates it): level = floor(2 * log10(frequency) + 12), clamped to 0..9, so 8 is ~1% of
# all pairs, 6 is 0.1%, 4 is 0.01% and 0 never or almost never occurs. Row = first letter.
_BIGRAM_LEVELS = (
    "27772561625878062778664554"  # a
    "62446210562732623443601050"  # b
    "72527307606731831657631240"  # c
    "76368341760553641563531340"  # d
    "74776764523878566888366763"  # e
    "61326520703524711645601040"  # f
    "51247345600435610664510032"  # g
    "70018001600333630446400030"  # h
    "66767760214778754677260505"  # i
    "60006000200000500040400000"  # j
    "33226220511323210353515010"  # k
    "74578733713723740476743061"  # l
    "75328211601556770364520050"  # m
    "73777574634536741377551160"  # n
    "56675652645778673867766432"  # o
    "72357244604732761756521050"  # p
    "30000000000611000130600000"  # q
    "74568563724567740677654060"  # r
    "61638446714544666478625051"  # s
    "73548448800553751777724373"  # t
    "55557450500766460777310100"  # u
    "70107020600000400022210000"  # v
    "61326126603204510552014000"  # w
    "50525111500130260026010240"  # x
    "33414230420445660355034022"  # y
    "40005001300012400000000042"  # z
)
_WORD_SCORE = 5.5
"""Mean pair level above which letters read as words: 93% of the identifiers of ansible-core's
library (not used to build the table) score above it, random tokens of 12+ characters less
than 0.2% of the time once the token structure is also required."""


# Capitalized words run together and ending in a number: how people build passwords.
_PASCAL_NUMBER = lazy(rb"^(?:[A-Z][a-z]+){2,}[0-9]{2,}$")


def _pair_levels(words: list[bytes]) -> list[int]:
    out = []
    for w in words:
        for a, b in zip(w, w[1:]):
            out.append(ord(_BIGRAM_LEVELS[(a - 0x61) * 26 + (b - 0x61)]) - 0x30)
    return out


def is_wordish(secret: bytes) -> bool:
    """Identifiers and phrases made of words: ``SimpleLazyObject``, ``_get_new_csrf_string``,
    ``Get-AnsibleParam``, ``ActiveDirectoryIntegrated``, ``apples/oranges``.

    Random tokens split into many one- and two-letter pieces, carry many digits, and their
    letter pairs are rare in words; identifiers are words. One word with a number
    (``Sunshine2024``) is how people make passwords, so it is not wordish. A passphrase of
    several plain words without symbols is dropped: for a generic rule that is the price of
    staying quiet on identifiers.
    """
    if len(secret) > 64:
        return False
    tokens = _WORD_TOKEN.findall(secret)
    if sum(len(t) for t in tokens) != len(secret):
        return False  # characters other than letters, digits and identifier separators
    letters: list[bytes] = []
    words = shorts = digit_runs = digits = 0
    for t in tokens:
        first = t[0]
        if 0x30 <= first <= 0x39:
            digit_runs += 1
            digits += len(t)
            continue
        if not (0x41 <= first <= 0x5A or 0x61 <= first <= 0x7A):
            continue  # separator
        letters.append(t.lower())
        if len(t) <= 2:
            shorts += 1
        else:
            words += 1
    if not (words >= 1 and shorts <= max(1, words // 2) and digit_runs <= 2 and digits <= 3):
        return False
    if digits and (len(letters) == 1 or (_PASCAL_NUMBER.match(secret) is not None)):
        return False  # words and a number: Sunshine2024, ShadowRocket84 are passwords
    levels = _pair_levels(letters)
    if not levels:
        return False
    rare = sum(1 for v in levels if v <= 1)
    return sum(levels) >= _WORD_SCORE * len(levels) and rare * 10 <= len(levels)


def is_placeholder(secret: bytes) -> bool:
    """True for template variables, masked values, format slots and documentation keys."""
    if len(set(secret)) <= 2:
        return True
    if _PLACEHOLDER.search(secret) is not None:
        return True
    return _has_sequence(secret, _SEQUENCE_RUN)


def is_password_hash(secret: bytes) -> bool:
    """crypt(3), Django and LDAP password hashes (``$6$salt$hash``, ``pbkdf2_sha256$...``)."""
    return _PASSWORD_HASH.search(secret) is not None


def _base64_text(secret: bytes) -> bytes | None:
    """The printable text a base64 value decodes to, or None (binary, or not base64)."""
    if len(secret) < 8 or len(secret) % 4 == 1 or not _BASE64.match(secret):
        return None
    body = secret.rstrip(b"=")
    try:
        if b"-" in body or b"_" in body:
            raw = base64.urlsafe_b64decode(body + b"=" * (-len(body) % 4))
        else:
            raw = base64.b64decode(body + b"=" * (-len(body) % 4), validate=True)
    except (ValueError, binascii.Error):
        return None
    if len(raw) < 4 or any(c < 0x20 and c not in (0x09, 0x0A, 0x0D) or c > 0x7E for c in raw):
        return None
    return raw


def is_code_or_dummy(secret: bytes) -> bool:
    """True for values of credential-named assignments that are not literal secrets."""
    decoded = _base64_text(secret)
    if decoded is not None and (
        any(c in b" \t\r\n" for c in decoded)  # a sentence, a JSON document: text, not a key
        or is_placeholder(decoded)
        or _DUMMY_WORDS.search(decoded) is not None
    ):
        return True
    if _CODE_REFERENCE.search(secret) is not None:
        return True
    if _DUMMY_WORDS.search(secret) is not None:
        return True
    if is_password_hash(secret) or is_wordish(secret):
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

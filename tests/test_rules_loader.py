from __future__ import annotations

from pathlib import Path

import pytest

from nhiscan.errors import RuleError
from nhiscan.rules import load_pack, load_rules

GOOD = '''
[[rule]]
id = "acme-token"
name = "Acme token"
provider = "Acme"
nhi_kind = "saas-api-key"
severity = "high"
keywords = ["acme_"]
regex = '\\b(acme_[a-z0-9]{20})\\b'
examples = ["t = acme_0123456789abcdefghij"]
'''


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "pack.toml"
    p.write_text(text)
    return p


def test_good_pack_loads(tmp_path: Path) -> None:
    (rule,) = load_pack(write(tmp_path, GOOD))
    assert rule.id == "acme-token" and rule.secret_group == 1 and rule.keywords == ("acme_",)


@pytest.mark.parametrize(
    "mutation, message",
    [
        (lambda t: t + "\n[[rule\n", "invalid TOML"),
        (lambda t: t.replace('severity = "high"', 'severity = "urgent"'), "severity"),
        (lambda t: t.replace('severity = "high"', 'severity = 3'), "'severity' has the wrong type"),
        (lambda t: t.replace('keywords = ["acme_"]', "keywords = []"), "keywords"),
        (lambda t: t.replace('keywords = ["acme_"]\n', ""), "missing required key 'keywords'"),
        (lambda t: t.replace("{20})", "{20}"), "regex does not compile"),
        (lambda t: t + 'colour = "red"\n', "unknown key 'colour'"),
        (lambda t: t.replace('"acme-token"', '"Acme Token"'), "kebab-case"),
        (lambda t: t.replace('nhi_kind = "saas-api-key"', 'nhi_kind = "robot"'), "unknown nhi_kind"),
        (lambda t: t + 'checksum = "crc64"\n', "unknown checksum"),
        (lambda t: t + "secret_group = 3\n", "secret_group"),
    ],
)
def test_bad_packs_name_file_rule_and_reason(tmp_path: Path, mutation, message: str) -> None:
    path = write(tmp_path, mutation(GOOD))
    with pytest.raises(RuleError) as exc:
        load_pack(path)
    text = str(exc.value)
    assert str(path) in text
    assert message in text
    assert "\n" not in text


def test_duplicate_ids_across_packs(tmp_path: Path) -> None:
    a = write(tmp_path, GOOD)
    b = tmp_path / "b.toml"
    b.write_text(GOOD)
    with pytest.raises(RuleError, match="duplicate rule id"):
        load_rules([a, b], builtin=False)


def test_disable_unknown_rule_is_an_error() -> None:
    with pytest.raises(RuleError, match="unknown rule id 'no-such-rule'"):
        load_rules(disable=["no-such-rule"])


def test_rule_cache_round_trips_and_survives_damage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Validated packs are cached; what a cache file yields equals a fresh parse, and a cache
    file that is truncated, foreign or from an older Rule is ignored and rewritten."""
    import marshal

    import zlib

    monkeypatch.setenv("NHISCAN_CACHE_DIR", str(tmp_path / "cache"))
    pack = write(tmp_path, GOOD)
    fresh = load_pack(pack)
    [cache_file] = (tmp_path / "cache").glob("rules-*")
    cached = load_pack(pack)
    assert cached == fresh and hash(cached[0]) == hash(fresh[0])
    assert cached[0].examples == fresh[0].examples and isinstance(cached[0].keywords, tuple)
    key, count, checksum, payload = marshal.loads(cache_file.read_bytes())
    stored = marshal.loads(payload)
    assert count == 1
    stale = [dict(stored[0])]
    del stale[0]["priority"]
    edited = [dict(stored[0], regex="acme_")]

    def sealed(rules: object, n: int = 1, k: str = key) -> bytes:
        body = marshal.dumps(rules)
        return marshal.dumps((k, n, zlib.crc32(body), body))

    damaged = [
        cache_file.read_bytes()[:40],  # truncated
        b"not marshal at all",
        sealed(stale),  # written for an older Rule
        sealed([], 0),  # a pack with no rules would silently disable detection
        sealed(stored, 2),  # count and rules disagree
        sealed(stored, 1, "another key"),
        marshal.dumps((key, 1, checksum, marshal.dumps(edited))),  # rules changed after writing
        marshal.dumps(42),
        b"[" + (0x7FFFFFFF).to_bytes(4, "little"),  # a list length marshal would try to allocate
    ]
    for damage in damaged:
        cache_file.write_bytes(damage)
        assert load_pack(pack) == fresh
        assert marshal.loads(marshal.loads(cache_file.read_bytes())[3])[0]["id"] == "acme-token"  # rewritten


def test_cache_folder_is_pruned_of_stale_files_but_keeps_those_in_use(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each rule change leaves old cache files behind: writing a new one removes ours unused
    for 30 days (and nothing else), and loading a cached pack renews its date."""
    import os
    import time

    from nhiscan.cache import STALE_AFTER

    cache = tmp_path / "cache"
    monkeypatch.setenv("NHISCAN_CACHE_DIR", str(cache))
    pack = write(tmp_path, GOOD)
    load_pack(pack)
    [in_use] = cache.glob("rules-*.marshal")
    old = time.time() - STALE_AFTER - 3600
    stale = [cache / "hs-0123.db", cache / "rules-0123.marshal", cache / "rules-0123.json", cache / ".rules-tmp1"]
    foreign = cache / "notes.txt"
    for f in [*stale, foreign]:
        f.write_bytes(b"x")
        os.utime(f, (old, old))
    os.utime(in_use, (old, old))
    load_pack(pack)  # a cache hit: renews the file in use, removes nothing
    assert in_use.stat().st_mtime > old + 3600 and all(f.exists() for f in stale)
    other = tmp_path / "other.toml"
    other.write_text(GOOD.replace("acme-token", "acme-token-2"))
    load_pack(other)  # writes a new cache file: prunes
    assert not any(f.exists() for f in stale)
    assert in_use.exists() and foreign.exists() and len(list(cache.glob("rules-*.marshal"))) == 2

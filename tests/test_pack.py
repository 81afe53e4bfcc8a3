"""Reading blobs straight from git's pack files, and scanning only what each delta changed.

The pack reader (nhiscan/sources/pack.py, with the C module nhiscan/_packdelta.c) must hand
over exactly the bytes ``git cat-file`` does, for every shape of object store git writes; and
the prefilter's hits worked out from a delta base must equal a whole scan's. Deltas are built
here by a small encoder of git's delta format, from copy/insert instructions that hypothesis
draws; repositories are real ones packed by git in each way it can.
"""

from __future__ import annotations

import codecs
import importlib.util
import os
import random
import struct
from array import array
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from nhiscan.rules import load_rules
from nhiscan.sources.git import list_blobs, open_repo, stream_blobs
from nhiscan.sources.pack import Delta, ObjectStore, open_store
from tests.gitrepo import GitRepo, github_token, run_cli

# Built by hatch_build.py at install wherever a C compiler is found (tests/test_project.py
# fails if one is found and the module is missing).
_packdelta = pytest.importorskip("nhiscan._packdelta", reason="nhiscan/_packdelta.c was not compiled")

RULES = load_rules()


# ---- a git delta encoder (test side) ----------------------------------------------------------

def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _copy_op(offset: int, size: int) -> bytes:
    op = 0x80
    args = bytearray()
    for i in range(4):
        b = (offset >> (8 * i)) & 0xFF
        if b:
            op |= 1 << i
            args.append(b)
    encoded = 0 if size == 0x10000 else size  # git writes 64 KB as "no size bytes"
    for i in range(3):
        b = (encoded >> (8 * i)) & 0xFF
        if b:
            op |= 0x10 << i
            args.append(b)
    return bytes([op]) + bytes(args)


Op = tuple[str, int, int] | tuple[str, bytes]


def encode_delta(base: bytes, ops: list[Op]) -> tuple[bytes, bytes]:
    """(delta, target) for copy ("copy", offset, size) and insert ("insert", data) ops."""
    body = bytearray()
    target = bytearray()
    for op in ops:
        if op[0] == "copy":
            _, offset, size = op  # type: ignore[misc]
            while size > 0:
                n = min(size, 0x10000)
                body += _copy_op(offset, n)
                target += base[offset : offset + n]
                offset += n
                size -= n
        else:
            data = op[1]
            assert isinstance(data, bytes)
            for i in range(0, len(data), 127):
                piece = data[i : i + 127]
                body += bytes([len(piece)]) + piece
                target += piece
    return _varint(len(base)) + _varint(len(target)) + bytes(body), bytes(target)


def reference_apply(base: bytes, delta: bytes) -> tuple[bytes, list[tuple[int, int, int]]]:
    """git's delta format, applied in plain Python (ValueError where C must refuse too)."""
    p = 0

    def size() -> int:
        nonlocal p
        n = shift = 0
        while True:
            if p >= len(delta):
                raise ValueError("truncated header")
            c = delta[p]
            p += 1
            n |= (c & 0x7F) << shift
            shift += 7
            if not c & 0x80:
                return n

    if size() != len(base):
        raise ValueError("base size")
    want = size()
    out = bytearray()
    runs: list[tuple[int, int, int]] = []
    while p < len(delta):
        op = delta[p]
        p += 1
        if op & 0x80:
            off = n = 0
            for i in range(4):
                if op & (1 << i):
                    if p >= len(delta):
                        raise ValueError("truncated copy")
                    off |= delta[p] << (8 * i)
                    p += 1
            for i in range(3):
                if op & (0x10 << i):
                    if p >= len(delta):
                        raise ValueError("truncated copy")
                    n |= delta[p] << (8 * i)
                    p += 1
            n = n or 0x10000
            if off + n > len(base) or len(out) + n > want:
                raise ValueError("copy out of bounds")
            t = len(out)
            out += base[off : off + n]
            if runs and runs[-1][1] == t and runs[-1][2] + (t - runs[-1][0]) == off:
                runs[-1] = (runs[-1][0], t + n, runs[-1][2])
            else:
                runs.append((t, t + n, off))
        elif op:
            if p + op > len(delta) or len(out) + op > want:
                raise ValueError("insert out of bounds")
            out += delta[p : p + op]
            p += op
        else:
            raise ValueError("reserved")
    if len(out) != want:
        raise ValueError("short")
    return bytes(out), runs


LIMIT = 1 << 30


def runs_of(copies: bytes) -> list[tuple[int, int, int]]:
    a = array("q", copies)
    return [(a[i], a[i + 1], a[i + 2]) for i in range(0, len(a), 3)]


@st.composite
def base_and_ops(draw: st.DrawFn, base: st.SearchStrategy[bytes] | None = None) -> tuple[bytes, list[Op]]:
    data = draw(base if base is not None else st.binary(min_size=1, max_size=3000))
    ops: list[Op] = []
    for _ in range(draw(st.integers(0, 12))):
        if draw(st.booleans()):
            off = draw(st.integers(0, len(data) - 1))
            ops.append(("copy", off, draw(st.integers(1, len(data) - off))))
        else:
            ops.append(("insert", draw(st.binary(min_size=1, max_size=300))))
    return data, ops


# ---- the C module -----------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(base_and_ops())
def test_apply_rebuilds_the_target_and_names_every_copied_byte(case: tuple[bytes, list[Op]]) -> None:
    base, ops = case
    delta, target = encode_delta(base, ops)
    got, copies = _packdelta.apply(base, delta, LIMIT)
    assert got == target
    want_target, want_runs = reference_apply(base, delta)
    assert want_target == target
    assert runs_of(copies) == want_runs
    for t0, t1, b0 in runs_of(copies):
        assert got[t0:t1] == base[b0 : b0 + t1 - t0]


def test_a_64k_copy_is_written_without_size_bytes() -> None:
    base = bytes(random.Random(1).randrange(256) for _ in range(0x10000 + 10))
    delta, target = encode_delta(base, [("copy", 5, 0x10000)])
    assert delta[6:] == b"\x81\x05"  # after the two 3-byte sizes: copy, offset byte 5, no size
    assert _packdelta.apply(base, delta, LIMIT)[0] == target


def test_a_target_over_the_limit_is_refused_before_it_is_built() -> None:
    base = b"x" * 100
    delta, target = encode_delta(base, [("copy", 0, 100), ("insert", b"y" * 50)])
    assert _packdelta.apply(base, delta, 150)[0] == target
    with pytest.raises(ValueError, match="larger than the limit"):
        _packdelta.apply(base, delta, 149)
    # A header claiming 2**62 bytes: no attempt to allocate them.
    huge = _varint(100) + _varint(1 << 62) + b"\x91\x00\x64"
    with pytest.raises(ValueError, match="larger than the limit"):
        _packdelta.apply(base, huge, LIMIT)


def encode_header(typ: int, size: int, base: int | bytes | None, offset: int) -> bytes:
    """A pack object's header as git writes it (pack-format.txt)."""
    out = bytearray()
    c = (typ << 4) | (size & 15)
    size >>= 4
    while size:
        out.append(c | 0x80)
        c = size & 0x7F
        size >>= 7
    out.append(c)
    if isinstance(base, int):  # offset delta: the distance back, in git's +1 encoding
        rel = offset - base
        enc = [rel & 0x7F]
        rel >>= 7
        while rel:
            rel -= 1
            enc.append(0x80 | (rel & 0x7F))
            rel >>= 7
        out += bytes(reversed(enc))
    elif isinstance(base, bytes):
        out += base
    return bytes(out)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([1, 2, 3, 4, 6, 7]), st.integers(0, 1 << 40), st.integers(1, 1 << 40),
    st.data(), st.binary(max_size=8),
)
def test_object_headers_are_read_as_git_writes_them(typ: int, size: int, offset: int, data, rest: bytes) -> None:  # type: ignore[no-untyped-def]
    base: int | bytes | None = None
    if typ == 6:
        base = data.draw(st.integers(0, offset - 1))
    elif typ == 7:
        base = data.draw(st.binary(min_size=20, max_size=20))
    raw = encode_header(typ, size, base, offset)
    assert _packdelta.header(raw + rest, offset, 20) == (typ, size, base, len(raw))
    for cut in range(len(raw)):  # a header cut short is refused, never read past
        with pytest.raises(ValueError, match="malformed pack object"):
            _packdelta.header(raw[:cut], offset, 20)


def reference_header(raw: bytes, offset: int, hash_len: int) -> tuple[int, int, int | bytes | None, int]:
    """pack-format.txt, read the plain way (ValueError where the C reader refuses)."""
    try:
        c = raw[0]
        typ, size, shift, p = (c >> 4) & 7, c & 15, 4, 1
        while c & 0x80:
            if shift > 57 and p < len(raw):  # (sizes past 64 bits)
                raise ValueError
            c = raw[p]
            p += 1
            size |= (c & 0x7F) << shift
            shift += 7
        if typ in (0, 5):
            raise ValueError
        base: int | bytes | None = None
        if typ == 6:
            c = raw[p]
            p += 1
            rel = c & 0x7F
            while c & 0x80:
                c = raw[p]
                p += 1
                rel = ((rel + 1) << 7) | (c & 0x7F)
            if rel <= 0 or rel > offset:
                raise ValueError
            base = offset - rel
        elif typ == 7:
            base = raw[p : p + hash_len]
            if len(base) != hash_len:
                raise ValueError
            p += hash_len
    except IndexError:
        raise ValueError from None
    return typ, size, base, p


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=24), st.integers(0, 1 << 40))
@example(b"\x9f" + b"\xff" * 7 + b"\x01", 10)  # a size of 54 bits
@example(b"\x9f" + b"\xff" * 8 + b"\x01", 10)  # 61 bits and more: refused
@example(b"\x60" + b"\xff" * 9 + b"\x01", 1 << 40)  # a delta base past any offset
@example(b"\x90\x00", 5)  # a size written longer than it needs
def test_any_bytes_are_read_as_the_reference_reads_them(raw: bytes, offset: int) -> None:
    try:
        want: tuple[int, int, int | bytes | None, int] | None = reference_header(raw, offset, 20)
    except ValueError:
        want = None
    if want is None:
        with pytest.raises(ValueError, match="malformed pack object"):
            _packdelta.header(raw, offset, 20)
    else:
        assert _packdelta.header(raw, offset, 20) == want


@pytest.mark.parametrize(
    ("call", "args"),
    [
        ("partial", (b"ab", b"\x02\x02\x02ab", LIMIT, -1, 1, 8)),
        ("partial", (b"ab", b"\x02\x02\x02ab", LIMIT, 1, -1, 8)),
        ("partial", (b"ab", b"\x02\x02\x02ab", LIMIT, 1, 1, -1)),
        ("extract", (b"ab", b"\x02\x02\x02ab", LIMIT, array("q", [1, 0]).tobytes())),  # span backwards
        ("extract", (b"ab", b"\x02\x02\x02ab", LIMIT, array("q", [0, 3]).tobytes())),  # past the target
        ("extract", (b"ab", b"\x02\x02\x02ab", LIMIT, array("q", [1, 2, 0, 1]).tobytes())),  # out of order
        ("extract", (b"ab", b"\x02\x02\x02ab", LIMIT, b"\0" * 12)),  # not int64 pairs
        ("carry", (array("q", [5, 1]).tobytes(), b"", 1, 1, 8)),  # hits out of order
        ("carry", (b"", b"", 1, 1, 0)),
        ("carry", (array("q", [-1]).tobytes(), b"", 1, 1, 8)),
        ("carry", (b"", array("q", [0, 4, 1 << 50]).tobytes(), 1, 1, 8)),
    ],
)
def test_partial_extract_and_carry_refuse_arguments_apply_cannot_produce(call: str, args: tuple[object, ...]) -> None:
    with pytest.raises(ValueError, match="out of range"):
        getattr(_packdelta, call)(*args)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=64), st.binary(max_size=80))
def test_malformed_deltas_are_refused_like_the_reference(base: bytes, delta: bytes) -> None:
    try:
        want: tuple[bytes, list[tuple[int, int, int]]] | None = reference_apply(base, delta)
    except ValueError:
        want = None
    if want is None:
        with pytest.raises(ValueError, match="malformed git delta"):
            _packdelta.apply(base, delta, LIMIT)
        with pytest.raises(ValueError, match="malformed git delta"):
            _packdelta.partial(base, delta, LIMIT, 3, 2, 8)
        with pytest.raises(ValueError, match="malformed git delta"):
            _packdelta.extract(base, delta, LIMIT, b"")
    else:
        got, copies = _packdelta.apply(base, delta, LIMIT)
        assert (got, runs_of(copies)) == want
        assert _packdelta.partial(base, delta, LIMIT, 3, 2, 8)[:2] == (len(got), copies)
        assert _packdelta.extract(base, delta, LIMIT, array("q", [0, len(got)]).tobytes()) == got


@settings(max_examples=300, deadline=None)
@given(base_and_ops(), st.integers(0, 40), st.integers(0, 4), st.data())
def test_partial_and_carry_match_a_brute_force(case, before: int, after: int, data) -> None:  # type: ignore[no-untyped-def]
    base, ops = case
    delta, target = encode_delta(base, ops)
    _, copies = _packdelta.apply(base, delta, LIMIT)
    runs = runs_of(copies)
    n = len(target)

    def safe(p: int) -> bool:
        return any(t0 + before <= p <= t1 - after for t0, t1, _ in runs)

    head = data.draw(st.integers(0, 64))
    size, copies2, w, r, joined, first, nul = _packdelta.partial(base, delta, LIMIT, before, after, head)
    assert (size, copies2) == (n, copies)
    assert first == (target[0] if target else -1) and nul == (b"\0" in target[:head])
    windows, ranges = array("q", w), array("q", r)
    covered: set[int] = set()
    for i in range(0, len(ranges), 2):
        lo, hi = ranges[i], ranges[i + 1]
        assert lo <= hi and (i == 0 or lo > ranges[i - 1] + 1)
        covered.update(range(lo, hi + 1))
        # Its stretch, with lead and trail, lies in one window.
        start, end = max(0, lo - before), min(n, hi + after)
        assert any(windows[j] <= start and end <= windows[j + 1] for j in range(0, len(windows), 2))
    assert covered == {p for p in range(n + 1) if not safe(p)}
    # The windows are exactly the stretches' buffers, merged where they overlap or touch.
    want: list[list[int]] = []
    for i in range(0, len(ranges), 2):
        start, end = max(0, ranges[i] - before), min(n, ranges[i + 1] + after)
        if want and start <= want[-1][1]:
            want[-1][1] = max(want[-1][1], end)
        else:
            want.append([start, end])
    assert list(windows) == [v for w in want for v in w]
    # ... and their bytes are the target's, one window after the other.
    assert joined == b"".join(target[a:b] for a, b in want)
    scale = 64
    hits = sorted(data.draw(st.lists(st.tuples(st.integers(0, len(base)), st.integers(0, 63)), max_size=40)))
    packed = array("q", [q * scale + i for q, i in hits]).tobytes()
    carried = list(array("q", _packdelta.carry(packed, copies, before, after, scale)))
    want = [
        (q - b0 + t0) * scale + i
        for t0, t1, b0 in runs
        for q, i in hits
        if b0 + before <= q <= b0 + (t1 - t0) - after
    ]
    assert carried == want


@settings(max_examples=300, deadline=None)
@given(base_and_ops(), st.data())
def test_extract_gives_the_targets_bytes_in_the_spans(case, data) -> None:  # type: ignore[no-untyped-def]
    base, ops = case
    delta, target = encode_delta(base, ops)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(target)), max_size=8)))
    spans = [(cuts[i], cuts[i + 1]) for i in range(0, len(cuts) - 1, 2)]  # (empty ones too)
    got = _packdelta.extract(base, delta, LIMIT, array("q", [v for span in spans for v in span]).tobytes())
    assert got == b"".join(target[a:b] for a, b in spans)
    assert _packdelta.extract(base, delta, LIMIT, array("q")) == b""  # (an empty array: any address)


# ---- hits from a delta base equal a whole scan ------------------------------------------------

def _prefilter():  # type: ignore[no-untyped-def]
    pytest.importorskip("hyperscan")
    from nhiscan.engine.prefilter import HyperscanPrefilter

    return HyperscanPrefilter(RULES.rules, digest=RULES.digest, cache_dir=None)


_PF = None


def prefilter():  # type: ignore[no-untyped-def]
    global _PF
    if _PF is None:
        _PF = _prefilter()
    return _PF


_EXAMPLES = [e.encode() for r in RULES.rules if not r.multiline for e in r.examples][:400]
_FILLER = [
    b"def handler(event, context):", b"    return None", b"", b"# token rotation notes",
    b"password = ", b"api_key: ", b'"auth": ', b"kind: Secret", b"Authorization: Basic ",
    b"https://user:", b"@example.test/", b"export GITHUB_TOKEN=", b"}", b"\tkey = value",
]
text_lines = st.lists(
    st.one_of(st.sampled_from(_EXAMPLES), st.sampled_from(_FILLER), st.binary(max_size=40)),
    min_size=1, max_size=40,
).map(lambda lines: b"\n".join(lines) + b"\n")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(base_and_ops(text_lines), st.lists(st.sampled_from(_EXAMPLES + _FILLER), max_size=6))
def test_hits_worked_out_from_the_delta_base_equal_a_whole_scan(case, extra: list[bytes]) -> None:  # type: ignore[no-untyped-def]
    base, ops = case
    # Inserts are often whole credentials or credential words cut anywhere by the copies.
    ops = ops + [("insert", e) for e in extra]
    random.Random(len(base)).shuffle(ops)
    delta, target = encode_delta(base, ops)
    pf = prefilter()
    base_hits, base_packed = pf.packed_hits(base)
    assert base_hits == pf.hits(base)
    from_delta, packed = _delta_hits(pf, base, delta, base_packed)
    whole, whole_packed = pf.packed_hits(target)
    assert from_delta == whole
    assert packed == whole_packed  # so the next version down the chain gets the same


def _delta_hits(pf, base: bytes, delta: bytes, base_packed: bytes):  # type: ignore[no-untyped-def]
    """The hits of the target of ``delta`` from its base's, as a history sweep works them out."""
    _, copies, windows, ranges, joined, _, _ = _packdelta.partial(base, delta, LIMIT, *pf.margins, 8)
    return pf.delta_hits((windows, ranges, joined), base_packed, copies)


def _edge_prefilter():  # type: ignore[no-untyped-def]
    """Rules whose matches sit right at the margins: word boundaries, ^ and $ (of the blob and
    of a line), and one pattern as wide as the database's widest, over a small alphabet where
    they match all the time."""
    import dataclasses

    pytest.importorskip("hyperscan")
    from nhiscan.engine.prefilter import HyperscanPrefilter

    template = RULES.rules[0]
    patterns = [
        r"\bab[0-9]{3}\b", r"xy[a-z]{2}$", r"^qq", r"(?m)^mm[0-9]", r"(?m)k[0-9]{2}$",
        r"\bk[0-9]{5,30}z",  # the widest: 32 bytes
    ]
    rules = tuple(
        dataclasses.replace(template, id=f"edge-{i}", regex=p, keywords=("k",), multiline=False)
        for i, p in enumerate(patterns)
    )
    pf = HyperscanPrefilter(rules, digest=f"edge-{len(rules)}", cache_dir=None)
    assert pf.width == 32
    return pf


_EDGE = None


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base_and_ops(st.text(alphabet="abxyqmkz0123456789 \n-", min_size=1, max_size=400).map(str.encode)))
def test_hits_from_the_delta_base_are_exact_at_the_margins(case) -> None:  # type: ignore[no-untyped-def]
    global _EDGE
    if _EDGE is None:
        _EDGE = _edge_prefilter()
    base, ops = case
    delta, target = encode_delta(base, ops)
    _, base_packed = _EDGE.packed_hits(base)
    assert _delta_hits(_EDGE, base, delta, base_packed) == _EDGE.packed_hits(target)


_FILL = b"- - - - - - - - - - -\n" * 10


@pytest.mark.parametrize(
    ("base", "ops"),
    [
        # \b after the match: the byte after it changes ("ab123c" becomes "ab123!").
        (_FILL + b" ab123c" + _FILL, [("copy", 0, len(_FILL) + 6), ("insert", b"!"), ("copy", len(_FILL) + 7, len(_FILL))]),
        # $ before the blob's last newline: more text follows in the new version.
        (_FILL + b"xyab\n", [("copy", 0, len(_FILL) + 5), ("insert", b"more\n")]),
        # \b one byte before a match as wide as the widest pattern.
        (b"ak" + b"1" * 30 + b"z" + _FILL, [("insert", b" "), ("copy", 1, 32 + len(_FILL))]),
        # ^ of the blob: what was its first line is now its second.
        (b"qq\n" + _FILL, [("insert", b"\n"), ("copy", 0, 3 + len(_FILL))]),
    ],
    ids=["word-boundary-after", "end-of-blob", "word-boundary-before-widest", "start-of-blob"],
)
def test_hits_at_the_exact_margins(base: bytes, ops: list[Op]) -> None:
    global _EDGE
    if _EDGE is None:
        _EDGE = _edge_prefilter()
    delta, target = encode_delta(base, ops)
    _, base_packed = _EDGE.packed_hits(base)
    whole, _ = _EDGE.packed_hits(target)
    assert _delta_hits(_EDGE, base, delta, base_packed)[0] == whole
    assert whole != _EDGE.hits(base)  # the edit changed the hits


# ---- the object store against git -------------------------------------------------------------

def _history(repo: GitRepo, versions: int = 6) -> list[str]:
    """Several versions of a few files (secrets in some), committed one by one."""
    rng = random.Random(7)
    lines = [f"line {i}: " + "x" * rng.randrange(40) for i in range(400)]
    tokens = []
    for v in range(versions):
        for _ in range(5):
            lines.insert(rng.randrange(len(lines)), f"edit {v} {rng.random()}")
        token = github_token()
        tokens.append(token)
        lines[rng.randrange(len(lines))] = f'GITHUB_TOKEN = "{token}"'
        repo.write("app/settings.py", "\n".join(lines) + "\n")
        repo.write("notes.md", f"version {v}\n" + "text\n" * (50 + v))
        repo.write("empty.txt", "")
        repo.write("bin.dat", bytes(range(256)) * (4 + v))
        # (a delta whose text must be decoded: it is built and scanned whole)
        plain = [line for line in lines[: 40 + v] if "TOKEN" not in line]
        repo.write("app/settings-utf16.cfg", codecs.BOM_UTF16_LE + "\n".join(plain).encode("utf-16-le"))
        repo.commit(f"v{v}")
    return tokens


def _assert_store_matches_git(path: Path, *, all_from_packs: bool = True) -> ObjectStore:
    info = open_repo(path)
    blobs = list_blobs(info).blobs
    oids = [o for o, _ in blobs]
    store = open_store(info.root, len(oids[0]) // 2)
    assert store is not None
    if os.environ.get("NHISCAN_ISAL") == "0":
        assert store._zmod.__name__ == "zlib"
    elif importlib.util.find_spec("isal") is not None:  # a dependency where wheels exist
        assert store._zmod.__name__ == "isal.isal_zlib"
    from_git = dict(stream_blobs(info.root, oids))
    missing = 0
    for oid in oids:
        blob = store.blob(oid)
        if blob is None:
            missing += 1
            continue
        assert blob.data == from_git[oid], oid
    if all_from_packs:
        assert missing == 0
    # As a history sweep reads them: in pack order, deltas left unbuilt (and kept as such, to
    # be built when another delta needs them as its base).
    lazy = open_store(info.root, len(oids[0]) // 2)
    assert lazy is not None
    with lazy:
        for oid in oids:
            found = lazy.blob_or_delta(oid)
            if isinstance(found, Delta):
                size, *_ = _packdelta.partial(found.base, found.delta, LIMIT, 1, 1, 8)
                found = lazy.build(found)
                assert found is not None and size == len(found.data)
            if found is not None:
                assert found.data == from_git[oid], oid
            else:
                assert not all_from_packs
    return store


def _packed_with_deltas(path: Path) -> int:
    """How many objects of the repository's packs are deltas (verify-pack)."""
    count = 0
    for idx in (path / ".git" / "objects" / "pack").glob("*.idx"):
        out = GitRepo(path, init=False).git("verify-pack", "-v", str(idx))
        count += sum(1 for line in out.splitlines() if len(line.split()) >= 7 and line.split()[1] == "blob")
    return count


@pytest.mark.parametrize("zlib_from", ["isal", "stdlib"])
def test_objects_larger_than_one_read_are_inflated_whole(
    tmp_path: Path, zlib_from: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Random bytes do not compress: a 5 MB blob takes several reads past the first 8 KB
    (each at most 4 MB), a 16 KB one is first tried in one call from the first read and then
    read on, and the last object of the pack ends at its trailer."""
    import nhiscan.sources.pack as pack

    if zlib_from == "stdlib":
        monkeypatch.setenv("NHISCAN_ISAL", "0")
    reads: list[int] = []
    real_pread = os.pread

    def counting_pread(fd: int, n: int, offset: int) -> bytes:
        reads.append(n)
        return real_pread(fd, n, offset)

    repo = GitRepo(tmp_path / "r")
    rng = random.Random(5)
    repo.write("big.bin", bytes(rng.randrange(256) for _ in range(5 * 1024 * 1024)))
    repo.write("medium.bin", bytes(rng.randrange(256) for _ in range(200_000)))
    repo.write("one-shot.bin", bytes(rng.randrange(256) for _ in range(pack._ONE_SHOT)))
    repo.write("small.txt", "small\n")
    repo.commit("blobs")
    repo.git("repack", "-adq")
    monkeypatch.setattr(pack.os, "pread", counting_pread)
    _assert_store_matches_git(repo.path)
    assert sum(1 for n in reads if n != pack._FIRST_READ and n > 16 + 20) >= 4


@pytest.mark.parametrize(
    "shape",
    ["loose", "gc", "gc-stdlib-zlib", "deep-chains", "ref-deltas", "several-packs", "large-offsets"],
)
def test_the_object_store_hands_over_what_git_does(
    tmp_path: Path, shape: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shape == "gc-stdlib-zlib":  # inflated by Python's zlib instead of ISA-L (isal)
        monkeypatch.setenv("NHISCAN_ISAL", "0")
    repo = GitRepo(tmp_path / "r")
    _history(repo)
    if shape.startswith("gc"):
        repo.git("gc", "-q")
    elif shape == "deep-chains":
        repo.git("repack", "-adfq", "--depth=250", "--window=250")
    elif shape == "ref-deltas":
        repo.git("-c", "repack.useDeltaBaseOffset=false", "repack", "-adfq")
    elif shape == "several-packs":
        repo.git("repack", "-dq")
        _history(repo, 3)
        repo.git("repack", "-dq")
        assert len(list((repo.path / ".git/objects/pack").glob("*.pack"))) >= 2
    elif shape == "large-offsets":
        repo.git("repack", "-adq")
        (pack,) = (repo.path / ".git/objects/pack").glob("*.pack")
        pack.with_suffix(".idx").unlink()
        repo.git("index-pack", "--index-version=2,16", str(pack))  # 64-bit offsets past 16 bytes
    if shape != "loose":
        assert _packed_with_deltas(repo.path) > 0
    _assert_store_matches_git(repo.path)


def test_alternates_worktrees_and_sha256(tmp_path: Path) -> None:
    src = GitRepo(tmp_path / "src")
    _history(src)
    src.git("gc", "-q")
    # A clone borrowing the source's objects (objects/info/alternates), with commits of its own.
    GitRepo(tmp_path, init=False).git("clone", "-q", "--shared", str(src.path), str(tmp_path / "shared"))
    shared = GitRepo(tmp_path / "shared", init=False)
    shared.git("config", "user.name", "A")
    shared.git("config", "user.email", "a@example.test")
    shared.write("more.txt", "more\n")
    shared.commit("more")
    _assert_store_matches_git(shared.path)
    # A linked work tree: its objects live in the main repository's directory.
    src.git("worktree", "add", "-q", str(tmp_path / "wt"))
    _assert_store_matches_git(tmp_path / "wt")
    from nhiscan.history import _packs_bytes

    for where in (tmp_path / "wt", tmp_path / "wt" / "app", src.path / "app"):
        info = open_repo(where)
        assert info.objects_dir.resolve() == (src.path / ".git" / "objects").resolve()
        assert _packs_bytes(info) > 0  # (so that workers start while the blobs are listed)
    # SHA-256 object names.
    sha = GitRepo(tmp_path / "sha", init=False)
    (tmp_path / "sha").mkdir()
    sha.git("init", "-q", "--object-format=sha256", "-b", "main")
    sha.git("config", "user.name", "A")
    sha.git("config", "user.email", "a@example.test")
    _history(sha, 3)
    sha.git("gc", "-q")
    assert len(list_blobs(open_repo(sha.path)).blobs[0][0]) == 64
    _assert_store_matches_git(sha.path)


def test_what_the_reader_does_not_know_is_left_to_git(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "r")
    _history(repo)
    repo.git("repack", "-adq")
    (pack,) = (repo.path / ".git/objects/pack").glob("*.pack")
    pack.with_suffix(".idx").unlink()
    repo.git("index-pack", "--index-version=1", str(pack))  # a version-1 index: not read here
    store = _assert_store_matches_git(repo.path, all_from_packs=False)
    assert store.unusable_packs == 1
    assert all(store.blob(o) is None for o, _ in list_blobs(open_repo(repo.path)).blobs)


def test_damaged_pack_data_goes_to_git_and_is_reported_like_before(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = GitRepo(tmp_path / "r")
    _history(repo)
    repo.git("repack", "-adq")
    (pack,) = (repo.path / ".git/objects/pack").glob("*.pack")
    out = repo.git("verify-pack", "-v", str(pack.with_suffix(".idx")))
    # Garble the compressed data of the largest blob (and so every delta built on it).
    rows = [line.split() for line in out.splitlines() if len(line.split()) >= 5 and line.split()[1] == "blob"]
    oid, _, size, disk, offset = max(rows, key=lambda r: int(r[2]))[:5]
    raw = bytearray(pack.read_bytes())
    start = int(offset) + int(disk) // 2
    raw[start : start + 16] = b"\xde\xad\xbe\xef" * 4
    pack.chmod(0o644)
    pack.write_bytes(bytes(raw))

    reports = {}
    for read_packs in ("1", "0"):
        monkeypatch.setenv("NHISCAN_READ_PACKS", read_packs)
        code, stdout, stderr = run_cli(["git", "--format", "json", str(repo.path)], capsys)
        reports[read_packs] = (code, _stable(stdout), stderr.count("cannot read this object"))
    assert reports["1"] == reports["0"]
    assert reports["1"][0] == 2 and reports["1"][2] >= 1


def _stable(report_json: str) -> object:
    import json

    report = json.loads(report_json)
    report["stats"].pop("seconds", None)
    return report


def _from_packs_and_from_git(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> dict[str, object]:
    """The JSON report of a one-job sweep read from the packs ("1") and through git ("0")."""
    reports = {}
    for read_packs in ("1", "0"):
        monkeypatch.setenv("NHISCAN_READ_PACKS", read_packs)
        code, stdout, _ = run_cli(["git", "--jobs", "1", "--format", "json", str(repo.path)], capsys)
        assert code == 1
        reports[read_packs] = _stable(stdout)
    return reports


def test_a_sweep_gives_the_same_report_from_packs_and_from_git(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("hyperscan")
    import nhiscan.engine.prefilter as prefilter

    repo = GitRepo(tmp_path / "r")
    tokens = _history(repo, 8)
    # A version of the UTF-16 file with a token: a delta that is decoded before it is scanned.
    tokens.append(github_token())
    text = (repo.path / "app/settings-utf16.cfg").read_bytes().decode("utf-16")
    repo.write("app/settings-utf16.cfg", codecs.BOM_UTF16_LE + f"{text}\nTOKEN = {tokens[-1]}\n".encode("utf-16-le"))
    repo.commit("utf-16 token")
    repo.git("gc", "-q")
    with_base = []
    real = prefilter.HyperscanPrefilter.delta_hits

    def spy(self, fresh, base_hits, copies):  # type: ignore[no-untyped-def]
        with_base.append(True)
        return real(self, fresh, base_hits, copies)

    monkeypatch.setattr(prefilter.HyperscanPrefilter, "delta_hits", spy)
    reports = _from_packs_and_from_git(repo, capsys, monkeypatch)
    assert reports["1"] == reports["0"]
    assert any(with_base), "no blob was scanned from its delta base"
    found = {f["secret_sha256"] for f in reports["1"]["findings"]}  # type: ignore[index]
    import hashlib

    assert {hashlib.sha256(t.encode()).hexdigest() for t in tokens} <= found
    for t in tokens:
        assert t not in str(reports["1"])


def test_versions_whose_hits_confirm_nothing_are_not_built(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Words like ``token:`` in code hit in every version and confirm nothing: such versions
    are judged from the delta's bytes around the hits, never built. The versions that add a
    secret near them, an allowed one, or one found only by decoding give the same report as
    reading every blob through git."""
    pytest.importorskip("hyperscan")
    import base64

    import nhiscan.engine.scanner as scanner_mod

    repo = GitRepo(tmp_path / "r")
    rng = random.Random(3)
    lines = [f"    value_{i} = compute({i})  # " + "y" * rng.randrange(30) for i in range(1500)]
    for at in (300, 700, 1200):
        lines[at] = '    token: from-the-vault  # password = get_password()'
    tokens = []
    for v in range(12):
        for _ in range(3):
            lines.insert(rng.randrange(len(lines)), f"    edit_{v} = {rng.random()}")
        if v == 5:  # a secret a few lines from a hit that confirms nothing
            tokens.append(github_token())
            lines.insert(lines.index('    token: from-the-vault  # password = get_password()') + 40, f'GITHUB_TOKEN = "{tokens[-1]}"')
        if v == 7:
            lines.insert(900, f'SAMPLE_TOKEN = "{github_token()}"  # nhiscan:allow')
        if v == 9:  # found only by decoding
            tokens.append(github_token())
            lines.insert(100, '    note = "Basic ' + base64.b64encode(f"ci:{tokens[-1]}".encode()).decode() + '"')
        repo.write("app/config.py", "\n".join(lines) + "\n")
        repo.commit(f"v{v}")
    repo.git("gc", "-q")

    said_quiet: list[bool] = []
    real_quiet = scanner_mod.Scanner.quiet

    def quiet(self, *args):  # type: ignore[no-untyped-def]
        said_quiet.append(real_quiet(self, *args))
        return said_quiet[-1]

    monkeypatch.setattr(scanner_mod.Scanner, "quiet", quiet)
    reports = _from_packs_and_from_git(repo, capsys, monkeypatch)
    assert said_quiet.count(True) >= 3  # (the versions before the secret, at least)
    assert reports["1"] == reports["0"]
    import hashlib

    found = {f["secret_sha256"] for f in reports["1"]["findings"]}  # type: ignore[index]
    assert found == {hashlib.sha256(t.encode()).hexdigest() for t in tokens}
    assert reports["1"]["stats"]["allowed"] >= 1  # type: ignore[index]


def test_without_the_c_module_every_blob_comes_from_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import nhiscan.sources.pack as pack

    repo = GitRepo(tmp_path / "r")
    _history(repo, 2)
    assert open_store(repo.path, 20) is not None
    monkeypatch.setattr(pack, "delta_module", lambda: None)
    assert open_store(repo.path, 20) is None
    monkeypatch.undo()
    # A module built from an older _packdelta.c (a checkout not rebuilt) is not used either.
    monkeypatch.setattr(_packdelta, "API_VERSION", 1)
    assert open_store(repo.path, 20) is None
    monkeypatch.undo()
    monkeypatch.setenv("NHISCAN_READ_PACKS", "0")
    assert open_store(repo.path, 20) is None


# ---- what the reader must leave to git ---------------------------------------------------------

def test_an_index_that_does_not_name_its_pack_is_not_used(tmp_path: Path) -> None:
    """git refuses a pack whose index was made for another pack (the index stores the pack's
    checksum); reading one would hand over other objects' bytes under these names."""
    repo = GitRepo(tmp_path / "r")
    _history(repo, 3)
    repo.git("repack", "-adq")
    (idx,) = (repo.path / ".git/objects/pack").glob("*.idx")
    raw = bytearray(idx.read_bytes())
    raw[-40] ^= 0xFF  # the pack checksum the index records (before the index's own)
    idx.chmod(0o644)
    idx.write_bytes(bytes(raw))
    store = open_store(repo.path, 20)
    assert store is not None and store.unusable_packs == 1


@pytest.mark.parametrize("read_as", ["blob", "delta"])
def test_a_blob_of_another_size_than_listed_is_read_through_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, read_as: str
) -> None:
    import nhiscan.history as history
    import nhiscan.sources.pack as pack
    from nhiscan.scan import EngineOptions, build_ruleset, build_scanner
    from nhiscan.config import Config

    repo = GitRepo(tmp_path / "r")
    tokens = _history(repo, 2)
    repo.git("gc", "-q")
    blobs = list_blobs(open_repo(repo.path)).blobs
    ruleset = build_ruleset(Config())
    if read_as == "blob":
        monkeypatch.setattr(pack.ObjectStore, "blob", lambda self, oid: pack.Blob(b"not these bytes"))
        monkeypatch.setattr(pack.ObjectStore, "blob_or_delta", lambda self, oid, **_: pack.Blob(b"not these bytes"))
        scanner = build_scanner(ruleset, EngineOptions(backend="aho-corasick"))
        listed = blobs
    else:  # the size a delta's header gives, for a delta left unbuilt, is checked too
        pytest.importorskip("hyperscan")
        scanner = build_scanner(ruleset, EngineOptions(backend="hyperscan"))
        out = repo.git("verify-pack", "-v", *map(str, (repo.path / ".git/objects/pack").glob("*.idx")))
        deltas = {line.split()[0] for line in out.splitlines() if len(line.split()) >= 7}
        listed = [(oid, size + 1 if oid in deltas else size) for oid, size in blobs]
    asked: list[str] = []
    real_stream = history.stream_blobs

    def spy(root, oids, gave_up):  # type: ignore[no-untyped-def]
        asked.extend(oids)
        return real_stream(root, oids, gave_up)

    unbuilt: list[int] = []
    real_unbuilt = history._DeltaHits.unbuilt

    def spy_unbuilt(self, delta):  # type: ignore[no-untyped-def]
        seen = real_unbuilt(self, delta)
        unbuilt.append(seen.size if seen is not None else -1)
        return seen

    monkeypatch.setattr(history, "stream_blobs", spy)
    monkeypatch.setattr(history._DeltaHits, "unbuilt", spy_unbuilt)
    result = history.scan_blobs(scanner, str(repo.path), listed)
    wrong = [oid for (oid, size), (_, want) in zip(blobs, listed) if size != want] if read_as == "delta" else [
        oid for oid, _ in blobs
    ]
    assert sorted(asked) == sorted(wrong)
    assert result.scanned + result.binary == len(blobs) and len(result.found) == len(tokens)
    if read_as == "delta":
        assert asked and any(size >= 0 for size in unbuilt)


def test_replace_refs_do_not_hide_a_blob(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``git replace`` makes git hand over another blob's bytes for an object name; the sweep
    reads what is stored (and pushed), through the packs and through git alike."""
    repo = GitRepo(tmp_path / "r")
    token = github_token()
    repo.write("config.py", f'TOKEN = "{token}"\n')
    repo.commit("add")
    secret_blob = repo.git("rev-parse", "HEAD:config.py")
    harmless = repo.git("hash-object", "-w", "--stdin", input=b"TOKEN = None\n")
    repo.git("replace", secret_blob, harmless)
    repo.git("gc", "-q")
    counts = {}
    for read_packs in ("1", "0"):
        monkeypatch.setenv("NHISCAN_READ_PACKS", read_packs)
        code, stdout, _ = run_cli(["git", "--jobs", "1", "--format", "json", str(repo.path)], capsys)
        report = _stable(stdout)
        counts[read_packs] = (code, len(report["findings"]))  # type: ignore[index]
    assert counts == {"1": (1, 1), "0": (1, 1)}


def test_an_alternates_loop_and_a_loose_object_bomb_go_to_git(tmp_path: Path) -> None:
    import zlib

    repo = GitRepo(tmp_path / "r")
    repo.write("small.txt", "hello")
    repo.commit("small")
    oid = repo.git("rev-parse", "HEAD:small.txt")
    objects = repo.path / ".git" / "objects"
    # A symlink loop named as an alternate object directory: git warns and skips it.
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    (objects / "info" / "alternates").write_text(str(tmp_path / "loop") + "\n")
    # A loose object whose header says 5 bytes and whose stream inflates to 50 MB.
    target = objects / oid[:2] / oid[2:]
    target.chmod(0o644)
    target.write_bytes(zlib.compress(b"blob 5\0hello" + b"x" * 50_000_000, 9))
    store = open_store(repo.path, 20)
    assert store is not None
    import tracemalloc

    tracemalloc.start()
    try:
        assert store.blob(oid) is None
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000  # inflated no further than the header's 5 bytes (and a little)

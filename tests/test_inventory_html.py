"""The auditors' HTML page: self-contained, and what a person sees in a real browser.

Rendered by headless Chromium (Debian's ``chromium``; ``.ci/run`` installs it). Without it the
browser tests are skipped with a reason; the static checks run everywhere.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import string
import struct
import subprocess
import zlib
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest

from nhiscan.inventory.render import InventoryFormat, inventory_renderer_for
from nhiscan.inventory.sources import inventory_from_scan
from nhiscan.mapping.controls import load_mapping
from nhiscan.mapping.identity import make_finding
from nhiscan.model import CommitInfo, Confidence, Match, NhiKind, Rule, ScanReport, Severity, Stats

NOW = datetime(2025, 6, 1, tzinfo=timezone.utc)
_CHARS = string.ascii_letters + string.digits + "!#%*+"


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        exe = shutil.which(name)
        if exe:
            return exe
    return "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None


needs_chromium = pytest.mark.skipif(
    chromium() is None, reason="headless Chromium is not installed (apt-get install chromium; .ci/run does)"
)


def _kinds() -> list[tuple[NhiKind, str, Severity]]:
    return [
        (NhiKind.SOURCE_CONTROL_TOKEN, "GitHub", Severity.HIGH),
        (NhiKind.CLOUD_ACCESS_KEY, "AWS", Severity.CRITICAL),
        (NhiKind.DATABASE_CREDENTIAL, "PostgreSQL", Severity.HIGH),
        (NhiKind.GENERIC_CREDENTIAL, "Generic", Severity.MEDIUM),
        (NhiKind.SAAS_API_KEY, "Stripe", Severity.HIGH),
    ]


def make_inventory(tmp_path: Path) -> tuple[str, list[str]]:
    """A register of 5 credentials (one with 3 places, some only in history) rendered to HTML."""
    mapping = load_mapping()
    findings = []
    raw_values = []
    for i, (kind, provider, sev) in enumerate(_kinds()):
        rule = Rule(id=f"example-{kind.value}", name=f"{provider} credential", provider=provider, nhi_kind=kind,
                    severity=sev, confidence=Confidence.HIGH, keywords=("k",), regex="x", secret_group=0)
        value = "".join(secrets.choice(_CHARS) for _ in range(24))
        raw_values.append(value)
        commit = CommitInfo(sha=f"{i + 1:x}" * 40, author=f"Dev {i}", email=f"dev{i}@example.test",
                            date=f"20{18 + i}-0{i + 1}-15T10:00:00+00:00")
        places = 3 if i == 0 else 1
        for j in range(places):
            m = Match(rule_id=rule.id, start=0, end=24, line=j + 1, column=1, end_line=j + 1, end_column=25,
                      secret=value.encode(), entropy=4.5)
            findings.append(make_finding(m, rule, path=f"svc{i}/file{j}<b>.py", mapping=mapping, commit=commit, from_history=True))
    report = ScanReport(findings=findings, stats=Stats(), source_kind="files", root=str(tmp_path / "not-a-repo"))
    inv = inventory_from_scan(report, now=NOW)
    return inventory_renderer_for(InventoryFormat.HTML)(inv, mapping), raw_values


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.rows: list[str] = []
        self.charts: dict[str, int] = {}
        self.current_chart: str | None = None
        self.html_attrs: dict[str, str | None] = {}
        self.table_attrs: dict[str, str | None] = {}
        self.in_register = False
        self.in_tbody = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.html_attrs = a
        if tag == "table" and a.get("id") == "register":
            self.in_register = True
            self.table_attrs = a
        if tag == "tbody" and self.in_register:
            self.in_tbody = True
        if tag == "tr" and self.in_tbody and a.get("data-id"):
            self.rows.append(a["data-id"] or "")
        if tag == "figure" and a.get("data-chart"):
            self.current_chart = a["data-chart"]
            self.charts[self.current_chart] = 0
        if tag in ("g", "circle") and self.current_chart and (a.get("class") in ("bar", "slice")):
            self.charts[self.current_chart] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure":
            self.current_chart = None
        if tag == "tbody" and self.in_tbody:
            self.in_tbody = False
            self.in_register = False


def test_page_is_self_contained_and_escaped(tmp_path: Path) -> None:
    page, raw = make_inventory(tmp_path)
    for value in raw:
        assert value not in page
    assert "<link" not in page and "@import" not in page and " src=" not in page and "url(" not in page
    assert re.search(r"https?://(?!www\.w3\.org/2000/svg)", page) is None  # only the SVG namespace
    assert "default-src 'none'" in page
    assert "file0&lt;b&gt;.py" in page and "file0<b>.py" not in page
    c = _Collector()
    c.feed(page)
    assert len(c.rows) == 5
    assert set(c.charts) == {"kind", "provider", "age", "exposure", "presence"}


def _dump_dom(url: str, profile: Path) -> str:
    exe = chromium()
    assert exe is not None
    proc = subprocess.run(
        [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--virtual-time-budget=3000", "--dump-dom", url],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@needs_chromium
def test_page_renders_in_headless_chromium(tmp_path: Path) -> None:
    page, _ = make_inventory(tmp_path)
    html_file = tmp_path / "register.html"
    html_file.write_text(page, encoding="utf-8")
    dom = _dump_dom(html_file.as_uri(), tmp_path / "profile")
    c = _Collector()
    c.feed(dom)
    assert c.html_attrs.get("data-ready") == "1", "the page's script did not run"
    assert len(c.rows) == 5
    assert c.charts["kind"] == 5 and c.charts["provider"] == 5
    assert c.charts["age"] >= 5 and c.charts["exposure"] >= 5
    assert c.charts["presence"] >= 1
    assert "Credentials by kind" in dom and "ISO/IEC 27001:2022 Annex A controls with evidence" in dom
    assert 'data-control="A.5.17"' in dom


@needs_chromium
def test_table_sorts_in_the_browser(tmp_path: Path) -> None:
    page, _ = make_inventory(tmp_path)
    html_file = tmp_path / "register.html"
    html_file.write_text(page, encoding="utf-8")
    dom = _dump_dom(html_file.as_uri() + "#sort=exposure:desc", tmp_path / "profile")
    assert 'data-sorted="exposure:desc"' in dom
    exposures = [int(x) for x in re.findall(r'<td class="num" data-sort="(\d+)">', dom)]
    assert len(exposures) == 5 and exposures == sorted(exposures, reverse=True)
    dom = _dump_dom(html_file.as_uri() + "#sort=exposure:asc", tmp_path / "profile2")
    exposures = [int(x) for x in re.findall(r'<td class="num" data-sort="(\d+)">', dom)]
    assert exposures == sorted(exposures)


def _png_size_and_colours(data: bytes) -> tuple[int, int, int]:
    """(width, height, distinct colours in a sample) of an 8-bit RGB(A) PNG, without Pillow."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, ctype = 8, b"", 0, 0, 0
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + n]
        if kind == b"IHDR":
            width, height, _depth, ctype = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    bpp = 4 if ctype == 6 else 3
    stride = width * bpp + 1
    colours: set[bytes] = set()
    for y in range(0, height, max(1, height // 50)):
        line = raw[y * stride + 1 : (y + 1) * stride]
        if raw[y * stride] == 0:  # unfiltered rows only: enough to see the page is not blank
            colours.update(line[x : x + bpp] for x in range(0, len(line), bpp * 7))
    return width, height, len(colours)


@needs_chromium
def test_screenshot_is_not_blank(tmp_path: Path) -> None:
    page, _ = make_inventory(tmp_path)
    html_file = tmp_path / "register.html"
    html_file.write_text(page, encoding="utf-8")
    shot = tmp_path / "shot.png"
    exe = chromium()
    assert exe is not None
    proc = subprocess.run(
        [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--hide-scrollbars", "--window-size=1280,1600",
         f"--screenshot={shot}", html_file.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0 and shot.is_file(), proc.stderr[-2000:]
    data = shot.read_bytes()
    assert len(data) > 10_000
    width, height, _colours = _png_size_and_colours(data)
    assert (width, height) == (1280, 1600)

"""The register as one self-contained HTML page for auditors.

Everything is inline: CSS, SVG charts and a few lines of JS to sort the table. A
Content-Security-Policy forbids every network request, so the page works offline and leaks
nothing when opened. All text is HTML-escaped; the page holds no raw secret.
"""

from __future__ import annotations

import math
from html import escape
from typing import Iterable, Sequence

from nhiscan import __version__
from nhiscan.inventory.model import Inventory, InventoryEntry
from nhiscan.inventory.render import control_evidence, location_text, metadata_text, summarize
from nhiscan.mapping.controls import ControlMapping
from nhiscan.model import Severity

_MAX_LOCATIONS_SHOWN = 5
_MAX_BARS = 12
_AGE_BUCKETS: tuple[tuple[str, int], ...] = (
    ("< 30 days", 30),
    ("30–90 days", 90),
    ("90 days – 1 year", 365),
    ("1–2 years", 730),
    ("> 2 years", 10**9),
)
_SEVERITY_COLORS = {
    Severity.CRITICAL: "#8b0000",
    Severity.HIGH: "#c0392b",
    Severity.MEDIUM: "#d68910",
    Severity.LOW: "#2471a3",
}

_CSS = """
:root{--fg:#1c2330;--muted:#5b6474;--line:#d8dde6;--bg:#fff;--panel:#f5f7fa;--accent:#2f5d9e}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--fg);background:var(--bg)}
header,main,footer{max-width:1400px;margin:0 auto;padding:0 24px}
header{padding-top:24px}
h1{font-size:24px;margin:0 0 4px}
h2{font-size:18px;margin:32px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}
.meta,.hint,footer{color:var(--muted)}
code{font:12px/1.3 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.figures{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.figure{background:var(--panel);border:1px solid var(--line);border-radius:6px;padding:10px 16px;min-width:140px}
.figure .value{display:block;font-size:26px;font-weight:600}
.figure .label{color:var(--muted)}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(440px,1fr));gap:16px}
.chart{margin:0;background:var(--panel);border:1px solid var(--line);border-radius:6px;padding:10px}
.chart figcaption{font-weight:600;margin-bottom:6px}
.chart svg{width:100%;height:auto;display:block}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid var(--line);padding:6px 8px;text-align:left;vertical-align:top}
th{background:var(--panel);position:sticky;top:0}
#register th{cursor:pointer;user-select:none;white-space:nowrap}
#register th::after{content:" \\2195";color:var(--muted)}
#register th[aria-sort=ascending]::after{content:" \\2191";color:var(--fg)}
#register th[aria-sort=descending]::after{content:" \\2193";color:var(--fg)}
td.num,th.num{text-align:right}
td.wide{min-width:260px;font-size:12px}
td.mid{min-width:160px}
td.nowrap{white-space:nowrap}
.sev{display:inline-block;color:#fff;border-radius:3px;padding:0 6px;font-size:12px}
.yes{color:#b03a2e;font-weight:600}.no{color:#7d6608}.unknown{color:var(--muted)}
.locs{margin:0;padding-left:16px}
.warn{background:#fff4e5;border:1px solid #f0c36d;padding:6px 10px;border-radius:4px}
@media print{#register th::after{content:""}th{position:static}}
"""

_JS = """
(function(){
  var table=document.getElementById('register');
  if(!table||!table.tHead)return;
  var heads=table.tHead.rows[0].cells, body=table.tBodies[0];
  function key(row,i,num){
    var c=row.cells[i], v=c.getAttribute('data-sort');
    if(v===null)v=c.textContent.trim();
    if(num){var n=parseFloat(v);return isNaN(n)?-Infinity:n;}
    return v.toLowerCase();
  }
  function sortBy(i,dir){
    var num=heads[i].getAttribute('data-type')==='num';
    var rows=Array.prototype.slice.call(body.rows);
    rows.sort(function(a,b){var x=key(a,i,num),y=key(b,i,num);return (x<y?-1:x>y?1:0)*dir;});
    rows.forEach(function(r){body.appendChild(r);});
    for(var j=0;j<heads.length;j++)heads[j].removeAttribute('aria-sort');
    heads[i].setAttribute('aria-sort',dir>0?'ascending':'descending');
    table.setAttribute('data-sorted',heads[i].getAttribute('data-key')+':'+(dir>0?'asc':'desc'));
  }
  Array.prototype.forEach.call(heads,function(th,i){
    th.tabIndex=0;
    th.addEventListener('click',function(){sortBy(i,th.getAttribute('aria-sort')==='ascending'?-1:1);});
    th.addEventListener('keydown',function(e){if(e.key==='Enter'||e.key===' '){e.preventDefault();th.click();}});
  });
  var m=/^#sort=([a-z0-9_-]+)(?::(asc|desc))?$/.exec(window.location.hash);
  if(m)Array.prototype.forEach.call(heads,function(th,i){if(th.getAttribute('data-key')===m[1])sortBy(i,m[2]==='desc'?-1:1);});
  document.documentElement.setAttribute('data-ready','1');
})();
"""


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


# -- charts ----------------------------------------------------------------------------------

def bar_chart(key: str, title: str, items: Sequence[tuple[str, int]], color: str) -> str:
    """A horizontal bar chart as inline SVG; every bar carries its label and value."""
    width, label_w, row_h, pad = 460, 170, 24, 8
    bar_max = width - label_w - 50
    height = max(1, len(items)) * row_h + 2 * pad
    parts = [
        f'<figure class="chart" data-chart="{_e(key)}"><figcaption id="chart-{_e(key)}-title">{_e(title)}</figcaption>',
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-labelledby="chart-{_e(key)}-title">',
    ]
    if not items:
        parts.append(f'<text x="{width // 2}" y="{height // 2 + 4}" text-anchor="middle" fill="#5b6474">no credentials</text>')
    top = max((v for _, v in items), default=1) or 1
    for i, (label, value) in enumerate(items):
        y = pad + i * row_h
        w = 0 if value == 0 else max(2, round(bar_max * value / top))
        short = label if len(label) <= 24 else label[:23] + "…"
        parts.append(
            f'<g class="bar" data-label="{_e(label)}" data-value="{value}"><title>{_e(label)}: {value}</title>'
            f'<text x="{label_w - 6}" y="{y + 16}" text-anchor="end" font-size="12" fill="#1c2330">{_e(short)}</text>'
            f'<rect x="{label_w}" y="{y + 4}" width="{w}" height="{row_h - 8}" rx="2" fill="{color}"/>'
            f'<text x="{label_w + w + 6}" y="{y + 16}" font-size="12" fill="#1c2330">{value}</text></g>'
        )
    parts.append("</svg></figure>")
    return "".join(parts)


def donut_chart(key: str, title: str, items: Sequence[tuple[str, int, str]]) -> str:
    """Shares of a whole (present vs historical) as an SVG ring with a legend."""
    total = sum(v for _, v, _ in items)
    r, cx, cy, sw = 60, 80, 80, 26
    circ = 2 * math.pi * r
    parts = [
        f'<figure class="chart" data-chart="{_e(key)}"><figcaption id="chart-{_e(key)}-title">{_e(title)}</figcaption>',
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 460 170" width="460" height="170" role="img" '
        f'aria-labelledby="chart-{_e(key)}-title">',
        f'<circle cx="{cx}" cy="{cy}" r="{r}" fill="none" stroke="#e5e8ee" stroke-width="{sw}"/>',
    ]
    offset = 0.0
    for i, (label, value, color) in enumerate(items):
        if total and value:
            length = circ * value / total
            parts.append(
                f'<circle class="slice" data-label="{_e(label)}" data-value="{value}" cx="{cx}" cy="{cy}" r="{r}" '
                f'fill="none" stroke="{color}" stroke-width="{sw}" stroke-dasharray="{length:.2f} {circ - length:.2f}" '
                f'stroke-dashoffset="{-offset:.2f}" transform="rotate(-90 {cx} {cy})"><title>{_e(label)}: {value}</title></circle>'
            )
            offset += length
        ly = 40 + i * 26
        parts.append(
            f'<g class="legend" data-label="{_e(label)}" data-value="{value}">'
            f'<rect x="190" y="{ly - 11}" width="14" height="14" fill="{color}"/>'
            f'<text x="212" y="{ly}" font-size="13" fill="#1c2330">{_e(label)}: {value}</text></g>'
        )
    parts.append(f'<text x="{cx}" y="{cy + 6}" text-anchor="middle" font-size="20" font-weight="600" fill="#1c2330">{total}</text>')
    parts.append("</svg></figure>")
    return "".join(parts)


def _counts(values: Iterable[str]) -> list[tuple[str, int]]:
    counts: dict[str, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    if len(ranked) > _MAX_BARS:
        rest = sum(v for _, v in ranked[_MAX_BARS - 1 :])
        ranked = ranked[: _MAX_BARS - 1] + [("other", rest)]
    return ranked


def _buckets(days: Iterable[int | None]) -> list[tuple[str, int]]:
    counts = {label: 0 for label, _ in _AGE_BUCKETS}
    unknown = 0
    for d in days:
        if d is None:
            unknown += 1
            continue
        for label, limit in _AGE_BUCKETS:
            if d < limit:
                counts[label] += 1
                break
    out = list(counts.items())
    if unknown:
        out.append(("unknown", unknown))
    return out


# -- tables ----------------------------------------------------------------------------------

_COLUMNS: tuple[tuple[str, str, str], ...] = (
    # key, heading, type
    ("severity", "Severity", "num"),
    ("id", "NHI id", "text"),
    ("kind", "Kind", "text"),
    ("provider", "Provider", "text"),
    ("secret", "Secret (redacted)", "text"),
    ("present", "At HEAD", "text"),
    ("locations", "Locations", "num"),
    ("first-seen", "First seen", "text"),
    ("removed", "Removed in", "text"),
    ("exposure", "Exposure (days)", "num"),
    ("owner", "Candidate owner", "text"),
    ("reuse", "Reuse", "num"),
    ("metadata", "In-band metadata", "text"),
    ("controls", "Controls", "text"),
    ("status", "Status", "text"),
)


def _row(e: InventoryEntry) -> str:
    sev = f'<span class="sev" style="background:{_SEVERITY_COLORS[e.severity]}">{_e(e.severity.value)}</span>'
    present, pclass = ("unknown", "unknown") if e.present_at_head is None else (("yes", "yes") if e.present_at_head else ("no", "no"))
    locs = [location_text(loc.path, loc.line, loc.commit.commit if loc.commit else None, loc.repo) for loc in e.locations]
    shown = "".join(f"<li><code>{_e(x)}</code></li>" for x in locs[:_MAX_LOCATIONS_SHOWN])
    more = f"<li>… {len(locs) - _MAX_LOCATIONS_SHOWN} more</li>" if len(locs) > _MAX_LOCATIONS_SHOWN else ""
    first = e.first_seen
    first_html = (
        f'<code>{_e(first.commit[:12])}</code><br>{_e(first.date[:10])}<br>{_e(first.author)}' if first else ""
    )
    removed = e.removed_in
    removed_html = f'<code>{_e(removed.commit[:12])}</code><br>{_e(removed.date[:10])}' if removed else ""
    owner = _e(e.owner.text) + (f'<br><small title="{_e(e.owner.detail)}">{_e(e.owner.source)}</small>' if e.owner.source != "none" else "")
    cells = [
        f'<td data-sort="{e.severity.rank}">{sev}</td>',
        f'<td class="nowrap"><code>{_e(e.id)}</code></td>',
        f"<td>{_e(e.kind_title)}</td>",
        f"<td>{_e(e.provider)}</td>",
        f"<td><code>{_e(e.secret)}</code></td>",
        f'<td class="{pclass}">{present}</td>',
        f'<td data-sort="{len(locs)}"><ul class="locs">{shown}{more}</ul></td>',
        f'<td data-sort="{_e(first.date if first else "")}">{first_html}</td>',
        f'<td data-sort="{_e(removed.date if removed else "")}">{removed_html}</td>',
        f'<td class="num" data-sort="{"" if e.exposure_days is None else e.exposure_days}">{_e(e.exposure_days)}</td>',
        f'<td class="mid">{owner}</td>',
        f'<td class="num">{e.reuse_count}</td>',
        f'<td class="wide">{_e(metadata_text(e.metadata))}</td>',
        f'<td class="wide">{_e(" ".join(e.controls))}</td>',
        f"<td>{_e(e.status)}</td>",
    ]
    return f'<tr data-id="{_e(e.id)}">' + "".join(cells) + "</tr>"


def _register(inv: Inventory) -> str:
    head = "".join(
        f'<th scope="col" data-key="{k}" data-type="{t}"{" class=num" if k in ("exposure", "reuse") else ""}>{_e(h)}</th>'
        for k, h, t in _COLUMNS
    )
    rows = "\n".join(_row(e) for e in inv.entries)
    return f'<table id="register"><thead><tr>{head}</tr></thead><tbody>\n{rows}\n</tbody></table>'


def _controls(inv: Inventory, mapping: ControlMapping) -> str:
    rows = []
    for ev in control_evidence(inv, mapping):
        where = sorted({loc.path for e in ev.entries for loc in e.locations[:1]})
        shown = ", ".join(where[:8]) + (f", … {len(where) - 8} more" if len(where) > 8 else "")
        rows.append(
            f'<tr data-control="{_e(ev.control.id)}"><td>{_e(ev.control.id)}</td><td>{_e(ev.control.title)}'
            f'<br><small>{_e(ev.control.summary)}</small></td><td>{_e(ev.control.iso2013)}</td>'
            f'<td class="num">{len(ev.entries)}</td><td>{_e(shown)}</td></tr>'
        )
    body = "\n".join(rows) or '<tr><td colspan="5">No credential found: no control has evidence against it.</td></tr>'
    return (
        '<table id="controls"><thead><tr><th>Control</th><th>Title</th><th>2013</th>'
        f'<th class="num">Credentials</th><th>Where (first location)</th></tr></thead><tbody>\n{body}\n</tbody></table>'
    )


def render_inventory_html(inv: Inventory, mapping: ControlMapping) -> str:
    s = summarize(inv)
    figures = [
        ("credentials", "credentials", s.credentials),
        ("present", "present at HEAD", s.present),
        ("historical", "in history only", s.historical),
        ("locations", "locations", s.locations),
        ("files", "files", s.files),
        ("providers", "providers", s.providers),
        ("unowned", "without an owner", s.unowned),
        ("exposure", "longest exposure (days)", "–" if s.max_exposure_days is None else s.max_exposure_days),
    ]
    figures_html = "".join(
        f'<div class="figure" data-figure="{k}"><span class="value">{_e(v)}</span><span class="label">{_e(label)}</span></div>'
        for k, label, v in figures
    )
    entries = inv.entries
    charts = "".join(
        [
            bar_chart("kind", "Credentials by kind", _counts(e.kind_title for e in entries), "#2f5d9e"),
            bar_chart("provider", "Credentials by provider", _counts(e.provider for e in entries), "#117a65"),
            bar_chart("age", "Age since first commit", _buckets(e.age_days for e in entries), "#7d3c98"),
            bar_chart("exposure", "Exposure window", _buckets(e.exposure_days for e in entries), "#b9770e"),
            donut_chart(
                "presence",
                "Present at HEAD vs history only",
                [
                    ("present at HEAD", s.present, "#c0392b"),
                    ("history only", s.historical, "#f0b27a"),
                    *([("unknown", s.unknown, "#aab7b8")] if s.unknown else []),
                ],
            ),
        ]
    )
    where = f"{_e(inv.source_kind)} scan of <code>{_e(inv.root)}</code>"
    if inv.head_commit:
        where += f" at <code>{_e(inv.head_commit[:12])}</code>"
    owners = f" Owners from <code>{_e(inv.codeowners_file)}</code> at HEAD." if inv.codeowners_file else " No CODEOWNERS file: owners are the authors who introduced each credential."
    warnings = "".join(f'<p class="warn">{_e(w)}</p>' for w in inv.warnings[:50])
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="nhiscan {_e(__version__)}">
<title>NHI register</title>
<style>{_CSS}</style>
</head>
<body>
<header>
<h1>NHI register</h1>
<p class="meta">Generated {_e(inv.generated)} from a {where}.{owners} Secrets are shown redacted; an entry is identified by a hash.</p>
</header>
<main>
<section id="headline" class="figures" aria-label="Headline figures">{figures_html}</section>
{warnings}
<h2>Charts</h2>
<section id="charts" class="charts">{charts}</section>
<h2>Register</h2>
<p class="hint">One row per distinct credential. Click a column heading to sort.</p>
<div class="scroll">{_register(inv)}</div>
<h2>ISO/IEC 27001:2022 Annex A controls with evidence</h2>
<p class="hint">Controls the credentials above put in question (mapping version {mapping.version}); ids and titles are public, the summaries are nhiscan's own words.</p>
<div class="scroll">{_controls(inv, mapping)}</div>
</main>
<footer><p>nhiscan {_e(__version__)}. Columns for people to fill (purpose, business owner, rotation due, vault path, ticket, ...) are in the JSON and CSV registers.</p></footer>
<script>{_JS}</script>
</body>
</html>
"""

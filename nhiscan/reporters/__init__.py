"""One module per output format; the registry maps each format to its renderer."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Callable

from nhiscan.model import ScanReport
from nhiscan.rules import RuleSet


class ScanFormat(str, enum.Enum):
    TEXT = "text"
    JSON = "json"
    SARIF = "sarif"


@dataclass(frozen=True, kw_only=True)
class RenderOptions:
    show_secrets: bool = False
    color: bool = False
    quiet: bool = False
    verbose: bool = False


Renderer = Callable[[ScanReport, RuleSet, RenderOptions], str]


def renderer_for(fmt: ScanFormat) -> Renderer:
    """The renderer of a scan format. A test proves every member of ScanFormat is handled."""
    if fmt is ScanFormat.TEXT:
        from nhiscan.reporters.text import render_text

        return render_text
    if fmt is ScanFormat.JSON:
        from nhiscan.reporters.json import render_json

        return render_json
    if fmt is ScanFormat.SARIF:
        from nhiscan.reporters.sarif import render_sarif

        return render_sarif
    raise AssertionError(f"unhandled format {fmt}")

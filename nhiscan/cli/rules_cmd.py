"""``nhiscan rules list`` and ``nhiscan rules test``."""

from __future__ import annotations

from pathlib import Path

import click

from nhiscan.errors import ExitCode

@click.group()
def rules() -> None:
    """Inspect and test the loaded rules."""


@rules.command("list")
@click.option("--config", "config_path", type=str, default=None, help="Config file.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def rules_list(config_path: str | None, fmt: str) -> int:
    """List the rules in force (built-in packs plus the config's)."""
    import json

    from nhiscan.config import load_config
    from nhiscan.scan import build_ruleset

    config = load_config(config_path, search_root=Path.cwd())
    ruleset = build_ruleset(config)
    if fmt == "json":
        doc = [
            {"id": r.id, "name": r.name, "provider": r.provider, "nhi_kind": r.nhi_kind.value,
             "severity": r.severity.value, "confidence": r.confidence.value, "source": r.source}
            for r in ruleset.rules
        ]
        click.echo(json.dumps(doc, indent=2))
    else:
        for r in ruleset.rules:
            click.echo(f"{r.id:<40} {r.severity.value:<8} {r.provider:<24} {r.name}")
        providers = len({r.provider for r in ruleset.rules})
        click.echo(f"{len(ruleset)} rules, {providers} providers", err=True)
    return ExitCode.CLEAN


@rules.command("test")
@click.argument("packs", nargs=-1, type=str)
@click.option("--config", "config_path", type=str, default=None, help="Config file.")
@click.option("--engine", type=click.Choice(["auto", "hyperscan", "aho-corasick"]), default="auto")
def rules_test(packs: tuple[str, ...], config_path: str | None, engine: str) -> int:
    """Run the rules' examples and negative examples (of PACKS, else of every loaded rule)."""
    from nhiscan.config import load_config
    from nhiscan.engine.scanner import Scanner
    from nhiscan.rules import builtin_rules_dir, load_pack, load_rules
    from nhiscan.selftest import check_rule

    config = load_config(config_path, search_root=Path.cwd())
    builtin_dir = builtin_rules_dir().resolve()
    configured = {p.resolve() for p in config.extend}
    extra = [
        Path(p) for p in packs
        if Path(p).resolve().parent != builtin_dir and Path(p).resolve() not in configured
    ]
    for p in packs:
        load_pack(Path(p))  # validates and names a bad pack
    ruleset = load_rules([*config.extend, *extra], disable=config.disable)
    scanner = Scanner(ruleset, backend=engine)  # type: ignore[arg-type]
    wanted = {Path(p).name for p in packs}
    selected = [
        r for r in ruleset.rules
        if not packs or Path(r.source).name in wanted
    ]
    failures = []
    examples = 0
    for r in selected:
        examples += len(r.examples) + len(r.negative_examples)
        failures.extend(check_rule(scanner, r))
    for f in failures:
        click.echo(f"FAIL {f}")
    click.echo(
        f"{len(selected)} rules, {examples} examples: "
        f"{examples - len(failures)} passed, {len(failures)} failed ({scanner.backend})"
    )
    return ExitCode.FINDINGS if failures else ExitCode.CLEAN



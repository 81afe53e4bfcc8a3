"""``nhiscan``: the command group and the entry point.

Subcommands live in their own modules and are imported only when invoked, so that
``nhiscan scan --staged`` in a pre-commit hook pays for nothing it does not use.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Sequence

import click

from nhiscan import __version__
from nhiscan.errors import ExitCode, NhiscanError

# command name -> "module:attribute"; a test proves every entry imports and is a click command.
COMMANDS: dict[str, str] = {
    "scan": "nhiscan.cli.scan_cmd:scan",
    "git": "nhiscan.cli.git_cmd:git",
    "inventory": "nhiscan.cli.inventory_cmd:inventory",
    "baseline": "nhiscan.cli.baseline_cmd:baseline",
    "rules": "nhiscan.cli.rules_cmd:rules",
    "sweep": "nhiscan.cli.sweep_cmd:sweep",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attr = target.split(":")
        try:
            command = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError):
            return None
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="nhiscan")
def cli() -> None:
    """Find hard-coded credentials and keep an audited inventory of non-human identities."""


# ---- entry point ----------------------------------------------------------------------------

def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code; every user error is one line and exit 2."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        rv = cli.main(args=args, prog_name="nhiscan", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.exceptions.Abort:
        sys.stderr.write("nhiscan: interrupted\n")
        return ExitCode.INTERRUPTED
    except click.UsageError as exc:
        hint = f" (see 'nhiscan {exc.ctx.command_path.split(' ', 1)[1]} --help')" if exc.ctx and " " in exc.ctx.command_path else ""
        sys.stderr.write(f"nhiscan: error: {exc.format_message()}{hint}\n")
        return ExitCode.ERROR
    except click.ClickException as exc:
        sys.stderr.write(f"nhiscan: error: {exc.format_message()}\n")
        return ExitCode.ERROR
    except NhiscanError as exc:
        sys.stderr.write(f"nhiscan: error: {exc}\n")
        return ExitCode.ERROR
    except KeyboardInterrupt:
        sys.stderr.write("nhiscan: interrupted\n")
        return ExitCode.INTERRUPTED
    except MemoryError:
        sys.stderr.write("nhiscan: error: out of memory (lower --jobs or --max-file-size)\n")
        return ExitCode.ERROR
    except Exception as exc:  # never a traceback for the user; NHISCAN_DEBUG=1 shows it
        if os.environ.get("NHISCAN_DEBUG"):
            raise
        sys.stderr.write(f"nhiscan: internal error: {type(exc).__name__} (set NHISCAN_DEBUG=1 for details)\n")
        return ExitCode.ERROR
    return int(rv) if isinstance(rv, int) else ExitCode.CLEAN


def run() -> None:
    sys.exit(main())

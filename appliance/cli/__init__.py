"""The `appliance` command line: glue that parses options, calls one library function, prints."""

from __future__ import annotations

import importlib
import sys
import traceback
from pathlib import Path

import click

from appliance import __version__
from appliance.cli.context import pass_console
from appliance.console import Console
from appliance.errors import EXIT_BAD_INPUT, EXIT_FAILED, ApplianceError

__all__ = ["cli", "main", "pass_console"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="appliance")
@click.option("-q", "--quiet", is_flag=True, help="Silence status lines on stderr.")
@click.option("-v", "--verbose", is_flag=True, help="More detail; tracebacks on errors.")
@click.pass_context
def cli(ctx: click.Context, quiet: bool, verbose: bool) -> None:
    """Local-first ML platform appliance: up, conformance, review, down."""
    ctx.obj = Console(quiet=quiet, verbose=verbose)


def _register() -> None:
    # One module per command family (appliance/cli/*_command(s).py), each exposing `commands`;
    # discovered so that families land without editing this file.
    package_dir = Path(__file__).parent
    for path in sorted(package_dir.glob("*_command*.py")):
        module = importlib.import_module(f"appliance.cli.{path.stem}")
        for command in module.commands:
            cli.add_command(command)


_register()


def main(argv: list[str] | None = None) -> None:
    """Entry point: ApplianceErrors become one line and their exit code (traceback with -v)."""
    args = list(sys.argv[1:] if argv is None else argv)
    verbose = "-v" in args or "--verbose" in args
    try:
        cli.main(args=args, prog_name="appliance", standalone_mode=False)
    except ApplianceError as exc:
        if verbose:
            traceback.print_exc()
        Console().error(exc.render())
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        Console().error("interrupted")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        Console().error("interrupted")
        sys.exit(130)
    except UnicodeDecodeError as exc:
        # An input file that is not text: bad input wherever it was read.
        if verbose:
            traceback.print_exc()
        Console().error(f"an input file is not UTF-8 text: {exc} (fix: pass a text file)")
        sys.exit(EXIT_BAD_INPUT)
    except Exception as exc:
        # Last resort: an unexpected failure is still one line without -v, and says how to see more.
        if verbose:
            traceback.print_exc()
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        Console().error(f"unexpected error: {type(exc).__name__}: {first} "
                        "(run again with -v for the traceback, and report it)")
        sys.exit(EXIT_FAILED)
    sys.exit(0)

"""The `appliance` command line: glue that parses options, calls one library function, prints."""

from __future__ import annotations

import importlib
import sys
import traceback

import click

from appliance import __version__
from appliance.cli.context import Session, TargetFactory, pass_console
from appliance.console import Console
from appliance.errors import EXIT_BAD_INPUT, EXIT_FAILED, ApplianceError

__all__ = ["cli", "main", "pass_console"]


# Every command, registered explicitly: name -> (module under appliance.cli, attribute, summary).
# A command's module is imported when the command runs, so `--version` and `--help` import no
# engine (kfp, Optuna, minio, the renderer). tests/foundation/test_cli_registry.py checks that each
# entry loads, is named as registered and has the short help shown here.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "conformance": ("conformance_command", "conformance",
          'Prove a stack works: object store, pipelines, tuning, serving, promotion gates.'),
    "diagnose": ("diagnose_command", "diagnose",
                 "Write a stack's diagnostics (status, events, pod states, logs) to a folder."),
    "doctor": ("doctor_command", "doctor_cmd",
          'Check prerequisites: one ✓/✗ line per check with a fix hint.'),
    "down": ("stack_commands", "down",
          'Stop everything `up` started and remove its state.'),
    "env": ("stack_commands", "env",
          "Print shell exports pointing AWS tools at the stack's object store: eval "
          '"$(appliance env)".'),
    "fetch": ("render_command", "fetch",
          "Fill the upstream cache from pinned sources (online) and verify every file's "
          'sha256.'),
    "gate": ("gate_commands", "gate",
          "Promotion gates: compare a challenger's metrics with the champion's under a "
          'policy.'),
    "lock": ("lock_command", "lock",
             "Resolve every image of the rendered profiles to a digest through its registry and "
             "write the lock."),
    "registry": ("gate_commands", "registry",
          "The model registry in the stack's object store: champion, history, decisions."),
    "render": ("render_command", "render",
          'Render a profile to hardened, validated Kubernetes manifests (offline, '
          'deterministic).'),
    "review": ("review_command", "review_cmd",
          'Review manifests offline for Pod Security, RBAC, exposure, network policy, '
          'images, resources and credentials.'),
    "run": ("pipeline_command", "run",
          'Run a KFP v2 pipeline (FILE.py[:NAME] or compiled YAML) on a stack.'),
    "serve": ("serve_command", "serve",
          'Serve models on a stack over the KServe v1 and v2 protocols.'),
    "status": ("stack_commands", "status",
          'Components, endpoints, probed health and uptime of a stack (exit 1 when '
          'unhealthy or not up).'),
    "tune": ("tune_command", "tune",
          'Run a Katib v1beta1 Experiment on a stack; exit 1 if it ends Failed.'),
    "up": ("stack_commands", "up",
          'Start a stack in the background (idempotent).'),
}


def load_command(name: str) -> click.Command:
    module, attribute = COMMANDS[name][:2]
    command: click.Command = getattr(importlib.import_module(f"appliance.cli.{module}"), attribute)
    return command


class LazyGroup(click.Group):
    """A group whose commands come from COMMANDS, imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return load_command(cmd_name) if cmd_name in COMMANDS else None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Truncated as click truncates a loaded command's short help, for the same output.
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = [(name, click.Command(name, help=COMMANDS[name][2]).get_short_help_str(limit))
                for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="appliance")
@click.option("-q", "--quiet", is_flag=True, help="Silence status lines on stderr.")
@click.option("-v", "--verbose", is_flag=True, help="More detail; tracebacks on errors.")
@click.pass_context
def cli(ctx: click.Context, quiet: bool, verbose: bool) -> None:
    """Local-first ML platform appliance: up, conformance, review, down."""
    # main() may hand a target factory in (tests pass fakes); None means appliance.targets.get.
    ctx.obj = Session(Console(quiet=quiet, verbose=verbose), ctx.obj if callable(ctx.obj) else None)


def main(argv: list[str] | None = None, target_factory: TargetFactory | None = None) -> None:
    """Entry point: ApplianceErrors become one line and their exit code (traceback with -v).
    `target_factory` replaces appliance.targets.get (tests pass fakes of the Target interface)."""
    args = list(sys.argv[1:] if argv is None else argv)
    verbose = "-v" in args or "--verbose" in args
    try:
        cli.main(args=args, prog_name="appliance", standalone_mode=False, obj=target_factory)
    except ApplianceError as exc:
        if verbose:
            traceback.print_exc()
        Console().error(exc.render())
        sys.exit(exc.exit_code)
    except click.exceptions.Abort as exc:
        Console().error(interrupted(exc.__cause__))  # click turns KeyboardInterrupt into Abort
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt as exc:
        Console().error(interrupted(exc))
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


def interrupted(exc: BaseException | None) -> str:
    """The interrupt's message, with what was stopped on the way out (the engines' notes)."""
    return "; ".join(["interrupted", *getattr(exc, "__notes__", ())])

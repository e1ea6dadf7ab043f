"""The CLI's commands are registered explicitly and imported lazily: `--version`/`--help` import no engine."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from appliance.cli import COMMANDS, cli, load_command


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_registered_command_loads_with_its_name_and_short_help(name: str) -> None:
    command = load_command(name)
    assert isinstance(command, click.Command)
    assert command.name == name
    assert command.get_short_help_str(limit=1000) == COMMANDS[name][2]


def test_unknown_commands_are_not_found() -> None:
    assert cli.get_command(click.Context(cli), "launch") is None


@pytest.mark.integration
def test_version_and_help_import_no_engine() -> None:
    heavy = ("kfp", "optuna", "minio", "kserve", "kubernetes", "boto3", "moto", "appliance.render",
             "appliance.review", "appliance.targets.local")
    probe = ("import sys, runpy\n"
             "sys.argv = ['appliance', ARG]\n"
             "try:\n    runpy.run_module('appliance', run_name='__main__')\n"
             "except SystemExit:\n    pass\n"
             f"print(sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r} "
             f"or any(m.startswith(h) for h in {heavy!r})))\n")
    for arg in ("--version", "--help"):
        done = subprocess.run([sys.executable, "-c", probe.replace("ARG", repr(arg))],
                              capture_output=True, text=True, timeout=60, check=True)
        assert done.stdout.strip().splitlines()[-1] == "[]", (arg, done.stdout)

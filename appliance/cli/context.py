"""Shared click helpers: the Console passed through the context."""

from __future__ import annotations

import click

from appliance.console import Console

pass_console = click.make_pass_decorator(Console, ensure=True)

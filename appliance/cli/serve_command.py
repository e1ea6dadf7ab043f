"""`appliance serve ...`: deploy, list, predict, roll back, delete, sync and follow models on a stack."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from appliance.cli import context
from appliance.cli.context import pass_console
from appliance.console import Console, Progress
from appliance.errors import BadInput
from appliance.runtime.state import validate_name
from appliance.serving.interface import ServingEngine
from appliance.serving.records import DEFAULT_INTERVAL, Deployment
from appliance.stacks import DEFAULT_STACK

stack_option = click.option(
    "--stack", "stack_name", default=DEFAULT_STACK, show_default=True,
    callback=lambda c, p, v: validate_name(v), help="Name of the stack that serves.",
)


def _engine(stack_name: str) -> ServingEngine:
    return context.open_stack(stack_name).serving


def _describe(deployment: Deployment) -> str:
    return (f"{deployment.name}: {deployment.model.uri} (version {deployment.model.version})\n"
            f"  v1 {deployment.endpoint.v1_url}\n  v2 {deployment.endpoint.v2_url}")


@contextmanager
def _progress(console: Console) -> Iterator[Progress]:
    """A live line while a deploy waits (minutes on a cluster), cleared before the ✓/✗ line."""
    try:
        yield console.progress
    finally:
        console.end_progress()


@click.group("serve")
def serve() -> None:
    """Serve models on a stack over the KServe v1 and v2 protocols."""


@serve.command("deploy")
@click.argument("name")
@click.option("--model-uri", required=True, help="Model artifact: s3://bucket/key or a local path.")
@stack_option
@pass_console
def deploy(console: Console, name: str, model_uri: str, stack_name: str) -> None:
    """Serve MODEL_URI as NAME; on an existing NAME, a rollout with no failed request."""
    engine = _engine(stack_name)
    existing = engine.get(name)
    verb = "rolled out" if existing else "deployed"
    with console.step(f"{'rollout of' if existing else 'deploy'} {name} -> {model_uri}"), \
            _progress(console) as progress:
        engine.deploy(name, model_uri, progress=progress)
    deployment = engine.require(name)
    console.info(f"{name} {verb}: version {deployment.model.version}")
    console.report(_describe(deployment))


@serve.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
@stack_option
@pass_console
def list_(console: Console, as_json: bool, stack_name: str) -> None:
    """Deployments with model URI, version, v1/v2 URLs and probed health."""
    rows: list[dict[str, Any]] = []
    for deployment, health in _engine(stack_name).list():
        rows.append({**deployment.to_dict(), "healthy": health.healthy, "detail": health.detail})
    if as_json:
        console.report(json.dumps(rows, indent=2, sort_keys=True))
        return
    if not rows:
        console.info(f"no deployments on stack {stack_name!r}")
        return
    lines = []
    for row in rows:
        mark = "✓" if row["healthy"] else "✗"
        lines.append(f"{mark} {row['name']:<16} version {row['version']:<10} {row['detail']:<24} "
                     f"{row['model_uri']}")
        lines.append(f"    v1 {row['v1_url']}\n    v2 {row['v2_url']}")
    console.report("\n".join(lines))


@serve.command("predict")
@click.argument("name")
@click.option("--json", "body", required=True, metavar="JSON",
              help='Request body: {"instances": [...]} (v1) or {"inputs": [...]} (v2); @FILE reads a file.')
@stack_option
@pass_console
def predict(console: Console, name: str, body: str, stack_name: str) -> None:
    """Send one request to NAME (v1 or v2, told apart by the body); print the response."""
    source = "--json"
    if body.startswith("@"):
        source = body[1:]
        try:
            with open(source, encoding="utf-8") as handle:
                body = handle.read()
        except OSError as exc:
            raise BadInput(f"cannot read {source}", exc.strerror or str(exc), "check the path") from exc
    try:
        parsed = json.loads(body, parse_constant=_non_finite, parse_float=_finite_float)
    except NonFinite as exc:
        raise BadInput(f"{source} is not valid JSON", f"non-finite number {exc}",
                       "send finite numbers only (JSON has no NaN or Infinity)") from exc
    except ValueError as exc:
        raise BadInput(f"{source} is not valid JSON", str(exc), "quote the body in single quotes") from exc
    answer = _engine(stack_name).predict(name, parsed)
    console.report(json.dumps(answer, sort_keys=True))


class NonFinite(ValueError):
    """NaN, Infinity or an overflowing literal such as 1e999: JSON cannot carry them."""


def _non_finite(text: str) -> float:
    # Python's json accepts NaN/Infinity, but requests refuses to send them (InvalidJSONError).
    raise NonFinite(text)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NonFinite(text)
    return value


@serve.command("rollback")
@click.argument("name")
@stack_option
@pass_console
def rollback(console: Console, name: str, stack_name: str) -> None:
    """Serve NAME's previous model again (a rollout with no failed request)."""
    engine = _engine(stack_name)
    with console.step(f"rollback of {name}"), _progress(console) as progress:
        engine.rollback(name, progress=progress)
    deployment = engine.require(name)
    console.info(f"{name} serves version {deployment.model.version} again")
    console.report(_describe(deployment))


@serve.command("delete")
@click.argument("name")
@stack_option
@pass_console
def delete(console: Console, name: str, stack_name: str) -> None:
    """Stop serving NAME: its front and model server stop, its record is removed."""
    _engine(stack_name).delete(name)
    console.ok(f"deleted {name}")


@serve.command("sync")
@click.argument("model")
@stack_option
@pass_console
def sync(console: Console, model: str, stack_name: str) -> None:
    """Serve the registry's champion of MODEL as deployment MODEL (rolled out if it changed)."""
    with _progress(console) as progress:
        result = _engine(stack_name).sync(model, progress=progress)
    deployment = result.deployment
    if result.changed:
        console.ok(f"{model} now serves the champion, version {deployment.model.version}")
    else:
        console.ok(f"{model} already serves the champion, version {deployment.model.version}")
    console.report(_describe(deployment))


@serve.command("follow")
@click.argument("model")
@click.option("--interval", type=float, default=DEFAULT_INTERVAL, show_default=True,
              help="Seconds between two reads of the registry.")
@stack_option
@pass_console
def follow(console: Console, model: str, interval: float, stack_name: str) -> None:
    """Keep deployment MODEL on the registry's champion, in the background (stopped by down)."""
    follower = _engine(stack_name).follow(model, interval)
    console.ok(f"following the registry champion of {model} every {interval:g}s ({follower.detail}); "
               f"a promotion serves within {interval:g}s plus one rollout")


@serve.command("unfollow")
@click.argument("model")
@stack_option
@pass_console
def unfollow(console: Console, model: str, stack_name: str) -> None:
    """Stop following the registry for MODEL (the deployment keeps serving)."""
    if _engine(stack_name).unfollow(model):
        console.ok(f"stopped following the registry for {model}")
    else:
        console.info(f"{model} was not following the registry; nothing to do")



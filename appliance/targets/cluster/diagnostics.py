"""The diagnostics bundle: events, pod descriptions, logs and a summary of every not-ready component."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from appliance.errors import ApplianceError
from appliance.targets.cluster.client import ApiError, KubeClient
from appliance.targets.cluster.diagnosis import Diagnosis, HintContext, pod_is_ready
from appliance.targets.cluster.readiness import Component, explain, observe

Obj = dict[str, Any]
# An extra collector writes into the directory it is given (e.g. `kind export logs DIR`); it may
# raise ApplianceError or OSError, which is recorded instead of aborting the bundle.
Extra = Callable[[Path], None]
LOG_TAIL = 500
SUMMARY = "summary.md"


@dataclass
class Collected:
    out_dir: Path
    diagnoses: list[Diagnosis] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what could not be collected, and why


def _name(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def _clean(obj: Obj) -> Obj:
    """An object as `kubectl get -o yaml` shows it, minus managedFields (noise for a human)."""
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
    return {**obj, "metadata": meta}


def _event_time(event: Obj) -> str:
    return str(event.get("lastTimestamp") or event.get("eventTime") or event.get("firstTimestamp") or "")


class _Writer:
    """Files 0600 in directories 0700: pod logs may carry anything an application prints."""

    def __init__(self, root: Path, collected: Collected) -> None:
        self.root = root
        self.collected = collected

    def write(self, relative: str, text: str) -> None:
        path = self.root / relative
        directory = self.root
        for part in Path(relative).parent.parts:  # each level 0700, not only the last
            directory = directory / part
            directory.mkdir(exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        self.collected.files.append(path)

    def yaml(self, relative: str, data: Any) -> None:
        self.write(relative, yaml.safe_dump(data, sort_keys=False, default_flow_style=False))


def _containers(pod: Obj) -> list[tuple[str, Obj]]:
    status = pod.get("status") or {}
    return [(str(s.get("name")), s) for key in ("initContainerStatuses", "containerStatuses")
            for s in status.get(key) or []]


def _collect_namespace(client: KubeClient, namespace: str, out: _Writer, collected: Collected,
                       context: HintContext | None) -> None:
    events = sorted(client.events(namespace), key=_event_time)
    out.yaml(f"events/{namespace}.yaml", [_clean(e) for e in events])
    deployments = client.list("apps/v1", "Deployment", namespace)
    out.yaml(f"deployments/{namespace}.yaml", [_clean(d) for d in deployments])
    for deployment in deployments:
        observed = observe(client, Component(namespace, _name(deployment)))
        if not observed.ready:
            collected.diagnoses.append(explain(client, observed, context))
    for pod in client.list("v1", "Pod", namespace):
        if pod_is_ready(pod):
            continue
        name = _name(pod)
        about = [_clean(e) for e in events if (e.get("involvedObject") or {}).get("name") == name]
        out.yaml(f"pods/{namespace}/{name}.yaml", {"pod": _clean(pod), "events": about})
        for container, status in _containers(pod):
            state = status.get("state") or {}
            wanted = [(False, "log")] if "waiting" not in state else []
            if status.get("restartCount") and (status.get("lastState") or {}).get("terminated"):
                wanted.append((True, "previous.log"))
            for previous, suffix in wanted:
                try:
                    text = client.pod_logs(namespace, name, container, previous=previous, tail=LOG_TAIL)
                except ApiError as exc:
                    where = f"{namespace}/{name}/{container}"
                    collected.problems.append(f"log of {where} ({suffix}): {exc.message}")
                    continue
                out.write(f"logs/{namespace}/{name}/{container}.{suffix}", text)


def render_summary(namespaces: Sequence[str], collected: Collected) -> str:
    lines = ["# Diagnostics", "", f"Namespaces: {', '.join(namespaces) or '(none)'}", ""]
    if not collected.diagnoses:
        lines += ["Every Deployment in these namespaces is ready.", ""]
    for diagnosis in collected.diagnoses:
        lines += [f"## {diagnosis.component}", "", "```text", diagnosis.render(), "```", ""]
    if collected.problems:
        # Continuation lines indented so a multi-line command output stays inside its list item.
        problems = [f"- {p}".replace("\n", "\n  ") for p in collected.problems]
        lines += ["## Not collected", "", *problems, ""]
    return "\n".join(lines)


def collect(client: KubeClient, namespaces: Sequence[str], out_dir: Path, *,
            context: HintContext | None = None, extra: Mapping[str, Extra] | None = None) -> Collected:
    """Write the bundle under out_dir and return what it found. Never raises for what the cluster
    cannot give (an unreachable API, a pod without logs): those are listed in the summary."""
    collected = Collected(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    out = _Writer(out_dir, collected)
    for namespace in namespaces:
        try:
            _collect_namespace(client, namespace, out, collected, context)
        except ApiError as exc:
            collected.problems.append(f"namespace {namespace}: {exc.message}")
    for name, run in (extra or {}).items():
        try:
            run(out_dir / name)
        except (ApplianceError, OSError) as exc:
            why = exc.render() if isinstance(exc, ApplianceError) else str(exc)
            collected.problems.append(f"{name}: {why}")
    out.write(SUMMARY, render_summary(namespaces, collected))
    return collected

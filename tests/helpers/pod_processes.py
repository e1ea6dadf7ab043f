"""A pod's container run as a local process, for the integration tier: its environment resolved as
the kubelet resolves it (plain values, and Secret and ConfigMap keys read from the fake cluster:
a missing one is the kubelet's CreateContainerConfigError), and the in-cluster addresses of
Services routed to the local servers standing in for them (the cluster's DNS, as a rewrite).

The image is this interpreter's environment: `python`/`python3` on PATH are the test's own
(the stubs image has kfp, the stubs and the appliance; so has this virtualenv).
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fake_cluster import FakeCluster

from appliance.targets.cluster.client import ObjRef

TIMEOUT = 300.0


@dataclass
class PodNetwork:
    """What a pod can reach: `routes` maps an in-cluster `host:port` to a local `127.0.0.1:port`."""

    cluster: FakeCluster
    routes: dict[str, str] = field(default_factory=dict)

    def route(self, value: str) -> str:
        for inside, outside in self.routes.items():
            value = value.replace(inside, outside)
        return value

    def env(self, namespace: str, entries: Sequence[Mapping[str, Any]]) -> dict[str, str]:
        """A container's `env` as the process sees it (in-cluster addresses routed)."""
        resolved: dict[str, str] = {}
        for entry in entries:
            name = str(entry["name"])
            source = entry.get("valueFrom") or {}
            if "secretKeyRef" in source:
                ref = source["secretKeyRef"]
                resolved[name] = base64.b64decode(self._key(namespace, "Secret", ref)).decode()
            elif "configMapKeyRef" in source:
                resolved[name] = str(self._key(namespace, "ConfigMap", source["configMapKeyRef"]))
            else:
                resolved[name] = self.route(str(entry.get("value", "")))
        return resolved

    def _key(self, namespace: str, kind: str, ref: Mapping[str, Any]) -> str:
        found = self.cluster.get(ObjRef("v1", kind, str(ref["name"]), namespace))
        data = (found or {}).get("data") or {}
        if ref["key"] not in data:
            raise AssertionError(f"CreateContainerConfigError: {kind.lower()} {ref['name']!r} or its "
                                 f"key {ref['key']!r} not found in namespace {namespace}")
        return str(data[ref["key"]])

    def run(self, argv: Sequence[str], env: Mapping[str, str], cwd: Path,
            timeout: float = TIMEOUT) -> tuple[int, str]:
        """Run the container's command; returns its exit code and its output (stdout and stderr
        interleaved, as a container log has them)."""
        cwd.mkdir(parents=True, exist_ok=True)
        base = {"PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"]),
                "HOME": str(cwd), "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1"}
        done = subprocess.run(list(argv), env={**base, **env}, cwd=cwd,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
                              check=False)
        return done.returncode, done.stdout.decode(errors="replace")

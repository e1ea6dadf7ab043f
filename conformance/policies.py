"""The `gate_policy` fixture's handle: a GatePolicy document, stored as YAML for the test to use."""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from conformance.sandbox import ObjectStoreSandbox

API_VERSION = "appliance.dev/v1alpha1"
# The policy of the promotion contract (docs/gates.md): accuracy at least 0.80, at least 0.01
# better than the champion, and at most 0.05 apart between any two groups.
DEFAULT_SPEC: dict[str, Any] = {
    "primaryMetric": "accuracy",
    "direction": "maximize",
    "minImprovement": 0.01,
    "required": ["accuracy"],
    "thresholds": [{"metric": "accuracy", "min": 0.80}],
    "fairness": [{"metric": "accuracy", "maxGap": 0.05}],
}


@dataclass(frozen=True)
class GatePolicy:
    """A gate policy written to `path` (local) and `uri` (the test's object-store prefix)."""

    name: str
    spec: dict[str, Any]
    path: Path
    uri: str

    @property
    def document(self) -> dict[str, Any]:
        return {
            "apiVersion": API_VERSION,
            "kind": "GatePolicy",
            "metadata": {"name": self.name},
            "spec": copy.deepcopy(self.spec),
        }

    @property
    def text(self) -> str:
        return yaml.safe_dump(self.document, sort_keys=False)

    @functools.cached_property
    def policy(self) -> Any:
        """The decoded policy (appliance.gates.policy.Policy) the gate evaluates."""
        from appliance.gates import policy

        return policy.loads(self.text, str(self.path))


@dataclass(frozen=True)
class GatePolicies:
    """Writes policies into the test's tmp dir and object-store prefix."""

    sandbox: ObjectStoreSandbox
    directory: Path

    def write(self, name: str = "conformance", **spec: Any) -> GatePolicy:
        """The default spec with `spec`'s keys replaced (e.g. minImprovement=0.02)."""
        merged = {**copy.deepcopy(DEFAULT_SPEC), **spec}
        path = self.directory / f"{name}.policy.yaml"
        handle = GatePolicy(name, merged, path, self.sandbox.uri(f"policies/{name}.yaml"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(handle.text, encoding="utf-8")
        self.sandbox.put(f"policies/{name}.yaml", handle.text.encode(), content_type="application/yaml")
        return handle

"""The rendered Bundle: objects in a stable apply order, serialised byte-deterministically."""

from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from appliance.harden.model import Change
from appliance.k8s.refs import ResourceRef
from appliance.runtime.output import check_dir, check_file, write_text, writing

_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

# Apply order: namespaces, CRDs, RBAC, config, workloads, services, policies, then custom
# resources (which need their CRDs established and their webhooks served).
KIND_ORDER = (
    "Namespace",
    "CustomResourceDefinition",
    "PriorityClass",
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "ConfigMap",
    "Secret",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
    "Service",
    "NetworkPolicy",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
)
_RANK = {kind: index for index, kind in enumerate(KIND_ORDER)}
MANAGED_BY = "app.kubernetes.io/managed-by"
PROFILE_LABEL = "appliance.dev/profile"


def sort_key(obj: dict[str, Any]) -> tuple[int, str, str, str]:
    ref = ResourceRef.of(obj)
    return (_RANK.get(ref.kind, len(KIND_ORDER)), ref.kind, ref.namespace, ref.name)


def ordered(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(objects, key=sort_key)


def label(objects: list[dict[str, Any]], profile: str) -> None:
    """Mark every object as the appliance's, with its profile (top-level metadata only:
    selectors and pod templates stay as upstream wrote them)."""
    for obj in objects:
        labels = obj.setdefault("metadata", {}).setdefault("labels", {})
        labels[MANAGED_BY] = "appliance"
        labels[PROFILE_LABEL] = profile


# Serialised documents by content digest: CRDs (megabytes each) recur across profiles and renders,
# and serialising them dominates a render. Bounded so a long-lived process does not grow forever.
_DUMPED: OrderedDict[str, str] = OrderedDict()
_DUMPED_MAX = 512


def _dump_one(obj: dict[str, Any]) -> str:
    key = hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()
    text = _DUMPED.get(key)
    if text is None:
        text = yaml.dump(obj, Dumper=_Dumper, sort_keys=True, default_flow_style=False,
                         allow_unicode=True, width=4096, explicit_start=True)
        _DUMPED[key] = text
        if len(_DUMPED) > _DUMPED_MAX:
            _DUMPED.popitem(last=False)
    return text


def dump(objects: list[dict[str, Any]]) -> str:
    """Multi-document YAML with sorted keys: the same objects give the same bytes."""
    return "".join(_dump_one(obj) for obj in objects)


@dataclass
class Bundle:
    """A rendered, hardened profile: what `appliance render` writes and `review` reads."""

    profile: str
    components: tuple[str, ...]
    objects: list[dict[str, Any]]
    exceptions: list[dict[str, Any]] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)

    def to_yaml(self) -> str:
        return dump(self.objects)

    def images(self) -> list[str]:
        """Every image the bundle runs: pod templates and the runtime images controllers start
        (what a preload step loads and `appliance lock` locks)."""
        from appliance.harden.image_digests import image_fields

        found = {c["image"] for o in self.objects for c, _ in image_fields(o) if c.get("image")}
        found.update(self.runtime_images())
        return sorted(found)

    def runtime_images(self) -> dict[str, list[str]]:
        """Images controllers start after install -> what starts them (sorted)."""
        from appliance.harden.runtime import runtime_images

        found: dict[str, set[str]] = {}
        for obj in self.objects:
            for image, role in runtime_images(obj):
                found.setdefault(image, set()).add(role)
        return {image: sorted(roles) for image, roles in sorted(found.items())}

    def report(self) -> dict[str, Any]:
        """The hardening record: every change and every accepted exception."""
        return {
            "profile": self.profile,
            "components": list(self.components),
            "changes": [c.as_record() for c in self.changes],
            "exceptions": self.exceptions,
        }

    def write(self, target: Path, option: str = "-o") -> list[Path]:
        """A directory gets one file per object (numbered in apply order) and hardening.json;
        a path ending in .yaml/.yml gets the whole bundle as one multi-document YAML file.
        A path that cannot be written raises BadInput (exit 2)."""
        if is_file_target(target):
            check_file(target, option)
            write_text(target, self.to_yaml(), option)
            return [target]
        check_dir(target, option, DIR_FIX)
        with writing(target, option):
            return self._write_dir(target)

    def _write_dir(self, target: Path) -> list[Path]:
        target.mkdir(parents=True, exist_ok=True)
        for stale in target.glob("[0-9][0-9][0-9]-*.yaml"):
            stale.unlink()  # a re-render must not leave objects the profile no longer has
        written = []
        for index, obj in enumerate(self.objects):
            ref = ResourceRef.of(obj)
            parts = [ref.kind, ref.namespace, ref.name] if ref.namespace else [ref.kind, ref.name]
            name = re.sub(r"[^A-Za-z0-9.-]+", "_", "-".join(parts)).lower()
            path = target / f"{index:03d}-{name}.yaml"
            path.write_text(dump([obj]), encoding="utf-8")
            written.append(path)
        report = target / "hardening.json"
        report.write_text(json.dumps(self.report(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return written + [report]


def is_file_target(target: Path) -> bool:
    """`render -o`: a .yaml/.yml path is one file, anything else a directory."""
    return target.suffix in (".yaml", ".yml")


DIR_FIX = "give a directory, or a path ending in .yaml for one multi-document file"


def check_target(target: Path, option: str = "-o") -> None:
    """Check an -o target of `render` before rendering (BadInput when it cannot be written)."""
    if is_file_target(target):
        check_file(target, option)
    else:
        check_dir(target, option, DIR_FIX)

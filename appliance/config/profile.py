"""Profiles: which components a stack runs, decoded strictly with every problem reported at once."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from appliance import safe_yaml
from appliance.config.strict import unknown_fields
from appliance.errors import BadInput, InvalidDocument
from appliance.paths import shipped

API_VERSION = "appliance.dev/v1alpha1"
COMPONENTS = ("object-store", "pipelines", "tuning", "serving")
PROFILES_DIR = shipped()
DEFAULT_PROFILE = "standard"
# Pod Security level enforced on the namespaces a profile owns.
POSTURES = ("restricted", "baseline")
# The name becomes the value of the `appliance.dev/profile` label on every rendered object, so it
# must be a Kubernetes label value; a DNS-1123 label (the stricter rule, also valid in object
# names) keeps it usable anywhere.
NAME_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
NAME_MAX = 63


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    components: tuple[str, ...]
    source: Path
    posture: str = "restricted"

    def has(self, component: str) -> bool:
        return component in self.components

    def to_document(self) -> dict[str, Any]:
        """The profile as a document `decode` accepts: what a stack records of its profile."""
        metadata: dict[str, Any] = {"name": self.name}
        if self.description:
            metadata["description"] = self.description
        return {
            "apiVersion": API_VERSION,
            "kind": "Profile",
            "metadata": metadata,
            "spec": {"components": list(self.components), "posture": self.posture},
        }


def available() -> list[str]:
    # profiles/ also holds the component catalog and the image lock: list only Profile documents.
    return sorted(
        p.stem
        for p in PROFILES_DIR.glob("*.yaml")
        if re.search(r"^kind:\s*Profile\s*$", p.read_text(encoding="utf-8"), re.MULTILINE)
    )


def load(name_or_path: str) -> Profile:
    """Load a shipped profile by name, or a profile file by path."""
    path = Path(name_or_path)
    if not (path.suffix in (".yaml", ".yml") and path.exists()):
        path = PROFILES_DIR / f"{name_or_path}.yaml"
        if not path.exists():
            raise BadInput(
                f"unknown profile {name_or_path!r}",
                f"shipped profiles: {', '.join(available())}",
                "pass one of those names or the path of a profile file",
            )
    try:
        data = safe_yaml.load(path.read_text(encoding="utf-8"), str(path))
    except yaml.YAMLError as exc:
        raise BadInput(f"{path} is not valid YAML", " ".join(str(exc).split()),
                       "fix the YAML at the line shown") from exc
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path} is not UTF-8 text", str(exc), "pass a YAML profile file") from exc
    except OSError as exc:
        raise BadInput(f"{path} cannot be read", exc.strerror or str(exc),
                       "pass a YAML profile file") from exc
    return decode(data, path)


def decode(data: Any, source: Path) -> Profile:
    problems: list[str] = []
    if not isinstance(data, dict):
        raise InvalidDocument(str(source), ["document: expected a mapping"])
    unknown_fields(data, {"apiVersion", "kind", "metadata", "spec"}, "", problems)
    if data.get("apiVersion") != API_VERSION:
        problems.append(f"apiVersion: expected {API_VERSION!r}, got {data.get('apiVersion')!r}")
    if data.get("kind") != "Profile":
        problems.append(f"kind: expected 'Profile', got {data.get('kind')!r}")
    metadata = data.get("metadata")
    name = ""
    description = ""
    if not isinstance(metadata, dict):
        problems.append("metadata: expected a mapping with a name")
    else:
        unknown_fields(metadata, {"name", "description"}, "metadata.", problems)
        name = metadata.get("name") or ""
        description = str(metadata.get("description") or "")
        if not isinstance(name, str) or not name:
            problems.append("metadata.name: required string")
        elif len(name) > NAME_MAX or not NAME_RE.fullmatch(name):
            problems.append(
                f"metadata.name: {name!r} is not a DNS-1123 label (lowercase letters, digits and "
                f"'-', starting and ending with a letter or digit, at most {NAME_MAX} characters); "
                "it becomes the appliance.dev/profile label value"
            )
    spec = data.get("spec")
    components: list[str] = []
    posture: object = "restricted"
    if not isinstance(spec, dict):
        problems.append("spec: expected a mapping with components")
    else:
        unknown_fields(spec, {"components", "posture"}, "spec.", problems)
        posture = spec.get("posture", "restricted")
        if posture not in POSTURES:
            problems.append(f"spec.posture: expected one of {', '.join(POSTURES)}, got {posture!r}")
        raw = spec.get("components")
        if not isinstance(raw, list) or not raw:
            problems.append("spec.components: expected a non-empty list")
        else:
            for index, item in enumerate(raw):
                if item not in COMPONENTS:
                    problems.append(
                        f"spec.components[{index}]: unknown component {item!r} "
                        f"(known: {', '.join(COMPONENTS)})"
                    )
                else:
                    components.append(item)
            if "object-store" not in raw:
                problems.append("spec.components: every profile needs 'object-store'")
            for item in sorted({c for c in components if components.count(c) > 1}):
                problems.append(f"spec.components: {item!r} listed more than once")
    if problems:
        raise InvalidDocument(str(source), problems, "see profiles/ for valid examples")
    return Profile(str(name), description, tuple(components), source, str(posture))

"""Stack state in one run dir: written atomically, secrets 0600, foreign or corrupt files rejected."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appliance import paths
from appliance.errors import BadInput

API_VERSION = "appliance.dev/v1alpha1"
STATE_KIND = "StackState"
STATE_FILE = "state.json"
CREDENTIALS_FILE = "credentials.json"
NAME_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$")


def validate_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise BadInput(
            f"invalid stack name {name!r}",
            "names are 1-40 lowercase letters, digits or '-', starting and ending alphanumeric",
            "pick a name such as 'dev' or 'ci-1'",
        )
    return name


@dataclass
class Component:
    """One running part of a stack (a process, its port and endpoint)."""

    name: str
    pid: int
    port: int
    endpoint: str
    started: float
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "pid": self.pid,
            "port": self.port,
            "endpoint": self.endpoint,
            "started": self.started,
            "extra": self.extra,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Component:
        return cls(
            name=str(data["name"]),
            pid=int(data["pid"]),
            port=int(data["port"]),
            endpoint=str(data["endpoint"]),
            started=float(data["started"]),
            extra=dict(data.get("extra") or {}),
        )


@dataclass
class StackState:
    """Everything `down` needs to find and stop a stack, and `status` needs to report it."""

    name: str
    target: str
    profile: str
    created: float
    components: dict[str, Component] = field(default_factory=dict)
    # The decoded profile the stack was started with (a Profile document) and the file it came
    # from: later commands use it as it was, never re-resolving the name among shipped profiles.
    profile_document: dict[str, Any] | None = None
    profile_source: str = ""
    # Target-specific settings recorded at `up` (e.g. kind's kubeconfig and forward ports).
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = {
            "apiVersion": API_VERSION,
            "kind": STATE_KIND,
            "name": self.name,
            "target": self.target,
            "profile": self.profile,
            "created": self.created,
            "components": {k: c.to_dict() for k, c in sorted(self.components.items())},
        }
        if self.profile_document is not None:
            data["profileDocument"] = self.profile_document
            data["profileSource"] = self.profile_source
        if self.settings:
            data["settings"] = self.settings
        return data

    @classmethod
    def from_dict(cls, data: Any, source: Path) -> StackState:
        if not isinstance(data, dict) or data.get("kind") != STATE_KIND:
            raise BadInput(
                f"{source} is not an appliance state file",
                "it lacks kind: StackState",
                f"run 'appliance down --name {source.parent.name}' to clean it up",
            )
        if data.get("apiVersion") != API_VERSION:
            raise BadInput(
                f"{source} has unsupported apiVersion {data.get('apiVersion')!r}",
                f"this appliance reads {API_VERSION}",
                f"stop the stack with the appliance that started it, or remove {source.parent}",
            )
        try:
            return cls(
                name=str(data["name"]),
                target=str(data["target"]),
                profile=str(data["profile"]),
                created=float(data["created"]),
                components={
                    str(k): Component.from_dict(v) for k, v in (data.get("components") or {}).items()
                },
                profile_document=_optional_mapping(data.get("profileDocument")),
                profile_source=str(data.get("profileSource") or ""),
                settings=_optional_mapping(data.get("settings")) or {},
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BadInput(
                f"{source} is corrupted",
                f"bad or missing field {exc}",
                f"run 'appliance down --name {source.parent.name}' to clean it up",
            ) from exc


def _optional_mapping(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise TypeError(f"expected a mapping, got {type(value).__name__}")
    return dict(value)


def write_atomic(path: Path, text: str, mode: int = 0o644) -> None:
    """Write via a temp file in the same dir + rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class RunDir:
    """The directory of one stack: state.json, credentials.json (0600), logs."""

    def __init__(self, name: str, root: Path | None = None) -> None:
        self.name = validate_name(name)
        self.path = (root or paths.stacks_dir()) / name

    @property
    def state_file(self) -> Path:
        return self.path / STATE_FILE

    @property
    def credentials_file(self) -> Path:
        return self.path / CREDENTIALS_FILE

    @property
    def logs(self) -> Path:
        return self.path / "logs"

    def exists(self) -> bool:
        return self.path.exists()

    def create(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.path, 0o700)
        self.logs.mkdir(exist_ok=True, mode=0o700)

    def load(self) -> StackState | None:
        if not self.state_file.exists():
            return None
        try:
            data = json.loads(self.state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:  # ValueError covers JSON and UTF-8 decoding
            raise BadInput(
                f"{self.state_file} is corrupted",
                str(exc),
                f"run 'appliance down --name {self.name}' to clean it up",
            ) from exc
        return StackState.from_dict(data, self.state_file)

    def save(self, state: StackState) -> None:
        write_atomic(self.state_file, json.dumps(state.to_dict(), indent=2, sort_keys=True) + "\n")

    def save_credentials(self, credentials: dict[str, str]) -> None:
        write_atomic(self.credentials_file, json.dumps(credentials, indent=2) + "\n", mode=0o600)

    def load_credentials(self) -> dict[str, str]:
        try:
            data = json.loads(self.credentials_file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise BadInput(
                f"credentials of stack {self.name!r} are unreadable",
                str(exc),
                f"run 'appliance down --name {self.name}' and 'appliance up' again",
            ) from exc
        if not isinstance(data, dict):
            raise BadInput(f"{self.credentials_file} is corrupted", "not a JSON object")
        return {str(k): str(v) for k, v in data.items()}

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def list_stacks(root: Path | None = None) -> list[str]:
    base = root or paths.stacks_dir()
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if p.is_dir() and NAME_PATTERN.match(p.name))

"""The kind CLI over the CommandRunner seam: pure argv builders, parsers of kind's output, one cluster."""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from appliance.errors import ExternalCommandFailed
from appliance.runtime.process import CommandResult, CommandRunner
from appliance.runtime.state import validate_name, write_atomic
from appliance.targets.kind import versions

PREFIX = "appliance-"
KUBECONFIG_FILE = "kubeconfig"
CREATE_WAIT = "120s"
# kind create = node image pull (cached or not) + kubeadm init + its own --wait of 120 s.
CREATE_TIMEOUT = 600.0
LOAD_TIMEOUT = 600.0
QUICK_TIMEOUT = 30.0
LOGS_TIMEOUT = 300.0

# kind's `get clusters` logs this (to stderr) and exits 0 when there are none (get/clusters/clusters.go).
NO_CLUSTERS = "No kind clusters found."
# kind's own rule for cluster names (internal/apis/config/validate.go).
_CLUSTER_NAME = re.compile(r"^[a-z0-9.-]+$")
# kind's --wait only warns on timeout (create/actions/waitforready/waitforready.go) and exits 0.
WAIT_TIMED_OUT = "WARNING: Timed out waiting for Ready"

# Known failure texts of kind and Docker → (why, fix); first match wins.
_HINTS: tuple[tuple[str, str, str], ...] = (
    ("Cannot connect to the Docker daemon", "the Docker daemon is not running",
     "start Docker: 'sudo systemctl start docker' on Linux, Docker Desktop on macOS/Windows"),
    ("permission denied while trying to connect to the Docker daemon",
     "this user may not use the Docker socket",
     "add the user to the docker group (sudo usermod -aG docker $USER) and log in again"),
    ("node(s) already exist for a cluster with the name", "a kind cluster with this name already exists",
     "run 'appliance down' for this stack (or 'kind delete cluster --name <name>') and retry"),
    ("content digest", "containerd could not import a multi-platform archive (kubernetes-sigs/kind#3795)",
     "save single-platform archives ('docker save --platform linux/<arch>'), or disable Docker's "
     "containerd image store (\"features\": {\"containerd-snapshotter\": false} in daemon.json)"),
    ("unknown cluster", "the kind cluster does not exist", "run 'appliance up --target kind' first"),
    ("no nodes found for cluster", "the kind cluster does not exist",
     "run 'appliance up --target kind' first"),
)


def cluster_name(stack: str) -> str:
    """kind cluster of a stack: `appliance-<stack>` (≤ 50 characters, kind's hostname-safe limit)."""
    return PREFIX + validate_name(stack)


def node_name(cluster: str) -> str:
    """The control-plane container of a one-node kind cluster."""
    return f"{cluster}-control-plane"


def context_name(cluster: str) -> str:
    return f"kind-{cluster}"


def version_argv() -> list[str]:
    return ["kind", "version"]


def get_clusters_argv() -> list[str]:
    return ["kind", "get", "clusters"]


def create_argv(cluster: str, config: Path, kubeconfig: Path, retain: bool = False,
                wait: str = CREATE_WAIT) -> list[str]:
    argv = ["kind", "create", "cluster", "--name", cluster, "--config", str(config),
            "--kubeconfig", str(kubeconfig), "--wait", wait]
    return argv + ["--retain"] if retain else argv


def delete_argv(cluster: str, kubeconfig: Path) -> list[str]:
    # Always name our kubeconfig: without it kind edits $KUBECONFIG or ~/.kube/config.
    return ["kind", "delete", "cluster", "--name", cluster, "--kubeconfig", str(kubeconfig)]


def load_archive_argv(cluster: str, archive: Path) -> list[str]:
    return ["kind", "load", "image-archive", str(archive), "--name", cluster]


def export_logs_argv(cluster: str, out_dir: Path) -> list[str]:
    return ["kind", "export", "logs", str(out_dir), "--name", cluster]


def get_kubeconfig_argv(cluster: str) -> list[str]:
    return ["kind", "get", "kubeconfig", "--name", cluster]


def parse_version(output: str) -> tuple[int, int, int]:
    """`kind v0.33.0 go1.25.3 linux/amd64` (or `-q`'s bare `0.33.0`) → (0, 33, 0)."""
    for line in output.splitlines():
        words = line.split()
        candidate = words[1] if len(words) > 1 and words[0] == "kind" else line.strip()
        found = versions.parse_semver(candidate)
        if found is not None and candidate.lstrip("v")[:1].isdigit():
            return found
    raise ValueError(f"no kind version in {output.strip()[:120]!r}")


def parse_clusters(output: str) -> list[str]:
    """Cluster names, one a line; kind's 'No kind clusters found.' (and other log lines) are not names."""
    return [line.strip() for line in output.splitlines() if _CLUSTER_NAME.match(line.strip())]


def wait_timed_out(output: str) -> bool:
    """True when `kind create --wait` gave up on the node without failing (it only prints a warning)."""
    return WAIT_TIMED_OUT in output


def explain(argv: list[str], result: CommandResult) -> ExternalCommandFailed:
    """The error for a failed kind/docker command: command, output, and the why/fix of a known text."""
    for text, why, fix in _HINTS:
        if text in result.output:
            return ExternalCommandFailed(argv, result.output, why, fix)
    return ExternalCommandFailed(argv, result.output, f"exit code {result.returncode}")


def check_kubeconfig(text: str, cluster: str) -> dict[str, Any]:
    """The kubeconfig kind printed, if it is one for this cluster's context; else ValueError."""
    # Messages here never quote the text: it holds the cluster-admin client key.
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        raise ValueError("not YAML") from None
    if not isinstance(data, dict) or data.get("kind") != "Config":
        raise ValueError("not a kubeconfig (kind: Config missing)")
    contexts = [c.get("name") for c in data.get("contexts") or [] if isinstance(c, dict)]
    if context_name(cluster) not in contexts:
        raise ValueError(f"context {context_name(cluster)!r} missing (found {contexts})")
    return data


def make_private(path: Path) -> None:
    """Mode 0600: the kubeconfig holds the cluster-admin client key."""
    os.chmod(path, 0o600)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode != 0o600:
        raise ExternalCommandFailed(f"chmod 600 {path}", "", f"mode is {oct(mode)}", "check the filesystem")


@dataclass(frozen=True)
class Created:
    """What `kind create cluster` reported; node_ready False means kind's --wait only warned."""

    kubeconfig: Path
    node_ready: bool
    output: str


class KindCluster:
    """One kind cluster and its private kubeconfig in the stack's run dir (never the user's file)."""

    def __init__(self, runner: CommandRunner, name: str, run_dir: Path) -> None:
        self.runner = runner
        self.name = name
        self.run_dir = run_dir

    @property
    def kubeconfig(self) -> Path:
        return self.run_dir / KUBECONFIG_FILE

    @property
    def context(self) -> str:
        return context_name(self.name)

    @property
    def node(self) -> str:
        return node_name(self.name)

    def _run(self, argv: list[str], timeout: float) -> CommandResult:
        result = self.runner.run(argv, timeout=timeout, check=False)
        if result.returncode != 0:
            raise explain(argv, result)
        return result

    def version(self) -> tuple[int, int, int]:
        argv = version_argv()
        result = self._run(argv, QUICK_TIMEOUT)
        try:
            return parse_version(result.output)
        except ValueError as exc:
            raise ExternalCommandFailed(argv, result.output, str(exc)) from exc

    def exists(self) -> bool:
        return self.name in parse_clusters(self._run(get_clusters_argv(), QUICK_TIMEOUT).output)

    def create(self, config: Path, retain: bool = False, wait: str = CREATE_WAIT,
               timeout: float = CREATE_TIMEOUT) -> Created:
        """Create the cluster; the caller must still check the node (kind's --wait does not fail)."""
        self.run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        result = self._run(create_argv(self.name, config, self.kubeconfig, retain, wait), timeout)
        if not self.kubeconfig.exists():
            raise ExternalCommandFailed(create_argv(self.name, config, self.kubeconfig, retain, wait),
                                        result.output, f"kind wrote no kubeconfig at {self.kubeconfig}")
        make_private(self.kubeconfig)
        return Created(self.kubeconfig, not wait_timed_out(result.output), result.output)

    def delete(self) -> bool:
        """Delete the cluster if it exists; True if there was one. Safe to repeat."""
        if not self.exists():
            return False
        self._run(delete_argv(self.name, self.kubeconfig), CREATE_TIMEOUT)
        return True

    def load_archive(self, archive: Path, timeout: float = LOAD_TIMEOUT) -> None:
        self._run(load_archive_argv(self.name, archive), timeout)

    def export_logs(self, out_dir: Path, timeout: float = LOGS_TIMEOUT) -> Path:
        """kind's own diagnostics (journal, kubelet, containerd, pod logs) into out_dir."""
        out_dir.mkdir(parents=True, exist_ok=True)
        self._run(export_logs_argv(self.name, out_dir), timeout)
        return out_dir

    def write_kubeconfig(self) -> Path:
        """Recreate <run_dir>/kubeconfig (0600) from `kind get kubeconfig`, e.g. after the file was lost."""
        argv = get_kubeconfig_argv(self.name)
        result = self._run(argv, QUICK_TIMEOUT)
        try:
            check_kubeconfig(result.output, self.name)
        except ValueError as exc:  # output withheld: it may hold the client key
            raise ExternalCommandFailed(argv, "", f"kind printed no usable kubeconfig: {exc}") from None
        write_atomic(self.kubeconfig, result.output, mode=0o600)
        return self.kubeconfig

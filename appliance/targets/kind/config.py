"""The kind Cluster config (kind.x-k8s.io/v1alpha4) as deterministic YAML, plus containerd mirror files."""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from appliance.errors import BadInput
from appliance.runtime.state import write_atomic

API_VERSION = "kind.x-k8s.io/v1alpha4"
CONFIG_FILE = "kind.yaml"
MIRRORS_DIR = "containerd-certs.d"
# containerd's registry host directory; node images from kind v0.27.0 on read it already, the patch
# below keeps an overridden older --kind-node-image working the same way.
NODE_CERTS_DIR = "/etc/containerd/certs.d"
_CERTS_PATCH = f'[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "{NODE_CERTS_DIR}"'
# Where containerd fetches when a mirror fails: Docker Hub's API host is not its name.
_UPSTREAM_SERVER = {"docker.io": "https://registry-1.docker.io"}
_HOST = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$")


def cluster_config(cluster: str, node_image: str, mirrors_dir: Path | None = None) -> dict[str, Any]:
    """One control-plane node on the pinned image; the API server on loopback only."""
    node: dict[str, Any] = {"role": "control-plane", "image": node_image}
    config: dict[str, Any] = {
        "kind": "Cluster",
        "apiVersion": API_VERSION,
        "name": cluster,
        # kind's default too; stated so no config change can expose the API server on the LAN.
        "networking": {"apiServerAddress": "127.0.0.1"},
        "nodes": [node],
    }
    if mirrors_dir is not None:
        node["extraMounts"] = [
            {"hostPath": str(mirrors_dir), "containerPath": NODE_CERTS_DIR, "readOnly": True}
        ]
        config["containerdConfigPatches"] = [_CERTS_PATCH]
    return config


def render(config: dict[str, Any]) -> str:
    return yaml.safe_dump(config, sort_keys=False, default_flow_style=False)


def hosts_toml(upstream: str, mirror: str) -> str:
    """containerd hosts.toml sending pulls of `upstream` to `mirror` first (containerd docs/hosts.md)."""
    server = _UPSTREAM_SERVER.get(upstream, f"https://{upstream}")
    return f'server = "{server}"\n\n[host."{mirror}"]\n  capabilities = ["pull", "resolve"]\n'


def validate_mirrors(mirrors: Mapping[str, str]) -> dict[str, str]:
    """{upstream registry host: mirror URL}, sorted; bad entries are one BadInput naming each."""
    problems = []
    for upstream, mirror in sorted(mirrors.items()):
        if not _HOST.match(upstream):
            problems.append(f"{upstream!r} is not a registry host (e.g. docker.io, ghcr.io)")
        parts = urlsplit(mirror)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            problems.append(f"mirror for {upstream}: {mirror!r} is not an http(s)://host[:port] URL")
        elif parts.username or parts.password:
            problems.append(f"mirror for {upstream}: credentials in the URL would be written to disk")
        elif parts.path.strip("/") or parts.query or parts.fragment:
            problems.append(f"mirror for {upstream}: {mirror!r} has a path; give only scheme://host[:port]")
    if problems:
        raise BadInput("invalid registry cache", "; ".join(problems),
                       "pass --registry-cache as upstream=http://host:port, e.g. docker.io=http://cache:5000")
    return {upstream: mirrors[upstream].rstrip("/") for upstream in sorted(mirrors)}


def write(run_dir: Path, cluster: str, node_image: str, mirrors: Mapping[str, str] | None = None) -> Path:
    """Write <run_dir>/kind.yaml (and one hosts.toml per mirrored registry); returns the config path."""
    mirrors_dir = None
    if mirrors:
        checked = validate_mirrors(mirrors)
        mirrors_dir = (run_dir / MIRRORS_DIR).resolve()
        shutil.rmtree(mirrors_dir, ignore_errors=True)  # a mirror dropped since the last run must go
        for upstream, mirror in checked.items():
            write_atomic(mirrors_dir / upstream / "hosts.toml", hosts_toml(upstream, mirror))
    path = run_dir / CONFIG_FILE
    write_atomic(path, render(cluster_config(cluster, node_image, mirrors_dir)))
    return path

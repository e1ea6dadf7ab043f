"""The kind Cluster config: exact deterministic YAML, containerd mirror files, bad mirrors refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from appliance.errors import EXIT_BAD_INPUT, BadInput
from appliance.targets.kind import config, versions

PLAIN = f"""kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
name: appliance-dev
networking:
  apiServerAddress: 127.0.0.1
nodes:
- role: control-plane
  image: {versions.DEFAULT.node_image}
"""


def test_plain_config_is_one_control_plane_on_the_pinned_image_with_a_loopback_api(tmp_path: Path) -> None:
    path = config.write(tmp_path, "appliance-dev", versions.DEFAULT.node_image)
    assert path == tmp_path / "kind.yaml"
    assert path.read_text() == PLAIN
    assert not (tmp_path / config.MIRRORS_DIR).exists()


def test_writing_twice_gives_the_same_bytes(tmp_path: Path) -> None:
    mirrors = {"ghcr.io": "http://cache-ghcr:5000", "docker.io": "http://cache-hub:5000/"}
    first = config.write(tmp_path, "appliance-dev", versions.DEFAULT.node_image, mirrors).read_bytes()
    reordered = dict(reversed(mirrors.items()))
    second = config.write(tmp_path, "appliance-dev", versions.DEFAULT.node_image, reordered)
    assert second.read_bytes() == first


def test_mirrors_mount_one_hosts_toml_per_registry_into_containerd(tmp_path: Path) -> None:
    mirrors = {"ghcr.io": "http://cache-ghcr:5000", "docker.io": "http://cache-hub:5000/"}
    path = config.write(tmp_path, "appliance-dev", versions.DEFAULT.node_image, mirrors)
    data = yaml.safe_load(path.read_text())
    certs = (tmp_path / "containerd-certs.d").resolve()
    assert data["nodes"] == [{
        "role": "control-plane",
        "image": versions.DEFAULT.node_image,
        "extraMounts": [
            {"hostPath": str(certs), "containerPath": "/etc/containerd/certs.d", "readOnly": True}],
    }]
    assert data["containerdConfigPatches"] == [
        '[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/etc/containerd/certs.d"'
    ]
    assert (certs / "docker.io" / "hosts.toml").read_text() == (
        'server = "https://registry-1.docker.io"\n\n'
        '[host."http://cache-hub:5000"]\n  capabilities = ["pull", "resolve"]\n'
    )
    assert (certs / "ghcr.io" / "hosts.toml").read_text() == (
        'server = "https://ghcr.io"\n\n'
        '[host."http://cache-ghcr:5000"]\n  capabilities = ["pull", "resolve"]\n'
    )
    assert sorted(p.name for p in certs.iterdir()) == ["docker.io", "ghcr.io"]


def test_a_mirror_dropped_since_the_last_write_is_removed(tmp_path: Path) -> None:
    config.write(tmp_path, "c", versions.DEFAULT.node_image, {"quay.io": "https://cache:5000"})
    config.write(tmp_path, "c", versions.DEFAULT.node_image, {"ghcr.io": "https://cache:5001"})
    assert sorted(p.name for p in (tmp_path / "containerd-certs.d").iterdir()) == ["ghcr.io"]


def test_bad_mirrors_are_refused_all_at_once_before_anything_is_written(tmp_path: Path) -> None:
    mirrors = {
        "Docker.IO": "http://cache:5000",
        "ghcr.io": "ftp://cache:21",
        "quay.io": "http://user:secret@cache:5000",
        "gcr.io": "http://cache:5000/v2/",
    }
    with pytest.raises(BadInput) as caught:
        config.write(tmp_path, "c", versions.DEFAULT.node_image, mirrors)
    assert caught.value.exit_code == EXIT_BAD_INPUT
    assert caught.value.why == (
        "'Docker.IO' is not a registry host (e.g. docker.io, ghcr.io); "
        "mirror for gcr.io: 'http://cache:5000/v2/' has a path; give only scheme://host[:port]; "
        "mirror for ghcr.io: 'ftp://cache:21' is not an http(s)://host[:port] URL; "
        "mirror for quay.io: credentials in the URL would be written to disk"
    )
    assert "secret" not in caught.value.render()
    assert list(tmp_path.iterdir()) == []

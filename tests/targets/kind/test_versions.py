"""Pins and minimums: the node images are digest-pinned and their Kubernetes versions are readable."""

from __future__ import annotations

import pytest
from fake_runner import FakeRunner

from appliance.errors import ExternalCommandFailed
from appliance.targets.kind import versions


def test_every_lane_pins_its_node_image_by_digest() -> None:
    assert [(pin.kind, pin.kubernetes) for pin in versions.CI_LANES] == [
        ("v0.33.0", (1, 34, 11)), ("v0.32.0", (1, 36, 1))]
    for pin in versions.CI_LANES:
        name, _, digest = pin.node_image.partition("@")
        assert name.startswith("kindest/node:v")
        assert digest.startswith("sha256:") and len(digest) == len("sha256:") + 64


def test_node_kubernetes_and_pin_lookup() -> None:
    assert versions.node_kubernetes("kindest/node:v1.36.1") == (1, 36, 1)
    assert versions.node_kubernetes("registry.local:5000/kindest/node") is None
    assert versions.node_kubernetes("kindest/node:latest") is None
    digest = versions.KFP_LANE.node_image.partition("@")[2]
    assert versions.pin_for_node_image("mirror.local/kindest/node:v1.36.1@" + digest) == versions.KFP_LANE
    assert versions.pin_for_node_image("kindest/node:v1.33.1") is None


def test_parse_semver() -> None:
    assert versions.parse_semver("kind v0.33.0-alpha.1 go1.25") == (0, 33, 0)
    assert versions.parse_semver("no version") is None
    assert versions.show((0, 32, 0)) == "v0.32.0"


def test_fake_runner_fails_like_command_runner() -> None:
    runner = FakeRunner(missing=("kind",)).on(["docker", "info"], "boom\n", returncode=1)
    with pytest.raises(ExternalCommandFailed) as missing:
        runner.run(["kind", "version"], check=False)
    assert (missing.value.command, missing.value.why) == ("kind version", "kind is not installed")
    assert runner.run(["docker", "info"], check=False).returncode == 1
    with pytest.raises(ExternalCommandFailed, match="command failed: docker info"):
        runner.run(["docker", "info"])
    with pytest.raises(AssertionError, match="unscripted command: docker ps"):
        runner.run(["docker", "ps"])
    assert runner.which("kind") is None and runner.which("docker") == "/usr/bin/docker"

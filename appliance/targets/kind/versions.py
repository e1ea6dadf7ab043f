"""Pinned kind releases with their node images (by digest), and the host minimums of the kind target."""

from __future__ import annotations

import re
from dataclasses import dataclass

GIB = 1024**3


@dataclass(frozen=True)
class KindPin:
    """A kind release and a node image built for it (kind's release notes: use the @sha256 digest)."""

    kind: str
    node_image: str

    @property
    def kubernetes(self) -> tuple[int, int, int]:
        found = node_kubernetes(self.node_image)
        if found is None:  # a pin without a version tag is a bug in this file, not user input
            raise ValueError(f"node image {self.node_image!r} has no vX.Y.Z tag")
        return found


# kind v0.33.0 release notes list v1.34.11 among its images; 1.34 sits inside the Katib and KServe CI
# matrices, is bracketed by KFP's 1.33/1.36 lanes and still boots on cgroup v1 hosts (1.35+ do not).
DEFAULT = KindPin(
    "v0.33.0",
    "kindest/node:v1.34.11@sha256:44e222ee2132dab25ff87301682f89eb82c7880ea3a1bf543bfe9708fd08d67d",
)
# The second CI lane: KFP's own pin (kind v0.32.0 and its default node image, 1.36.1).
KFP_LANE = KindPin(
    "v0.32.0",
    "kindest/node:v1.36.1@sha256:3489c7674813ba5d8b1a9977baea8a6e553784dab7b84759d1014dbd78f7ebd5",
)
CI_LANES = (DEFAULT, KFP_LANE)

# The oldest kind a CI lane runs; anything older is refused rather than half-supported.
KIND_MINIMUM = (0, 32, 0)
KIND_INSTALL = "https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
KUBECTL_INSTALL = "https://kubernetes.io/docs/tasks/tools/"
DOCKER_INSTALL = "https://docs.docker.com/engine/install/"

# `docker save --platform` (the kind#3795 workaround the preload relies on) is API 1.48+ (Engine 28.0).
DOCKER_API_MINIMUM = (1, 48)
MEMORY_REFUSE_BELOW = 6 * GIB
MEMORY_WARN_BELOW = 8 * GIB
CPUS_REFUSE_BELOW = 2
CPUS_WARN_BELOW = 4
# Images exist twice (host store and node containerd) plus the preload archive.
DISK_REFUSE_BELOW = 20 * GIB
# kind's known-issues page: Ubuntu's defaults (8192 / 128) give "too many open files".
INOTIFY_WATCHES_MINIMUM = 524288
INOTIFY_INSTANCES_MINIMUM = 512
# Node images from 1.35 on drop cgroup v1 (kind v0.31.0 release notes).
CGROUP_V2_REQUIRED_FROM = (1, 35)

# `docker info` reports the kernel's machine name; kind node images exist for these two only.
ARCHITECTURES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}

_SEMVER = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")


def parse_semver(text: str) -> tuple[int, int, int] | None:
    """(major, minor, patch) of the first vX.Y.Z in text, pre-release suffixes ignored."""
    found = _SEMVER.search(text)
    return (int(found[1]), int(found[2]), int(found[3])) if found else None


def node_kubernetes(node_image: str) -> tuple[int, int, int] | None:
    """The Kubernetes version in a kindest/node tag (`kindest/node:v1.34.11@sha256:…` → (1, 34, 11))."""
    name = node_image.split("@", 1)[0]
    _, colon, tag = name.rpartition(":")
    if not colon or "/" in tag:
        return None
    return parse_semver(tag) if tag.startswith("v") else None


def pin_for_node_image(node_image: str) -> KindPin | None:
    """The pin a node image belongs to, matched on the digest when there is one."""
    digest = node_image.partition("@")[2]
    for pin in CI_LANES:
        if pin.node_image == node_image or (digest and pin.node_image.endswith("@" + digest)):
            return pin
    return None


def show(version: tuple[int, ...]) -> str:
    return "v" + ".".join(map(str, version))

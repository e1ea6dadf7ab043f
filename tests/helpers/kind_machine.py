"""A kind machine scripted for the kind target's tests: Docker, kind and kubectl answering as on a
healthy host (FakeRunner with their real texts), and a profile whose bundle needs no upstream cache."""

from __future__ import annotations

import json
from pathlib import Path

import fake_runner as texts
from fake_cluster import FakeCluster
from fake_runner import FakeRunner

from appliance.config import profile as profiles
from appliance.targets.kind.versions import DEFAULT

STACK = "dev"
COREDNS = "registry.k8s.io/coredns/coredns:v1.12.1"
CLUSTER = "appliance-dev"
NODE = "appliance-dev-control-plane"
KUBECONFIG_TEXT = f"""apiVersion: v1
kind: Config
clusters: [{{name: kind-{CLUSTER}, cluster: {{server: "https://127.0.0.1:6443"}}}}]
contexts: [{{name: kind-{CLUSTER}, context: {{cluster: kind-{CLUSTER}, user: kind-{CLUSTER}}}}}]
users: [{{name: kind-{CLUSTER}, user: {{client-key-data: c2VjcmV0}}}}]
current-context: kind-{CLUSTER}
"""


def object_store_only(tmp_path: Path) -> profiles.Profile:
    """A real profile whose bundle needs no upstream cache (the object store is built in)."""
    path = tmp_path / "store.yaml"
    path.write_text(json.dumps({"apiVersion": profiles.API_VERSION, "kind": "Profile",
                                "metadata": {"name": "store-only"},
                                "spec": {"components": ["object-store"]}}))
    return profiles.load(str(path))


def seed_kind_system(cluster: FakeCluster) -> None:
    """What `kind create cluster` leaves running: kube-system with CoreDNS."""
    cluster.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}}])
    cluster.apply([{
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "coredns", "namespace": "kube-system"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"k8s-app": "kube-dns"}},
                 "template": {"metadata": {"labels": {"k8s-app": "kube-dns"}},
                              "spec": {"containers": [{"name": "coredns", "image": COREDNS}]}}},
    }])


def healthy_machine(cluster: FakeCluster, run_dir: Path, exists: bool = False,
                    docker_gib: float = 16) -> FakeRunner:
    runner = FakeRunner()
    runner.on(["docker", "info"], texts.docker_info(mem_gib=docker_gib, ncpu=8))
    runner.on(["docker", "version"], texts.docker_version())
    runner.on(["kind", "version"], texts.kind_version())
    runner.on(["kubectl", "version"], texts.kubectl_version_client("v1.34.4"))
    runner.on(["docker", "image", "inspect"], texts.docker_inspect("sha256:" + "ab" * 32))
    runner.on(["kind", "get", "clusters"], f"{CLUSTER}\n" if exists else texts.KIND_NO_CLUSTERS)

    def created(argv: tuple[str, ...]) -> None:
        kubeconfig = Path(argv[argv.index("--kubeconfig") + 1])
        kubeconfig.write_text(KUBECONFIG_TEXT)
        seed_kind_system(cluster)
        runner.on(["kind", "get", "clusters"], f"{CLUSTER}\n")  # from now on it exists

    runner.on(["kind", "create", "cluster"], texts.kind_create_ok(CLUSTER, DEFAULT.node_image,
                                                                   run_dir / "kubeconfig"), effect=created)
    runner.on(["kind", "delete", "cluster"], texts.kind_delete(CLUSTER),
              effect=lambda argv: runner.on(["kind", "get", "clusters"], texts.KIND_NO_CLUSTERS))
    runner.on(["kubectl", "--kubeconfig"], "daemonset.apps/kindnet patched\n")
    runner.on(["docker", "exec", NODE, "cat"], "8192\n524288\n")
    runner.on(["docker", "save"], effect=lambda argv: Path(argv[argv.index("-o") + 1]).write_bytes(b"tar"))
    runner.on(["kind", "load", "image-archive"], "")
    return runner

"""Every git pin of the catalog reproduced offline through `appliance fetch`'s own code path.

A local git repository (file:// URL) holds, at each pinned path, a kustomization whose resources
are the upstream inputs rebuilt from the shared reference copy: its objects split one per file
(listed in reverse, so the order comes from kustomize, not from the files), with the pin's
substitutions and patches reversed. The Fetcher then clones it at the commit, runs `kubectl
kustomize`, substitutes, applies the pinned patches and must produce exactly the pinned sha256.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from appliance.catalog import load_catalog
from appliance.catalog.model import Source
from appliance.k8s.refs import ResourceRef
from appliance.sources.fetch import Fetcher

pytestmark = pytest.mark.integration

# kubeflow/manifests `example/kustomization.yaml` declares these sort options (a legacy order with
# MutatingWebhookConfiguration and NetworkPolicy moved up): without them kustomize puts webhooks
# last and the render differs from the reference.
KUBEFLOW_EXAMPLE_SORT = {
    "order": "legacy",
    "legacySortOptions": {
        "orderFirst": [
            "Namespace", "ResourceQuota", "StorageClass", "CustomResourceDefinition",
            "MutatingWebhookConfiguration", "ServiceAccount", "PodSecurityPolicy", "NetworkPolicy",
            "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "ConfigMap", "Secret",
            "Endpoints", "Service", "LimitRange", "PriorityClass", "PersistentVolume",
            "PersistentVolumeClaim", "Deployment", "StatefulSet", "CronJob", "PodDisruptionBudget",
        ],
        "orderLast": ["ValidatingWebhookConfiguration"],
    },
}
PATCHED_DEPLOY = '  deploy: |-\n    {\n      "defaultDeploymentMode": "Standard"\n    }\n'
# SOURCES.md does not record the value the wrapper patch replaced. A strategic-merge patch
# replaces a ConfigMap key whole, so the render does not depend on it: this stands in for it.
UPSTREAM_DEPLOY = '  deploy: |-\n    {\n      "defaultDeploymentMode": "Knative"\n    }\n'


@dataclass(frozen=True)
class Inputs:
    """How one reference file's upstream inputs are rebuilt from it."""

    # Multi-path pins: the first object of each later path (the reference concatenates renders).
    splits: tuple[str, ...] = ()
    # Sort options the upstream kustomization declares.
    sort_options: dict[str, Any] | None = None
    # Text edits undoing the pin's patches (each must match exactly once).
    unpatch: tuple[tuple[str, str], ...] = field(default_factory=tuple)


RECONSTRUCTIONS = {
    "kfp-2.17.0": Inputs(splits=("ServiceAccount/kubeflow/argo",)),
    "katib-0.19.0": Inputs(),
    "kserve-0.20.0": Inputs(unpatch=((PATCHED_DEPLOY, UPSTREAM_DEPLOY),)),
    "kserve-runtimes-0.20.0": Inputs(),
    "kubeflow-platform-26.03": Inputs(sort_options=KUBEFLOW_EXAMPLE_SORT),
}


def git_sources() -> list[str]:
    return sorted(sid for sid, source in load_catalog().sources.items() if source.git)


def test_every_git_source_has_a_reconstruction() -> None:
    assert sorted(RECONSTRUCTIONS) == git_sources()
    patched = {sid for sid in git_sources() if load_catalog().sources[sid].git.patches}  # type: ignore[union-attr]
    assert patched == {sid for sid, inputs in RECONSTRUCTIONS.items() if inputs.unpatch}


def _git(*args: str, cwd: Path) -> str:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


def upstream_repository(source: Source, reference: str, inputs: Inputs, repo: Path) -> str:
    """Write the rebuilt inputs at the pin's paths, commit, and return the commit id (not the tip)."""
    pin = source.git
    assert pin is not None
    text = reference
    for patched, original in inputs.unpatch:
        assert text.count(patched) == 1, f"{source.id}: the patched text is not in the reference once"
        text = text.replace(patched, original)
    for old, new in pin.substitutions:
        # Only a reference where every `old` was substituted can be reversed exactly.
        assert old not in text, f"{source.id}: {old!r} survives the substitution"
        text = text.replace(new, old)
    docs = text.split("\n---\n")
    ids = [str(ResourceRef.of(yaml.safe_load(doc))) for doc in docs]
    cuts = [0, *(ids.index(first) for first in inputs.splits), len(docs)]
    assert len(cuts) - 1 == len(pin.paths)
    _git("init", "--quiet", str(repo), cwd=repo.parent)
    for path, start, end in zip(pin.paths, cuts[:-1], cuts[1:], strict=True):
        folder = repo / path
        folder.mkdir(parents=True)
        names = []
        for index in range(start, end):
            names.append(f"object-{index:04d}.yaml")
            body = docs[index]
            (folder / names[-1]).write_text(body if body.endswith("\n") else body + "\n")
        kustomization: dict[str, Any] = {"apiVersion": "kustomize.config.k8s.io/v1beta1",
                                         "kind": "Kustomization", "resources": names[::-1]}
        if inputs.sort_options:
            kustomization["sortOptions"] = inputs.sort_options
        (folder / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    _git("add", "-A", cwd=repo)
    _git("commit", "--quiet", "-m", "pinned", cwd=repo)
    commit = _git("rev-parse", "HEAD", cwd=repo)
    # A later commit that breaks the render: the fetch must check out the pinned one.
    (repo / pin.paths[0] / "kustomization.yaml").write_text("resources: [missing.yaml]\n")
    _git("commit", "--quiet", "-am", "moved on", cwd=repo)
    return commit


@pytest.mark.parametrize("source_id", git_sources())
def test_git_pin_renders_to_its_sha256_through_fetch(source_id: str, upstream: Path,
                                                     tmp_path: Path) -> None:
    source = load_catalog().sources[source_id]
    assert source.git is not None
    reference = (upstream / source.file).read_text(encoding="utf-8")
    assert hashlib.sha256(reference.encode()).hexdigest() == source.sha256
    repo = tmp_path / "upstream-repo"
    commit = upstream_repository(source, reference, RECONSTRUCTIONS[source_id], repo)
    local = dataclasses.replace(source, git=dataclasses.replace(source.git, repo=repo.as_uri(),
                                                                commit=commit))
    steps: list[str] = []
    result = Fetcher(tmp_path / "cache", progress=steps.append).fetch(local)
    assert (result.status, result.kustomize, result.warning) == ("rendered", "v5.5.0", "")
    assert result.path == tmp_path / "cache" / source.file
    assert hashlib.sha256(result.path.read_bytes()).hexdigest() == source.sha256
    expected = [f"{source_id}: fetching {repo.as_uri()} at {commit[:12]}",
                *(f"{source_id}: kubectl kustomize {path}" for path in source.git.paths)]
    if source.git.patches:
        expected.append(f"{source_id}: applying {len(source.git.patches)} pinned patch(es)")
    assert steps == expected

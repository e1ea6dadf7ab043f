"""Finding a gone pod's log in Argo's archive: the repository read from the workflow controller's
ConfigMap (or the pinned one), Argo's names (node IDs and pod names), the workflow of a run, and
the lookups themselves over an in-memory object store."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import yaml
from cluster_objects import namespace
from fake_cluster import FakeCluster
from memory_objects import MemoryObjects

from appliance.targets.cluster.client import ApiError
from appliance.targets.cluster.log_archive import (
    ARGO_KEY_FORMAT,
    PINNED,
    LogArchive,
    Repository,
    created_of,
    names_match,
    node_names,
    repository,
    workflow_of,
)

WORKFLOW = "train-gate-promote-x7k2p"
POD = f"{WORKFLOW}-system-container-impl-2781541396"
NODE = f"{WORKFLOW}-2781541396"  # the pod's node ID: same workflow, same hash
CREATED = datetime(2026, 3, 4, 23, 59, 59, tzinfo=UTC)
KEY = f"private-artifacts/kubeflow/{WORKFLOW}/2026/03/04/{POD}/main.log"


def configmap(repository_text: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "workflow-controller-configmap", "namespace": "kubeflow"},
            "data": {"artifactRepository": repository_text}}


def cluster_with(*objects: dict[str, Any]) -> FakeCluster:
    cluster = FakeCluster()
    cluster.apply([namespace("kubeflow"), *objects])
    return cluster


def test_the_repository_is_read_from_the_controllers_configmap() -> None:
    moved = cluster_with(configmap('archiveLogs: true\ns3:\n  bucket: logs\n  keyFormat: "a/{{pod.name}}"\n'))
    assert repository(moved, "kubeflow") == Repository("logs", "a/{{pod.name}}")
    # No keyFormat: Argo's own default.
    plain = cluster_with(configmap("s3:\n  bucket: mlpipeline\n"))
    assert repository(plain, "kubeflow").key_format == ARGO_KEY_FORMAT == "{{workflow.name}}/{{pod.name}}"


@pytest.mark.parametrize("objects", [
    (),  # no ConfigMap
    (configmap("gcs:\n  bucket: elsewhere\n"),),  # not an S3 repository
    (configmap("s3: [unclosed\n"),),  # not YAML
    (configmap("archiveLogs: true\n"),),  # no repository at all
    # An alias bomb is refused by the bounded loader, not expanded.
    (configmap("a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 10) + "]\n"
        for i in range(8))),),
])
def test_without_a_readable_s3_repository_the_pinned_one_is_used(objects: tuple[dict[str, Any], ...]) -> None:
    assert repository(cluster_with(*objects), "kubeflow") == PINNED


def test_a_configmap_the_client_may_not_read_falls_back_to_the_pinned_repository() -> None:
    cluster = cluster_with(configmap("s3:\n  bucket: logs\n"))
    cluster.fail_next(ApiError(403, "Forbidden", 'configmaps "workflow-controller-configmap" is forbidden'),
                      method="get")
    assert repository(cluster, "kubeflow") == PINNED


def test_the_pinned_repository_is_the_rendered_bundles(standard_objects: list[dict[str, Any]]) -> None:
    (config,) = [o for o in standard_objects if o["kind"] == "ConfigMap"
                 and o["metadata"]["name"] == "workflow-controller-configmap"]
    rendered = yaml.safe_load(config["data"]["artifactRepository"])
    assert rendered["archiveLogs"] is True
    assert (rendered["s3"]["bucket"], rendered["s3"]["keyFormat"]) == (PINNED.bucket, PINNED.key_format)


def test_a_pod_is_matched_by_its_name_or_by_its_node_id() -> None:
    assert names_match([POD], POD)
    assert names_match([NODE], POD)  # POD_NAMES=v2: <workflow>-<template>-<hash>
    assert names_match([NODE], NODE)  # POD_NAMES=v1: the pod is named as its node
    assert not names_match([NODE], f"{WORKFLOW}-system-container-impl-12")  # another hash
    assert not names_match([NODE], "other-run-system-container-impl-2781541396")  # another workflow
    assert not names_match([], POD)


def test_a_retry_node_between_a_task_and_its_pod_is_seen_through_when_kfp_names_it() -> None:
    retry = f"{WORKFLOW}-11"  # Argo's retry node: its pods are its children, `<name>(<attempt>)`
    task = {"display_name": "train-model", "child_tasks": [{"pod_name": retry}]}
    executor = {"display_name": "executor", "pod_name": retry, "child_tasks": [{"pod_name": NODE}]}
    assert node_names(task, [task, executor]) == [retry, NODE]
    assert names_match(node_names(task, [task, executor]), POD)
    # Without a detail that names the retry node, only the retry node is known: no pod matches.
    assert node_names(task, [task]) == [retry]
    assert not names_match([retry], POD)
    # A cycle in what the details claim is followed once.
    looped = {"display_name": "executor", "pod_name": NODE, "child_tasks": [{"pod_name": retry}]}
    assert node_names(task, [task, executor, looped]) == [retry, NODE]


def test_the_workflow_comes_from_a_pod_label_else_from_the_task_details() -> None:
    labelled = {"metadata": {"labels": {"workflows.argoproj.io/workflow": WORKFLOW}}}
    assert workflow_of({}, [{"metadata": {}}, labelled]) == WORKFLOW
    run = {"run_details": {"task_details": [
        {"display_name": WORKFLOW, "child_tasks": [{"pod_name": f"{WORKFLOW}-1"}]},
        {"display_name": "train-model", "child_tasks": [{"pod_name": NODE}]},
        {"display_name": "train-model-driver", "pod_name": f"{WORKFLOW}-99"}]}}
    assert workflow_of(run, []) == WORKFLOW
    # Nothing names it: no node ID is prefixed by a detail's display name.
    assert workflow_of({"run_details": {"task_details": [{"display_name": "train-model"}]}}, []) is None


def test_the_runs_creation_time_is_read_in_utc() -> None:
    assert created_of({"created_at": "2026-03-04T23:59:59Z"}) == CREATED
    assert created_of({"created_at": datetime(2026, 3, 5, 0, 59, 59, tzinfo=UTC).astimezone()}) == \
        datetime(2026, 3, 5, 0, 59, 59, tzinfo=UTC)
    assert created_of({}) is None and created_of({"created_at": "yesterday"}) is None


def archive(store: MemoryObjects, *, workflow: str | None = WORKFLOW, created: datetime | None = CREATED,
            tail: int = 100, limit: int = 100, repo: Repository = PINNED) -> LogArchive:
    return LogArchive(store, lambda: repo, "kubeflow", workflow=workflow, created=created, tail=tail,
                      limit=limit)


def test_a_pod_known_by_name_is_read_directly_and_only_its_tail_is_kept() -> None:
    store = MemoryObjects()
    store.put("mlpipeline", KEY, "".join(f"line {i}\n" for i in range(10)).encode())
    found = archive(store, tail=3).find(pod=POD)
    assert found is not None
    assert (found.uri, found.text) == (f"s3://mlpipeline/{KEY}", "line 7\nline 8\nline 9\n")
    assert (store.reads, store.listed) == ([f"s3://mlpipeline/{KEY}"], [])


def test_a_node_id_is_found_by_one_listing_under_the_workflow() -> None:
    store = MemoryObjects()
    store.put("mlpipeline", KEY, b"trained\n")
    driver = f"private-artifacts/kubeflow/{WORKFLOW}/2026/03/04/{WORKFLOW}-system-dag-driver-5/main.log"
    store.put("mlpipeline", driver, b"driver\n")
    looked = archive(store)
    found = looked.find(nodes=[NODE])
    assert found is not None and found.text == "trained\n"
    assert looked.find(nodes=[f"{WORKFLOW}-7"]) is None  # no pod of that node was archived
    assert store.listed == [f"s3://mlpipeline/private-artifacts/kubeflow/{WORKFLOW}/"]  # listed once


def test_a_run_created_before_midnight_is_found_under_the_next_days_key() -> None:
    # The controller created the workflow a second after KFP created the run: the key has the next
    # day. The direct read misses; the listing leaves the date open and finds it.
    store = MemoryObjects()
    next_day = KEY.replace("/2026/03/04/", "/2026/03/05/")
    store.put("mlpipeline", next_day, b"late\n")
    found = archive(store).find(pod=POD)
    assert found is not None and found.uri == f"s3://mlpipeline/{next_day}"
    assert store.reads == [f"s3://mlpipeline/{KEY}", f"s3://mlpipeline/{next_day}"]


def test_without_the_workflow_the_namespaces_archive_is_listed_up_to_the_bound() -> None:
    store = MemoryObjects()
    for i in range(3):
        earlier = f"private-artifacts/kubeflow/earlier-run-{i}/2026/03/01/p{i}/main.log"
        store.put("mlpipeline", earlier, b"old\n")
    store.put("mlpipeline", KEY, b"trained\n")
    found = archive(store, workflow=None).find(nodes=[NODE])
    assert found is not None and found.text == "trained\n"
    assert store.listed == ["s3://mlpipeline/private-artifacts/kubeflow/"]
    # The listing is bounded: with room for 3 keys the run's own key is never seen, and the
    # archive says where it stopped.
    bounded = archive(MemoryObjects(), workflow=None, limit=3)
    bounded.reader = store
    assert bounded.find(nodes=[NODE]) is None
    assert bounded.truncated == ["s3://mlpipeline/private-artifacts/kubeflow/"]


def test_a_key_format_without_the_pod_cannot_tell_pods_apart() -> None:
    store = MemoryObjects()
    store.put("mlpipeline", f"{WORKFLOW}/main.log", b"whose?\n")
    looked = archive(store, repo=Repository("mlpipeline", "{{workflow.name}}"))
    assert looked.find(pod=POD) is None
    assert looked.find(nodes=[NODE]) is None
    assert (store.reads, store.listed) == ([], [])

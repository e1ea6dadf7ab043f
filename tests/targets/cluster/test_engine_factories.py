"""The factories a kind/kube target declares read the stack's recorded cluster settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_cluster import FakeCluster
from fake_controllers import FakeForwards
from fake_processes import FakeProcesses

from appliance.config import profile as profiles
from appliance.errors import BadInput, MissingPrerequisite
from appliance.objectstore import ObjectStore
from appliance.runtime.state import RunDir, StackState
from appliance.stack import Stack
from appliance.targets.cluster import serving, tuning
from appliance.targets.cluster.followers import ProcessFollowers
from appliance.targets.cluster.settings import ClusterSettings


def stack(name: str, settings: ClusterSettings | None) -> Stack:
    run_dir = RunDir(name)
    run_dir.create()
    run_dir.save(StackState(name, "kind", "standard", 0.0,
                            settings=settings.to_dict() if settings is not None else {}))
    store = ObjectStore("http://127.0.0.1:9", "key", "secret")
    return Stack(name, "kind", profiles.load("standard"), store, run_dir.path)


def test_the_engines_are_built_from_the_recorded_settings(appliance_home: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "eks-admin")  # what an `aws eks get-token` kubeconfig reads
    settings = ClusterSettings(appliance_home / "kubeconfig", "kind-appliance-dev", "appliance-dev",
                               stubs_image="appliance-stubs:0.1", workload_namespace="workloads-b")
    fake = FakeCluster()
    cluster_stack = stack("dev", settings)
    tuner = tuning.engine(cluster_stack, client=fake, clock=fake.clock)
    assert (tuner.client, tuner.clock, tuner.stubs_image, tuner.namespace) == (
        fake, fake.clock, "appliance-stubs:0.1", "workloads-b")
    assert (tuner.timeout, tuner.interval) == (1800.0, 5.0)
    forwards = FakeForwards(fake)
    server = serving.engine(cluster_stack, forwards, client=fake, clock=fake.clock)
    backend = server.deployments
    assert isinstance(backend, serving.InferenceServices)
    assert (backend.client, backend.forwards, backend.stubs_image, backend.namespace) == (
        fake, forwards, "appliance-stubs:0.1", "workloads-b")
    assert (backend.ready_timeout, backend.delete_timeout) == (180.0, 60.0)
    # Followers are processes recorded in the stack's run dir, started with the shared command.
    assert isinstance(backend.followers, ProcessFollowers)
    assert backend.followers.run_dir == cluster_stack.run_dir
    processes = FakeProcesses()
    followed = serving.engine(cluster_stack, forwards, client=fake, clock=fake.clock,
                              followers=ProcessFollowers(cluster_stack.run_dir, processes))
    assert followed.follow("iris", 2.0).detail == "pid 5001"
    assert processes.spawned[0].argv[2:] == [
        "appliance.targets.follower", "--stack", "dev", "--model", "iris", "--interval", "2",
        "--run-dir", str(cluster_stack.run_dir)]
    env = processes.spawned[0].env
    assert env is not None and env["AWS_PROFILE"] == "eks-admin"


def test_without_a_client_the_kubeconfig_must_exist(appliance_home: Path) -> None:
    settings = ClusterSettings(appliance_home / "missing-kubeconfig", "kind-appliance-dev")
    with pytest.raises(BadInput) as caught:
        tuning.engine(stack("dev", settings))
    assert caught.value.what == f"kubeconfig {appliance_home / 'missing-kubeconfig'} not found"


def test_a_stack_without_cluster_settings_is_a_missing_prerequisite(appliance_home: Path) -> None:
    with pytest.raises(MissingPrerequisite) as caught:
        serving.engine(stack("local-one", None), FakeForwards(FakeCluster()))
    assert caught.value.render() == (
        "stack 'local-one' has no cluster settings: it is a kind stack, or its 'up' did not finish "
        "(fix: run 'appliance up --name local-one' with --target kind or kube)")

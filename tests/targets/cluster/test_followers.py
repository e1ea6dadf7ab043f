"""`serve follow` on a cluster stack: the follower is a recorded background process on this machine
(the process seam faked): started with the shared follower command, restarted, stopped with a
timeout that lets a rollout finish, stopped before its deployment is deleted, shown by status, and
a record whose process died is neither taken for a running follower nor an obstacle."""

from __future__ import annotations

import json
import stat
import sys
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from fake_cluster import FakeCluster
from fake_controllers import WORKLOADS, FakeForwards, install_kserve, install_workloads
from fake_processes import FakeProcesses

from appliance.errors import BadInput
from appliance.serving.engine import BackendServingEngine
from appliance.serving.follow import follower_command
from appliance.serving.records import ModelRef, ProcessFollower
from appliance.targets.cluster.client import ObjRef
from appliance.targets.cluster.followers import FollowerRecord, ProcessFollowers
from appliance.targets.cluster.serving import InferenceServices
from appliance.targets.cluster.stacks import follower_statuses
from appliance.targets.interface import ComponentStatus

V1 = "s3://models/iris/1/model.json"
STARTED = 1000.0
# A follower mid-rollout finishes it: KServe's webhook wait (120 s) plus the ready wait (180 s).
STOP_TIMEOUT = 300.0


def setup(run_dir: Path) -> tuple[FakeCluster, FakeProcesses, BackendServingEngine]:
    fake = FakeCluster()
    install_workloads(fake)
    install_kserve(fake)
    processes = FakeProcesses()
    forwards = FakeForwards(fake, {V1: "1"})
    backend = InferenceServices(fake, forwards, lambda uri: ModelRef(uri, "1"), fake.clock,
                                "appliance-stubs:test", served=forwards.served_version,
                                followers=ProcessFollowers(run_dir, processes, now=lambda: STARTED))
    engine = BackendServingEngine(backend, lambda: None,  # type: ignore[arg-type, return-value]
                                  partial(follower_command, "dev", run_dir, keep_aws_env=True))
    return fake, processes, engine


@pytest.fixture
def run_dir(appliance_home: Path) -> Path:
    path = appliance_home / "stacks" / "dev"
    path.mkdir(parents=True)
    return path


def record(run_dir: Path, model: str = "iris") -> Any:
    return json.loads((run_dir / "followers" / f"{model}.json").read_text())


def test_follow_starts_the_shared_follower_process_with_no_secret_on_its_command_line(
    run_dir: Path, appliance_home: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "caller-secret")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    fake, processes, engine = setup(run_dir)
    since = len(fake.calls)
    follower = engine.follow("iris", 2.0)
    assert follower == ProcessFollower("iris", 2.0, "pid 5001", 5001)
    [spawned] = processes.spawned
    assert spawned.argv == [sys.executable, "-m", "appliance.targets.follower", "--stack", "dev",
                            "--model", "iris", "--interval", "2", "--run-dir", str(run_dir)]
    assert spawned.log == run_dir / "logs" / "serve-iris-follow.log"
    assert spawned.env is not None and spawned.env["APPLIANCE_HOME"] == str(appliance_home)
    # The caller's AWS_* stay: a kubeconfig's credential plugin (aws eks get-token) may need them;
    # the registry is read with the stack's own credentials, never these.
    assert (spawned.env["AWS_SECRET_ACCESS_KEY"], spawned.env["AWS_ENDPOINT_URL"]) == (
        "caller-secret", "http://127.0.0.1:9")
    assert not any("caller-secret" in arg for arg in spawned.argv)
    assert record(run_dir) == {"model": "iris", "interval": 2.0, "pid": 5001, "started": STARTED}
    assert stat.S_IMODE((run_dir / "followers").stat().st_mode) == 0o700
    # Following needs no deployment yet (the follower's first sync deploys it), and asks nothing
    # of the cluster.
    assert fake.calls[since:] == []


def test_follow_again_restarts_the_follower_with_the_new_interval(run_dir: Path) -> None:
    fake, processes, engine = setup(run_dir)
    engine.follow("iris", 2.0)
    assert engine.follow("iris", 5.0) == ProcessFollower("iris", 5.0, "pid 5002", 5002)
    assert processes.stopped == [(5001, STOP_TIMEOUT)]
    assert processes.alive == {5002}
    assert record(run_dir)["pid"] == 5002 and record(run_dir)["interval"] == 5.0


def test_unfollow_stops_it_and_says_whether_one_ran(run_dir: Path) -> None:
    fake, processes, engine = setup(run_dir)
    engine.follow("iris", 2.0)
    engine.follow("churn", 3.0)
    assert engine.unfollow("iris") is True
    assert processes.stopped == [(5001, STOP_TIMEOUT)] and processes.alive == {5002}
    assert not (run_dir / "followers" / "iris.json").exists()
    assert engine.unfollow("iris") is False
    assert [f.model for f in ProcessFollowers(run_dir, processes).all()] == ["churn"]


def test_delete_stops_the_follower_before_the_inference_service_goes(run_dir: Path) -> None:
    fake, processes, engine = setup(run_dir)
    engine.deploy("iris", V1)
    engine.follow("iris", 2.0)
    isvc = ObjRef("serving.kserve.io/v1beta1", "InferenceService", "iris", WORKLOADS)
    seen: list[bool] = []
    processes.on_stop = lambda pid: seen.append(fake.get(isvc) is not None)
    engine.delete("iris")
    assert seen == [True]  # stopped while the InferenceService still existed
    assert processes.stopped == [(5001, STOP_TIMEOUT)]
    assert fake.get(isvc) is None and ProcessFollowers(run_dir, processes).all() == []


def test_a_follower_whose_process_died_shows_unhealthy_and_is_replaced_cleanly(run_dir: Path) -> None:
    fake, processes, engine = setup(run_dir)
    engine.follow("iris", 2.0)
    followers = ProcessFollowers(run_dir, processes)
    note = "follows the registry champion of iris every 2s"
    extra = {"role": "serving-follower", "deployment": "iris", "interval": 2.0, "note": note}
    assert follower_statuses(followers, STARTED + 30) == [
        ComponentStatus("serve/iris/follow", "registry/iris", True, "running", 5001, 30.0, extra)]
    processes.die(5001)
    assert followers.all() == [FollowerRecord("iris", 5001, 2.0, STARTED, False)]
    assert follower_statuses(followers, STARTED + 30) == [
        ComponentStatus("serve/iris/follow", "registry/iris", False, "process not running", 5001, 30.0,
                        extra)]
    # Following again starts a new one; nothing is stopped, the dead pid being no process of ours.
    assert engine.follow("iris", 2.0).detail == "pid 5002"
    assert processes.stopped == []
    assert [f.running for f in followers.all()] == [True]
    processes.die(5002)
    assert engine.unfollow("iris") is False  # nothing ran; the record goes all the same
    assert followers.all() == []


def test_a_reused_pid_is_not_taken_for_the_follower(run_dir: Path) -> None:
    fake, processes, engine = setup(run_dir)
    engine.follow("iris", 2.0)
    processes.die(5001)
    # The pid now runs something else: not marked with this stack's run dir.
    processes.spawned[0].argv = ["sleep", "100"]
    processes.alive.add(5001)
    assert [f.running for f in ProcessFollowers(run_dir, processes).all()] == [False]
    assert engine.unfollow("iris") is False and 5001 in processes.alive


def test_a_backend_without_followers_refuses_to_follow_with_the_alternative(run_dir: Path) -> None:
    fake = FakeCluster()
    backend = InferenceServices(fake, FakeForwards(fake), lambda uri: ModelRef(uri, "1"), fake.clock, "x")
    engine = BackendServingEngine(backend, lambda: None,  # type: ignore[arg-type, return-value]
                                  partial(follower_command, "dev", run_dir, keep_aws_env=True))
    with pytest.raises(BadInput) as caught:
        engine.follow("iris", 2.0)
    assert caught.value.render() == ("this serving backend has no place to run a follower "
                                     "(fix: run 'appliance serve sync iris' after each promotion)")
    assert engine.unfollow("iris") is False

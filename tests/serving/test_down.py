"""`down` leaves nothing of serving: fronts, model servers, followers, ports and state all go."""

from __future__ import annotations

from pathlib import Path

from appliance.config import profile as profiles
from appliance.console import Console
from appliance.runtime import process
from appliance.runtime.state import RunDir
from appliance.serving.interface import ServingEngine
from appliance.targets.interface import UpOptions
from appliance.targets.local.target import LocalTarget, stray_pids
from stubs import model as stub_model


def test_down_stops_every_serving_process_and_frees_every_port(appliance_home: Path, tmp_path: Path) -> None:
    target = LocalTarget()
    console = Console(quiet=True)
    target.up("serve-down", profiles.load("serving"), UpOptions(), console)
    try:
        stack = target.stack("serve-down")
        engine: ServingEngine = stack.serving
        # A local path works as well as s3:// for a model URI.
        uri = stub_model.save(stub_model.create("clf", "1", 1.0), str(tmp_path / "model.json"))
        endpoint = engine.deploy("left", uri)
        follower = engine.follow("left", 60)
        deployment = engine.get("left")
        assert deployment is not None
        pids = {deployment.front_pid, deployment.model_pid, follower.pid}
        ports = {deployment.front_port, int(deployment.model_url.rsplit(":", 1)[1])}
        run_dir = RunDir("serve-down")
        assert pids <= set(stray_pids(run_dir))  # every process carries --run-dir
        assert all(process.port_in_use(port) for port in ports)
        assert endpoint.url == f"http://127.0.0.1:{deployment.front_port}"
    finally:
        assert target.down("serve-down", console)
    assert not any(process.is_alive(pid) for pid in pids)
    assert not any(process.port_in_use(port) for port in ports)
    assert not run_dir.path.exists()
    assert stray_pids(run_dir) == []

"""The CLI end to end on the local target: up, status, S3 round trip, auth, down, nothing left."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import time
from pathlib import Path

import boto3
import pytest
import requests
from botocore.exceptions import ClientError
from minio import Minio

from appliance.runtime import process


def _alive(pid: int) -> bool:
    return process.is_alive(pid)


def test_up_status_roundtrip_auth_down(cli) -> None:
    up = cli("up", "--name", "e2e", "--profile", "minimal", check=True)
    assert "✓ object store" in up.stderr
    status = json.loads(cli("status", "--name", "e2e", "--json", check=True).stdout)
    assert status["up"] is True and status["healthy"] is True
    assert status["target"] == "local" and status["profile"] == "minimal"
    [store] = status["components"]
    assert store["name"] == "object-store" and store["detail"] == "ok"
    endpoint = store["endpoint"]
    assert endpoint.startswith("http://127.0.0.1:")
    port = int(endpoint.rsplit(":", 1)[1])
    pid = store["pid"]

    exports = dict(
        line.removeprefix("export ").split("=", 1)
        for line in cli("env", "--name", "e2e", check=True).stdout.splitlines()
    )
    assert exports["AWS_ENDPOINT_URL"] == endpoint
    # The secret goes to stdout for eval, never into logs or state.
    run_dir = Path(cli.home) / "stacks" / "e2e"
    for log in (run_dir / "logs").iterdir():
        assert exports["AWS_SECRET_ACCESS_KEY"] not in log.read_text()
    assert exports["AWS_SECRET_ACCESS_KEY"] not in (run_dir / "state.json").read_text()
    stack_pids = [p for p in map(int, filter(str.isdigit, os.listdir("/proc")))
                  if f"--run-dir {run_dir}" in process.cmdline(p)]
    assert stack_pids == [pid]
    assert exports["AWS_SECRET_ACCESS_KEY"] not in process.cmdline(pid)
    assert oct((run_dir / "credentials.json").stat().st_mode & 0o777) == "0o600"

    client = Minio(endpoint.removeprefix("http://"), access_key=exports["AWS_ACCESS_KEY_ID"],
                   secret_key=exports["AWS_SECRET_ACCESS_KEY"], secure=False, region="us-east-1")
    payload = b"appliance round trip\n"
    client.put_object("mlpipeline", "e2e/hello.txt", io.BytesIO(payload), len(payload))
    assert client.get_object("mlpipeline", "e2e/hello.txt").read() == payload
    assert [o.object_name for o in client.list_objects("mlpipeline", prefix="e2e/")] == [
        "e2e/hello.txt"
    ]

    wrong = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                         aws_access_key_id=exports["AWS_ACCESS_KEY_ID"],
                         aws_secret_access_key="not-the-secret")
    with pytest.raises(ClientError) as denied:
        wrong.get_object(Bucket="mlpipeline", Key="e2e/hello.txt")
    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert requests.get(f"{endpoint}/mlpipeline/e2e/hello.txt", timeout=5).status_code == 403
    assert requests.post(f"{endpoint}/moto-api/reset", timeout=5).status_code == 403
    assert client.get_object("mlpipeline", "e2e/hello.txt").read() == payload

    # A second identical up reports the running stack; a conflicting one is refused (exit 2).
    again = cli("up", "--name", "e2e", "--profile", "minimal", check=True)
    assert "already up" in again.stderr
    conflict = cli("up", "--name", "e2e", "--profile", "standard")
    assert conflict.returncode == 2
    assert "already up with profile 'minimal'" in conflict.stderr
    assert "Traceback" not in conflict.stderr

    down = cli("down", "--name", "e2e", check=True)
    assert "is down" in down.stderr
    assert not _alive(pid)
    assert not process.port_in_use(port)
    assert not run_dir.exists()
    again_down = cli("down", "--name", "e2e", check=True)
    assert "nothing to do" in again_down.stderr


def test_down_after_processes_killed_by_hand(cli) -> None:
    cli("up", "--name", "crash", "--profile", "minimal", check=True)
    status = json.loads(cli("status", "--name", "crash", "--json", check=True).stdout)
    pid = status["components"][0]["pid"]
    os.killpg(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    probed = cli("status", "--name", "crash", "--json")
    assert probed.returncode == 1
    assert "error: stack 'crash' is unhealthy: object-store failed the health probe" in probed.stderr
    unhealthy = json.loads(probed.stdout)
    assert unhealthy["healthy"] is False
    assert unhealthy["components"][0]["detail"] == "process not running"
    cli("down", "--name", "crash", check=True)
    assert not (Path(cli.home) / "stacks" / "crash").exists()
    assert list((Path(cli.home) / "stacks").iterdir()) == []


def test_up_restarts_a_stale_stack(cli) -> None:
    cli("up", "--name", "stale", "--profile", "minimal", check=True)
    pid = json.loads(cli("status", "--name", "stale", "--json").stdout)["components"][0]["pid"]
    os.killpg(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    up = cli("up", "--name", "stale", "--profile", "minimal", check=True)
    assert "stale state" in up.stderr
    status = json.loads(cli("status", "--name", "stale", "--json").stdout)
    assert status["healthy"] is True and status["components"][0]["pid"] != pid
    cli("down", "--name", "stale", check=True)


def test_corrupt_state(cli) -> None:
    cli("up", "--name", "corrupt", "--profile", "minimal", check=True)
    pid = json.loads(cli("status", "--name", "corrupt", "--json").stdout)["components"][0]["pid"]
    state = Path(cli.home) / "stacks" / "corrupt" / "state.json"
    state.write_text("{garbage")
    status = cli("status", "--name", "corrupt")
    assert status.returncode == 2
    assert "is corrupted" in status.stderr and "Traceback" not in status.stderr
    refused = cli("up", "--name", "corrupt", "--profile", "minimal")
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines()[-1] == (
        f"error: {state} is corrupted: Expecting property name enclosed in double quotes: "
        "line 1 column 2 (char 1) (fix: run 'appliance down --name corrupt' to clean it up)"
    )
    assert _alive(pid)
    # down still finds the stack's processes by their run dir and removes everything.
    cli("down", "--name", "corrupt", check=True)
    assert not _alive(pid)
    assert not state.parent.exists()


def test_port_in_use(cli) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = cli("up", "--name", "busy", "--port", str(port))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: port {port} is in use: another process listens on 127.0.0.1:{port} "
        "(fix: pick another --port or omit it to use a free one)"
    )
    assert not (Path(cli.home) / "stacks" / "busy").exists()


def test_bad_input_exit_codes(cli) -> None:
    unknown_target = cli("up", "--target", "mars")
    assert unknown_target.returncode == 2 and "'mars' is not one of" in unknown_target.stderr
    unknown_profile = cli("up", "--profile", "gigantic")
    assert unknown_profile.returncode == 2
    assert "unknown profile 'gigantic'" in unknown_profile.stderr
    kind = cli("up", "--target", "kind")
    # No Docker daemon and no kind here: one ✗ line per missing prerequisite, with its fix.
    assert kind.returncode == 3 and "✗ docker daemon: " in kind.stderr
    if shutil.which("kind") is None:
        assert "✗ kind: not installed" in kind.stderr
    assert "error: the kind target cannot start here: " in kind.stderr
    bad_name = cli("up", "--name", "Bad_Name")
    assert bad_name.returncode == 2 and "invalid stack name" in bad_name.stderr
    for result in (unknown_target, unknown_profile, kind, bad_name):
        assert "Traceback" not in result.stderr
    verbose = cli("-v", "up", "--target", "kind")
    assert "Traceback" in verbose.stderr and verbose.returncode == 3
    env = cli("env", "--name", "absent")
    assert env.returncode == 2 and "no stack named 'absent' is up" in env.stderr
    nothing = cli("status", "--name", "absent", "--json")
    assert nothing.returncode == 1
    assert json.loads(nothing.stdout) == {"name": "absent", "up": False}
    assert nothing.stderr.strip() == (
        "error: no stack named 'absent' is up (fix: run 'appliance up --name absent')"
    )


def test_doctor(cli) -> None:
    local = cli("doctor", "--target", "local")
    assert local.returncode == 0, local.stderr
    assert "✓ python:" in local.stderr and "✓ package moto:" in local.stderr
    assert "target 'local' can run" in local.stderr
    kind = cli("doctor", "--target", "kind")
    assert kind.returncode == 3
    assert "docker daemon" in kind.stderr


def test_interrupted_up_leaves_nothing(cli) -> None:
    import subprocess
    import sys

    stack_dir = Path(cli.home) / "stacks" / "intr"
    # SIGINT must land while `up` waits for the object store; if it lands after `up` finished
    # (a slow signal on a busy machine), take the stack down and try again.
    for _ in range(5):
        proc = subprocess.Popen(
            [sys.executable, "-m", "appliance", "up", "--name", "intr", "--profile", "minimal"],
            env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        deadline = time.monotonic() + 30
        while not (stack_dir / "logs" / "object-store.log").exists() and time.monotonic() < deadline:
            time.sleep(0.005)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
        if proc.returncode != 0:
            break
        cli("down", "--name", "intr", check=True)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert not stack_dir.exists()
    leftovers = [pid for pid in map(int, filter(str.isdigit, os.listdir("/proc")))
                 if str(stack_dir) in process.cmdline(pid)]
    assert leftovers == []


@pytest.mark.parametrize("content", [b"\xff\xfe", b'{"kind": "StackState", "apiVersion": '
                                     b'"appliance.dev/v1alpha1", "name": "x", "target": "local", '
                                     b'"profile": "minimal", "created": 1, "components": 5}'])
def test_down_cleans_a_running_stack_whatever_its_state_file_holds(cli, content: bytes) -> None:
    cli("up", "--name", "garbled", "--profile", "minimal", check=True)
    pid = json.loads(cli("status", "--name", "garbled", "--json").stdout)["components"][0]["pid"]
    state = Path(cli.home) / "stacks" / "garbled" / "state.json"
    state.write_bytes(content)
    status = cli("status", "--name", "garbled")
    assert status.returncode == 2 and "is corrupted" in status.stderr
    assert "Traceback" not in status.stderr
    down = cli("down", "--name", "garbled")
    assert down.returncode == 0, down.stderr
    assert "cleaning up by process scan" in down.stderr
    assert not _alive(pid)
    assert not state.parent.exists()


def test_foreign_state_is_refused_and_down_cleans_it(cli) -> None:
    stack_dir = Path(cli.home) / "stacks" / "foreign"
    stack_dir.mkdir(parents=True)
    (stack_dir / "state.json").write_text('{"kind": "Deployment"}')
    refused = cli("up", "--name", "foreign")
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines()[-1] == (
        f"error: {stack_dir / 'state.json'} is not an appliance state file: it lacks kind: StackState "
        "(fix: run 'appliance down --name foreign' to clean it up)"
    )
    assert (stack_dir / "state.json").read_text() == '{"kind": "Deployment"}'
    down = cli("down", "--name", "foreign", check=True)
    assert "cleaning up by process scan" in down.stderr
    assert not stack_dir.exists()

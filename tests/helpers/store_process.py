"""A real local object store process (the appliance's S3 server around moto) started by tests."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance.runtime import process

BUCKET = "mlpipeline"
START_TIMEOUT = 60.0


@dataclass
class StoreProcess:
    """One s3_server process on 127.0.0.1, its run dir and the stack's credentials."""

    run_dir: Path
    port: int
    popen: subprocess.Popen[bytes]
    credentials: dict[str, str]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, **config: Any) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id=self.credentials["access_key"],
            aws_secret_access_key=self.credentials["secret_key"],
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, **config),
        )

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash."""
        self.popen.kill()
        self.popen.wait(timeout=30)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            self.popen.wait(timeout=30)

    def log(self) -> str:
        return (self.run_dir / "server.log").read_text(errors="replace")


def start_store(run_dir: Path, port: int | None = None) -> StoreProcess:
    run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    credentials_file = run_dir / "credentials.json"
    credentials_file.unlink(missing_ok=True)
    chosen = port or process.free_port()
    with open(run_dir / "server.log", "ab") as log:
        popen = subprocess.Popen(
            [sys.executable, "-m", "appliance.targets.local.s3_server", "--port", str(chosen),
             "--run-dir", str(run_dir), "--bucket", BUCKET],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
    deadline = time.monotonic() + START_TIMEOUT
    while not credentials_file.exists():
        if popen.poll() is not None or time.monotonic() > deadline:
            popen.kill()
            raise AssertionError(f"object store did not start:\n{(run_dir / 'server.log').read_text()}")
        time.sleep(0.05)
    credentials = json.loads(credentials_file.read_text())
    return StoreProcess(run_dir, chosen, popen, credentials)

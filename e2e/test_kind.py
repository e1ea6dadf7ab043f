"""The kind target for real: up -> status -> env -> down on a kind cluster. Runs only where a Docker
daemon and kind work (the kind CI workflow); elsewhere it is skipped with the reason printed."""

from __future__ import annotations

import json

import pytest
from kind_available import WHY

pytestmark = [pytest.mark.kind, pytest.mark.integration,
              pytest.mark.skipif(bool(WHY), reason=f"needs Docker and kind: {WHY}")]


def test_up_status_env_down_on_kind(cli) -> None:
    up = cli("up", "--target", "kind", "--profile", "serving", "--name", "kind-e2e", "--timeout", "25m",
             timeout=30 * 60)
    try:
        assert up.returncode == 0, up.stderr
        status = cli("status", "--name", "kind-e2e", "--json", check=True)
        shown = json.loads(status.stdout)
        assert shown["target"] == "kind" and shown["healthy"] is True
        env = cli("env", "--name", "kind-e2e", check=True).stdout
        assert "export KUBECONFIG=" in env and "export AWS_ENDPOINT_URL=http://127.0.0.1:" in env
    finally:
        down = cli("down", "--name", "kind-e2e", timeout=600)
    assert down.returncode == 0, down.stderr

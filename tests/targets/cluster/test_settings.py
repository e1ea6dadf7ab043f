"""Cluster stack settings round-trip through state.json and name what is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.errors import BadInput
from appliance.targets.cluster.settings import ClusterSettings


def test_settings_round_trip_and_urls() -> None:
    settings = ClusterSettings(Path("/run/kubeconfig"), "kind-appliance-dev", "appliance-dev",
                               ports={"pipelines-api": 40001, "object-store": 40000}, forwarder_pid=7)
    data = settings.to_dict()
    assert list(data["ports"]) == ["object-store", "pipelines-api"]
    assert ClusterSettings.from_dict(data) == settings
    assert settings.url("object-store") == "http://127.0.0.1:40000"
    with pytest.raises(BadInput, match="the stack has no local forward for serving/iris"):
        settings.url("serving/iris")


def test_corrupted_settings_are_bad_input() -> None:
    with pytest.raises(BadInput) as bad:
        ClusterSettings.from_dict({"kubeconfig": "/k"})
    assert (bad.value.what, bad.value.why) == ("state.json: the cluster settings are corrupted",
                                               "bad or missing 'context'")

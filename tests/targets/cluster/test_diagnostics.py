"""The diagnostics bundle written from the FakeCluster: files, modes, summary and what was missing."""

from __future__ import annotations

import stat
from pathlib import Path

import yaml
from cluster_objects import deployment, namespace
from fake_cluster import CRASH_LOOP, IMAGE_PULL, FakeCluster, Fault

from appliance.errors import ExternalCommandFailed
from appliance.targets.cluster.client import ApiError
from appliance.targets.cluster.diagnostics import SUMMARY, collect


def broken_cluster() -> FakeCluster:
    cluster = FakeCluster()
    cluster.fault("apps", "db", Fault(CRASH_LOOP, previous_log="fatal: no disk\n"))
    cluster.fault("apps", "api", Fault(IMAGE_PULL))
    cluster.logs[("apps/web", "web")] = "serving on :8080\n"
    cluster.apply([namespace("apps"), deployment("db"), deployment("api"), deployment("web")])
    cluster.advance(30)
    return cluster


def relative(paths: list[Path], root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in paths)


def test_bundle_has_events_descriptions_logs_and_a_summary(tmp_path: Path) -> None:
    cluster = broken_cluster()
    out = tmp_path / "diag"
    exported: list[Path] = []

    def kind_export(target: Path) -> None:
        target.mkdir()
        (target / "kind-version.txt").write_text("kind v0.33.0\n")
        exported.append(target)

    found = collect(cluster, ["apps"], out, extra={"kind": kind_export})
    pods = {p["metadata"]["labels"]["app"]: p["metadata"]["name"] for p in cluster.list("v1", "Pod", "apps")}
    assert relative(found.files, out) == sorted([
        "events/apps.yaml", "deployments/apps.yaml",
        f"pods/apps/{pods['db']}.yaml", f"pods/apps/{pods['api']}.yaml",
        f"logs/apps/{pods['db']}/db.previous.log",
        SUMMARY,
    ])
    assert exported == [out / "kind"]
    assert (out / f"logs/apps/{pods['db']}/db.previous.log").read_text() == "fatal: no disk\n"
    described = yaml.safe_load((out / f"pods/apps/{pods['api']}.yaml").read_text())
    waiting = described["pod"]["status"]["containerStatuses"][0]["state"]["waiting"]
    assert waiting["reason"] == "ImagePullBackOff"
    assert "managedFields" not in described["pod"]["metadata"]
    assert {e["reason"] for e in described["events"]} >= {"Failed", "BackOff"}
    assert [d.component for d in found.diagnoses] == ["Deployment apps/api", "Deployment apps/db"]
    summary = (out / SUMMARY).read_text()
    assert summary.startswith("# Diagnostics\n\nNamespaces: apps\n\n## Deployment apps/api\n\n```text\n"
                              "✗ Deployment apps/api: 0/1 available\n")
    assert found.diagnoses[1].render() in summary
    # The waiting container has no current log; that is not a problem worth listing.
    assert found.problems == []
    for path in found.files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((out / "logs").stat().st_mode) == 0o700


def test_what_cannot_be_collected_is_listed_not_raised(tmp_path: Path) -> None:
    cluster = broken_cluster()
    cluster.fail_next(ApiError(0, "Unreachable", "connection refused"), method="list", times=1)

    def failing(target: Path) -> None:
        raise ExternalCommandFailed(["kind", "export", "logs", str(target)], "ERROR: unknown cluster",
                                    "exit code 1")

    found = collect(cluster, ["gone", "apps"], tmp_path, extra={"kind": failing})
    assert found.problems == [
        "namespace gone: connection refused",
        f"kind: command failed: kind export logs {tmp_path / 'kind'}: exit code 1\nERROR: unknown cluster",
    ]
    summary = (tmp_path / SUMMARY).read_text()
    assert summary.endswith("## Not collected\n\n- namespace gone: connection refused\n"
                            f"- kind: command failed: kind export logs {tmp_path / 'kind'}: exit code 1\n"
                            "  ERROR: unknown cluster\n")


def test_a_healthy_stack_says_so(tmp_path: Path) -> None:
    cluster = FakeCluster()
    cluster.apply([namespace("apps"), deployment("web")])
    cluster.advance(10)
    found = collect(cluster, ["apps"], tmp_path)
    assert (tmp_path / SUMMARY).read_text() == (
        "# Diagnostics\n\nNamespaces: apps\n\nEvery Deployment in these namespaces is ready.\n")
    assert found.diagnoses == []

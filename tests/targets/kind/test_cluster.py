"""kind over the CommandRunner seam: exact argv, kind's real outputs parsed, errors with command and fix."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from fake_runner import (
    DOCKER_DAEMON_DOWN,
    KIND_NO_CLUSTERS,
    FakeRunner,
    kind_create_daemon_down,
    kind_create_exists,
    kind_create_ok,
    kind_create_wait_timeout,
    kind_delete,
    kind_export_logs,
    kind_export_logs_unknown,
    kind_load_3795,
    kind_version,
)

from appliance.errors import EXIT_EXTERNAL, BadInput, ExternalCommandFailed
from appliance.targets.kind import cluster as kind
from appliance.targets.kind import versions

NODE = versions.DEFAULT.node_image
KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
- cluster: {certificate-authority-data: Q0E=, server: 'https://127.0.0.1:40123'}
  name: kind-appliance-dev
contexts:
- context: {cluster: kind-appliance-dev, user: kind-appliance-dev}
  name: kind-appliance-dev
current-context: kind-appliance-dev
users:
- name: kind-appliance-dev
  user: {client-certificate-data: Q0VSVA==, client-key-data: S0VZLVNFQ1JFVA==}
"""


def writes_kubeconfig(mode: int = 0o644):
    """kind's effect: it writes the file named by --kubeconfig."""

    def effect(argv: tuple[str, ...]) -> None:
        path = Path(argv[argv.index("--kubeconfig") + 1])
        path.write_text(KUBECONFIG)
        path.chmod(mode)

    return effect


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return tmp_path / "stacks" / "dev"


def test_names_follow_the_stack() -> None:
    assert kind.cluster_name("dev") == "appliance-dev"
    assert kind.node_name("appliance-dev") == "appliance-dev-control-plane"
    assert kind.context_name("appliance-dev") == "kind-appliance-dev"
    with pytest.raises(BadInput):
        kind.cluster_name("Dev_1")


def test_argv_builders() -> None:
    config, kubeconfig = Path("/r/kind.yaml"), Path("/r/kubeconfig")
    assert kind.version_argv() == ["kind", "version"]
    assert kind.get_clusters_argv() == ["kind", "get", "clusters"]
    assert kind.create_argv("appliance-dev", config, kubeconfig) == [
        "kind", "create", "cluster", "--name", "appliance-dev", "--config", "/r/kind.yaml",
        "--kubeconfig", "/r/kubeconfig", "--wait", "120s"]
    assert kind.create_argv("appliance-dev", config, kubeconfig, retain=True, wait="60s")[-3:] == [
        "--wait", "60s", "--retain"]
    assert kind.delete_argv("appliance-dev", kubeconfig) == [
        "kind", "delete", "cluster", "--name", "appliance-dev", "--kubeconfig", "/r/kubeconfig"]
    assert kind.load_archive_argv("appliance-dev", Path("/c/images-1.tar")) == [
        "kind", "load", "image-archive", "/c/images-1.tar", "--name", "appliance-dev"]
    assert kind.export_logs_argv("appliance-dev", Path("/d/kind")) == [
        "kind", "export", "logs", "/d/kind", "--name", "appliance-dev"]
    assert kind.get_kubeconfig_argv("appliance-dev") == [
        "kind", "get", "kubeconfig", "--name", "appliance-dev"]


@pytest.mark.parametrize(("output", "expected"), [
    (kind_version("v0.33.0"), (0, 33, 0)),
    ("kind v0.34.0-alpha.12+0123456789abcd go1.25.3 darwin/arm64\n", (0, 34, 0)),
    ("0.32.0\n", (0, 32, 0)),
])
def test_parse_version(output: str, expected: tuple[int, int, int]) -> None:
    assert kind.parse_version(output) == expected


def test_parse_version_refuses_other_text() -> None:
    with pytest.raises(ValueError, match="no kind version"):
        kind.parse_version("bash: kind: command not found\n")


def test_parse_clusters() -> None:
    assert kind.parse_clusters(KIND_NO_CLUSTERS) == []
    assert kind.parse_clusters("appliance-dev\nkind\n") == ["appliance-dev", "kind"]


def test_create_runs_kind_with_a_private_kubeconfig_in_the_run_dir(run_dir: Path) -> None:
    runner = FakeRunner()
    target = kind.KindCluster(runner, "appliance-dev", run_dir)
    runner.on(["kind", "create", "cluster"], kind_create_ok("appliance-dev", NODE, target.kubeconfig),
              effect=writes_kubeconfig(0o644))
    created = target.create(run_dir / "kind.yaml", retain=True)
    assert runner.calls == [("kind", "create", "cluster", "--name", "appliance-dev", "--config",
                             str(run_dir / "kind.yaml"), "--kubeconfig", str(run_dir / "kubeconfig"),
                             "--wait", "120s", "--retain")]
    assert created.node_ready is True
    assert created.kubeconfig == run_dir / "kubeconfig"
    assert stat.S_IMODE(created.kubeconfig.stat().st_mode) == 0o600


def test_create_reports_kinds_warning_only_wait_timeout_as_not_ready(run_dir: Path) -> None:
    runner = FakeRunner()
    target = kind.KindCluster(runner, "appliance-dev", run_dir)
    output = kind_create_wait_timeout("appliance-dev", NODE, target.kubeconfig)
    runner.on(["kind", "create", "cluster"], output, effect=writes_kubeconfig())
    created = target.create(run_dir / "kind.yaml")
    assert created.node_ready is False
    assert "WARNING: Timed out waiting for Ready" in created.output


@pytest.mark.parametrize(("output", "why", "fix"), [
    (kind_create_exists("appliance-dev"), "a kind cluster with this name already exists",
     "run 'appliance down' for this stack (or 'kind delete cluster --name <name>') and retry"),
    (kind_create_daemon_down("appliance-dev"), "the Docker daemon is not running",
     "start Docker: 'sudo systemctl start docker' on Linux, Docker Desktop on macOS/Windows"),
])
def test_create_failures_carry_command_output_and_fix(run_dir: Path, output: str, why: str, fix: str) -> None:
    runner = FakeRunner().on(["kind", "create", "cluster"], output, returncode=1)
    with pytest.raises(ExternalCommandFailed) as caught:
        kind.KindCluster(runner, "appliance-dev", run_dir).create(run_dir / "kind.yaml")
    error = caught.value
    assert error.exit_code == EXIT_EXTERNAL
    assert error.command.startswith("kind create cluster --name appliance-dev --config ")
    assert (error.why, error.fix) == (why, fix)
    assert error.render().endswith(output.strip().splitlines()[-1])


def test_create_that_wrote_no_kubeconfig_is_an_error(run_dir: Path) -> None:
    runner = FakeRunner().on(["kind", "create", "cluster"], "")
    with pytest.raises(ExternalCommandFailed, match="kind create cluster"):
        kind.KindCluster(runner, "appliance-dev", run_dir).create(run_dir / "kind.yaml")


def test_delete_of_a_missing_cluster_is_a_no_op(run_dir: Path) -> None:
    runner = FakeRunner().on(["kind", "get", "clusters"], KIND_NO_CLUSTERS)
    assert kind.KindCluster(runner, "appliance-dev", run_dir).delete() is False
    assert runner.calls == [("kind", "get", "clusters")]


def test_delete_names_our_kubeconfig_never_the_users(run_dir: Path) -> None:
    runner = (FakeRunner().on(["kind", "get", "clusters"], "appliance-dev\nother\n")
              .on(["kind", "delete", "cluster"], kind_delete("appliance-dev")))
    assert kind.KindCluster(runner, "appliance-dev", run_dir).delete() is True
    assert runner.called(["kind", "delete"]) == [
        ("kind", "delete", "cluster", "--name", "appliance-dev", "--kubeconfig", str(run_dir / "kubeconfig"))]


def test_delete_with_the_daemon_down_says_so(run_dir: Path) -> None:
    runner = FakeRunner().on(["kind", "get", "clusters"],
                             "ERROR: failed to list clusters: command \"docker ps -a --filter "
                             "label=io.x-k8s.kind.cluster --format "
                             "'{{index .Labels \"io.x-k8s.kind.cluster\"}}'\" "
                             f"failed with error: exit status 1\nCommand Output: {DOCKER_DAEMON_DOWN}\n",
                             returncode=1)
    with pytest.raises(ExternalCommandFailed) as caught:
        kind.KindCluster(runner, "appliance-dev", run_dir).delete()
    assert caught.value.why == "the Docker daemon is not running"


def test_load_archive_failure_of_kind_3795_names_the_issue_and_workaround(run_dir: Path) -> None:
    runner = FakeRunner().on(["kind", "load", "image-archive"], kind_load_3795("appliance-dev-control-plane"),
                             returncode=1)
    with pytest.raises(ExternalCommandFailed) as caught:
        kind.KindCluster(runner, "appliance-dev", run_dir).load_archive(Path("/c/images.tar"))
    assert "kubernetes-sigs/kind#3795" in caught.value.why
    assert "docker save --platform linux/<arch>" in caught.value.fix
    assert "ctr: content digest" in caught.value.render()


def test_export_logs(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "diag" / "kind"
    runner = FakeRunner().on(["kind", "export", "logs"], kind_export_logs("appliance-dev", out))
    assert kind.KindCluster(runner, "appliance-dev", run_dir).export_logs(out) == out
    assert out.is_dir()
    missing = FakeRunner().on(["kind", "export", "logs"], kind_export_logs_unknown("appliance-dev"),
                              returncode=1)
    with pytest.raises(ExternalCommandFailed) as caught:
        kind.KindCluster(missing, "appliance-dev", run_dir).export_logs(out)
    assert caught.value.why == "the kind cluster does not exist"


def test_write_kubeconfig_recreates_a_private_file(run_dir: Path) -> None:
    runner = FakeRunner().on(["kind", "get", "kubeconfig"], KUBECONFIG)
    path = kind.KindCluster(runner, "appliance-dev", run_dir).write_kubeconfig()
    assert path.read_text() == KUBECONFIG
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("output", [
    KUBECONFIG.replace("kind-appliance-dev", "kind-other"),
    "WARNING: something\n" + KUBECONFIG.replace("kind: Config", "kind: [unclosed"),
])
def test_an_unusable_kubeconfig_is_refused_without_echoing_the_client_key(run_dir: Path, output: str) -> None:
    runner = FakeRunner().on(["kind", "get", "kubeconfig"], output)
    with pytest.raises(ExternalCommandFailed) as caught:
        kind.KindCluster(runner, "appliance-dev", run_dir).write_kubeconfig()
    assert "S0VZLVNFQ1JFVA==" not in caught.value.render()
    assert not (run_dir / "kubeconfig").exists()


def test_version_and_exists(run_dir: Path) -> None:
    runner = (FakeRunner().on(["kind", "version"], kind_version("v0.32.0"))
              .on(["kind", "get", "clusters"], "appliance-dev\n"))
    target = kind.KindCluster(runner, "appliance-dev", run_dir)
    assert target.version() == (0, 32, 0)
    assert target.exists() is True
    assert kind.KindCluster(runner, "appliance-other", run_dir).exists() is False

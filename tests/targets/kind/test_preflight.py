"""Preflight verdicts per machine shape, from the tools' real outputs; every blocking failure → exit 3."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_runner import (
    DOCKER_DAEMON_DOWN,
    DOCKER_INFO_DAEMON_DOWN,
    DOCKER_PERMISSION_DENIED,
    DOCKER_VERSION_DAEMON_DOWN,
    KUBECTL_VERSION_CLIENT,
    FakeRunner,
    docker_info,
    docker_version,
    kind_version,
    kubectl_version_client,
)

from appliance.errors import EXIT_PREREQUISITE, ExternalCommandFailed, MissingPrerequisite
from appliance.runtime.process import CommandResult
from appliance.targets.kind import preflight, versions
from appliance.targets.kind.preflight import Check

GIB = 1024**3
STANDARD = ("object-store", "pipelines", "tuning", "serving")
SERVING = ("object-store", "serving")


def host(info: str | None = None, version: str | None = None, kind: str | None = None,
         kubectl: str | None = None, missing: tuple[str, ...] = (), info_rc: int = 0) -> FakeRunner:
    """A machine: every tool answers as scripted (defaults: a healthy 16 GiB / 8 CPU amd64 laptop)."""
    runner = FakeRunner(missing=missing)
    runner.on(["docker", "info"], docker_info() if info is None else info, returncode=info_rc)
    runner.on(["docker", "version"], docker_version() if version is None else version)
    runner.on(["kind", "version"], kind_version() if kind is None else kind)
    runner.on(["kubectl", "version"], kubectl_version_client() if kubectl is None else kubectl)
    return runner


def run(runner: FakeRunner, components: tuple[str, ...] = STANDARD,
        node_image: str = versions.DEFAULT.node_image, free: int = 100 * GIB) -> list[Check]:
    return preflight.kind_preflight(runner, components, node_image, which=runner.which,
                                    disk_free=lambda path: free, disk_paths=[Path("/cache")])


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {check.name: check for check in checks}


def failed(checks: list[Check]) -> list[str]:
    return [check.line() for check in checks if not check.ok]


def test_a_healthy_machine_passes_every_check() -> None:
    checks = run(host())
    assert [c.name for c in checks] == [
        "docker daemon", "docker API", "docker memory", "docker CPUs", "cgroup", "docker image store",
        "architecture", "kind", "node image", "kubectl", "disk space"]
    assert failed(checks) == []
    preflight.require(checks)  # does not raise
    assert by_name(checks)["docker image store"].detail == (
        "containerd snapshotter: preload saves single-platform archives (kind#3795)")


def test_no_docker_binary() -> None:
    runner = host(missing=("docker",))
    checks = run(runner)
    assert failed(checks) == [
        "✗ docker: not installed (fix: install Docker Engine 28.0 or newer, or Docker Desktop: "
        "https://docs.docker.com/engine/install/)"]
    assert runner.called(["docker"]) == []


def test_daemon_down_is_one_line_with_dockers_own_words() -> None:
    runner = host(info=DOCKER_INFO_DAEMON_DOWN, info_rc=1)
    checks = run(runner)
    assert failed(checks) == [
        f"✗ docker daemon: {DOCKER_DAEMON_DOWN} (fix: start Docker: 'sudo systemctl start docker' on Linux, "
        "Docker Desktop on macOS/Windows)"]
    # no API version is asked of a daemon that is not there, and no memory/CPU verdicts are invented
    assert runner.called(["docker", "version"]) == []
    assert "docker memory" not in by_name(checks)


def test_a_user_outside_the_docker_group_is_told_how_to_join_it() -> None:
    checks = run(host(info=DOCKER_PERMISSION_DENIED + "\n", info_rc=1))
    daemon = by_name(checks)["docker daemon"]
    assert daemon.blocking
    assert daemon.detail == DOCKER_PERMISSION_DENIED
    assert daemon.fix == "add your user to the docker group (sudo usermod -aG docker $USER) and log in again"


def test_four_gib_docker_is_refused_and_six_and_a_half_warned() -> None:
    small = by_name(run(host(info=docker_info(mem_gib=4))))["docker memory"]
    assert small.line() == ("✗ docker memory: 4.0 GiB; the stack needs at least 6.0 GiB (fix: give Docker at "
                            "least 8.0 GiB; Docker Desktop: Settings → Resources → Memory)")
    assert small.blocking
    tight = by_name(run(host(info=docker_info(mem_gib=6.5))))["docker memory"]
    assert (tight.ok, tight.severity, tight.blocking) == (False, "warn", False)
    assert tight.line().startswith("! docker memory: 6.5 GiB; 8.0 GiB recommended")


@pytest.mark.parametrize(("ncpu", "symbol"), [(1, "✗"), (2, "!"), (3, "!"), (4, "✓")])
def test_cpus(ncpu: int, symbol: str) -> None:
    assert by_name(run(host(info=docker_info(ncpu=ncpu))))["docker CPUs"].symbol == symbol


def test_docker_older_than_api_1_48_cannot_save_one_platform() -> None:
    check = by_name(run(host(info=docker_info(server_version="27.5.1"),
                             version=docker_version("27.5.1", "1.47"))))["docker API"]
    assert check.line() == ("✗ docker API: 1.47, need ≥ 1.48 (fix: upgrade Docker to Engine 28.0 or newer; "
                            "'docker save --platform' needs API 1.48)")
    assert by_name(run(host(version=docker_version("28.0.0", "1.48"))))["docker API"].ok


def test_arm64_with_pipelines_is_refused_and_without_is_fine() -> None:
    arm = docker_info(architecture="aarch64")
    check = by_name(run(host(info=arm), STANDARD))["architecture"]
    assert check.blocking
    assert check.detail == ("arm64, and the profile has pipelines: "
                            "gcr.io/tfx-oss-public/ml_metadata_store_server:1.14.0 is amd64-only and fails "
                            "under emulation (kubeflow/pipelines#10308)")
    assert check.fix == "use a profile without pipelines (e.g. --profile serving) or an amd64 machine"
    assert by_name(run(host(info=arm), SERVING))["architecture"].line() == "✓ architecture: arm64"
    assert by_name(run(host(info=docker_info(architecture="s390x"))))["architecture"].blocking


def test_kind_older_than_the_oldest_lane_is_refused() -> None:
    check = by_name(run(host(kind=kind_version("v0.29.0"))))["kind"]
    assert check.line() == ("✗ kind: v0.29.0 is older than v0.32.0 (fix: install kind v0.33.0: "
                            "https://kind.sigs.k8s.io/docs/user/quick-start/#installation)")


def test_kind_of_the_other_lane_warns_about_the_node_image_and_names_its_own() -> None:
    check = by_name(run(host(kind=kind_version("v0.32.0"))))["kind"]
    assert (check.ok, check.severity) == (False, "warn")
    assert check.detail == "v0.32.0; the node image kindest/node:v1.34.11 is built for kind v0.33.0"
    assert check.fix == f"install kind v0.33.0 or pass --kind-node-image {versions.KFP_LANE.node_image}"
    lane = by_name(run(host(kind=kind_version("v0.32.0"), kubectl=kubectl_version_client("v1.36.0")),
                       node_image=versions.KFP_LANE.node_image))
    assert lane["kind"].line() == "✓ kind: v0.32.0"
    assert lane["kubectl"].ok


def test_missing_kind_and_kubectl() -> None:
    checks = run(host(missing=("kind", "kubectl")))
    assert failed(checks) == [
        "✗ kind: not installed (fix: install kind v0.33.0: "
        "https://kind.sigs.k8s.io/docs/user/quick-start/#installation)",
        "✗ kubectl: not installed (fix: install kubectl: https://kubernetes.io/docs/tasks/tools/)"]


def test_kubectl_two_minors_away_from_the_node_warns() -> None:
    check = by_name(run(host(kubectl=KUBECTL_VERSION_CLIENT)))["kubectl"]
    assert check.line() == ("! kubectl: v1.32.4; more than one minor version from Kubernetes v1.34.11 "
                            "(fix: install kubectl v1.34: https://kubernetes.io/docs/tasks/tools/)")
    assert not check.blocking


def test_cgroup_v1_warns_for_1_34_and_refuses_1_35_and_later() -> None:
    v1 = docker_info(cgroup_version="1")
    assert by_name(run(host(info=v1)))["cgroup"].severity == "warn"
    lane = host(info=v1, kind=kind_version("v0.32.0"), kubectl=kubectl_version_client("v1.36.0"))
    refused = by_name(run(lane, node_image=versions.KFP_LANE.node_image))["cgroup"]
    assert refused.blocking
    assert refused.detail == "v1; node images from Kubernetes 1.35 need cgroup v2 (kindest/node:v1.36.1)"


def test_an_unpinned_node_image_warns() -> None:
    check = by_name(run(host(), node_image="kindest/node:v1.34.11"))["node image"]
    assert (check.ok, check.severity) == (False, "warn")


def test_disk_is_measured_where_archives_go_and_at_a_local_docker_root(tmp_path: Path) -> None:
    runner = host(info=docker_info(docker_root_dir=str(tmp_path)))
    free = {Path("/cache"): 50 * GIB, tmp_path: 12 * GIB}
    checks = preflight.kind_preflight(runner, STANDARD, which=runner.which, disk_free=free.__getitem__,
                                      disk_paths=[Path("/cache")])
    assert by_name(checks)["disk space"].line() == (
        f"✗ disk space: 12.0 GiB free at {tmp_path}; need 20.0 GiB (images exist on the host, in the node "
        "and in the preload archive) (fix: free space ('docker system prune') or point APPLIANCE_CACHE "
        "elsewhere)")


def test_a_laptop_with_everything_wrong_gets_every_failure_at_once_and_exit_3() -> None:
    runner = host(info=docker_info(mem_gib=4, ncpu=1, architecture="aarch64"), missing=("kind",))
    checks = run(runner, free=5 * GIB)
    with pytest.raises(MissingPrerequisite) as caught:
        preflight.require(checks)
    error = caught.value
    assert error.exit_code == EXIT_PREREQUISITE
    lines = error.render().splitlines()
    assert lines[0] == "the kind target is missing 5 prerequisites"
    assert [line.split(":")[0] for line in lines[1:]] == [
        "  ✗ docker memory", "  ✗ docker CPUs", "  ✗ architecture", "  ✗ kind", "  ✗ disk space"]
    assert all("(fix: " in line for line in lines[1:])


def test_a_tool_that_hangs_is_a_failed_check_not_a_crash() -> None:
    class Hanging(FakeRunner):
        def run(self, argv, timeout=60.0, check=True):  # type: ignore[no-untyped-def]
            if argv[0] == "kind":
                raise ExternalCommandFailed(list(argv), "", f"timed out after {timeout:.0f}s")
            return super().run(argv, timeout, check)

    runner = Hanging()
    for prefix, output in ((["docker", "info"], docker_info()), (["docker", "version"], docker_version()),
                           (["kubectl", "version"], kubectl_version_client())):
        runner.on(prefix, output)
    check = by_name(run(runner))["kind"]
    assert check.line().startswith("✗ kind: timed out after 15s (fix: reinstall kind v0.33.0")
    assert set(runner.timeouts) == {15.0}


def test_inotify_limits_of_the_node() -> None:
    assert preflight.inotify_argv("appliance-dev-control-plane") == [
        "docker", "exec", "appliance-dev-control-plane", "cat", "/proc/sys/fs/inotify/max_user_instances",
        "/proc/sys/fs/inotify/max_user_watches"]
    low = preflight.inotify_check(CommandResult((), 0, "128\n8192\n"))
    assert low.line() == ("! inotify: max_user_instances=128, max_user_watches=8192 (pods may fail with "
                          "'too many open files') (fix: sudo sysctl fs.inotify.max_user_instances=512 "
                          "fs.inotify.max_user_watches=524288)")
    assert preflight.inotify_check(CommandResult((), 0, "512\n524288\n")).ok
    unreadable = CommandResult((), 1, "Error response from daemon: No such container\n")
    assert preflight.inotify_check(unreadable).severity == "warn"


def test_kube_context_found_or_listed() -> None:
    runner = (FakeRunner().on(["kubectl", "version"], kubectl_version_client())
              .on(["kubectl", "config", "get-contexts"], "kind-ext\nprod\n"))
    checks = preflight.kube_preflight(runner, "kind-ext", Path("/k/config"), which=runner.which)
    assert [c.line() for c in checks] == ["✓ kubectl: v1.34.4", "✓ kube context: kind-ext in /k/config"]
    assert runner.called(["kubectl", "config"]) == [
        ("kubectl", "config", "get-contexts", "-o", "name", "--kubeconfig", "/k/config")]
    missing = preflight.kube_preflight(runner, "staging", which=runner.which)[1]
    assert missing.line() == ("✗ kube context: 'staging' is not in $KUBECONFIG or ~/.kube/config; it has "
                              "kind-ext, prod (fix: pass --context with one of those, or set KUBECONFIG to "
                              "the file that has it)")
    empty = FakeRunner().on(["kubectl", "version"], kubectl_version_client()).on(["kubectl", "config"], "")
    none = preflight.kube_preflight(empty, "kind-ext", which=empty.which)[1]
    assert none.line() == ("✗ kube context: 'kind-ext' is not in $KUBECONFIG or ~/.kube/config; it has no "
                           "contexts (fix: set KUBECONFIG to the kubeconfig file that has the context)")


def test_kube_without_kubectl_stops_at_kubectl() -> None:
    runner = FakeRunner(missing=("kubectl",))
    checks = preflight.kube_preflight(runner, "kind-ext", which=runner.which)
    assert [c.line() for c in checks] == [
        "✗ kubectl: not installed (fix: install kubectl: https://kubernetes.io/docs/tasks/tools/)"]
    with pytest.raises(MissingPrerequisite, match="the kube target is missing 1 prerequisite"):
        preflight.require(checks, "kube")


def test_parsers_on_real_outputs() -> None:
    down = preflight.parse_docker_info(CommandResult((), 1, DOCKER_INFO_DAEMON_DOWN))
    assert down == DOCKER_DAEMON_DOWN
    up = preflight.parse_docker_info(CommandResult((), 0, docker_info(mem_gib=8, containerd_store=False)))
    assert isinstance(up, preflight.DockerInfo)
    assert (up.mem_total, up.ncpu, up.arch, up.containerd_store, up.driver) == (8 * GIB, 8, "amd64", False,
                                                                                "overlay2")
    assert preflight.parse_kubectl_version(KUBECTL_VERSION_CLIENT) == (1, 32, 4)
    assert preflight.parse_docker_api(CommandResult((), 0, docker_version("29.0.1", "1.52"))) == (1, 52)
    assert preflight.parse_contexts("") == []


def test_a_cli_that_reports_the_dead_daemon_only_inside_the_json_still_fails() -> None:
    # docker/cli's runInfo with --format: the connection error goes into ServerErrors and formatInfo
    # returns nil, so those CLI versions exit 0 (cli/command/system/info.go).
    output = ('{"ServerVersion":"","MemTotal":0,"NCPU":0,"ServerErrors":["' + DOCKER_DAEMON_DOWN + '"],'
              '"ClientInfo":{"Version":"27.3.1"}}\n')
    assert preflight.parse_docker_info(CommandResult((), 0, output)) == DOCKER_DAEMON_DOWN
    assert preflight.parse_docker_api(CommandResult((), 1, DOCKER_VERSION_DAEMON_DOWN)) is None

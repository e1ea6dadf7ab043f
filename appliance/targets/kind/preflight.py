"""Prerequisite checks of the kind and kube targets as data: facts gathered at the edge, verdicts pure."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance import paths
from appliance.doctor import Check
from appliance.errors import ExternalCommandFailed, MissingPrerequisite
from appliance.runtime.process import CommandResult, CommandRunner
from appliance.targets.kind import versions
from appliance.targets.kind.cluster import parse_version, version_argv
from appliance.targets.kind.versions import GIB, show

CHECK_TIMEOUT = 15.0
MLMD_IMAGE = "gcr.io/tfx-oss-public/ml_metadata_store_server:1.14.0"


class PreflightFailed(MissingPrerequisite):
    """Every blocking check at once, one ✗ line each with its fix (exit 3)."""

    def __init__(self, target: str, failed: list[Check]) -> None:
        self.failed = list(failed)
        count = len(self.failed)
        super().__init__(f"the {target} target is missing {count} prerequisite{'s' if count != 1 else ''}",
                         "; ".join(f"{c.name}: {c.detail}" for c in self.failed))
        self.target = target

    def render(self) -> str:
        return "\n".join([self.what] + [f"  {check.line()}" for check in self.failed])


def require(checks: Iterable[Check], target: str = "kind") -> None:
    failed = [check for check in checks if check.blocking]
    if failed:
        raise PreflightFailed(target, failed)


# ---------------------------------------------------------------- parsers of the tools' output (pure)


@dataclass(frozen=True)
class DockerInfo:
    """What `docker info --format '{{json .}}'` says about the daemon (None fields: unknown)."""

    server_version: str
    mem_total: int
    ncpu: int
    architecture: str
    os_type: str
    cgroup_version: str
    driver: str
    driver_type: str
    docker_root_dir: str

    @property
    def containerd_store(self) -> bool:
        """Docker's containerd image store (default from Docker 29): the kind#3795 setup."""
        return self.driver_type == "io.containerd.snapshotter.v1"

    @property
    def arch(self) -> str | None:
        return versions.ARCHITECTURES.get(self.architecture)


def _json_object(output: str) -> dict[str, Any] | None:
    # stderr is merged into the output: the JSON is the line that starts with '{'.
    for line in output.splitlines():
        if line.startswith("{"):
            try:
                data = json.loads(line)
            except ValueError:
                return None
            return data if isinstance(data, dict) else None
    return None


def _other_lines(output: str) -> str:
    return "\n".join(line for line in output.splitlines() if line.strip() and not line.startswith("{"))


def parse_docker_info(result: CommandResult) -> DockerInfo | str:
    """The daemon's facts, or the reason it could not be asked (e.g. 'Cannot connect to the Docker …').

    With the daemon down the CLI still prints a JSON object with empty server fields (exit 1), so the
    verdict is the exit code and ServerVersion, never the mere presence of JSON."""
    data = _json_object(result.output)
    errors = [str(e) for e in (data or {}).get("ServerErrors") or []]
    if result.returncode != 0 or data is None or errors or not data.get("ServerVersion"):
        reason = "; ".join(errors) or _other_lines(result.output) or f"exit code {result.returncode}"
        return reason.strip().splitlines()[0]
    driver_type = ""
    for pair in data.get("DriverStatus") or []:
        if isinstance(pair, list) and len(pair) == 2 and pair[0] == "driver-type":
            driver_type = str(pair[1])
    return DockerInfo(
        server_version=str(data.get("ServerVersion", "")),
        mem_total=int(data.get("MemTotal") or 0),
        ncpu=int(data.get("NCPU") or 0),
        architecture=str(data.get("Architecture", "")),
        os_type=str(data.get("OSType", "")),
        cgroup_version=str(data.get("CgroupVersion", "")),
        driver=str(data.get("Driver", "")),
        driver_type=driver_type,
        docker_root_dir=str(data.get("DockerRootDir", "")),
    )


def parse_docker_api(result: CommandResult) -> tuple[int, int] | None:
    """The daemon's API version from `docker version --format '{{json .}}'` (None: no server)."""
    data = _json_object(result.output)
    server = (data or {}).get("Server")
    if not isinstance(server, dict):
        return None
    parts = str(server.get("ApiVersion", "")).split(".")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1])


def parse_kubectl_version(output: str) -> tuple[int, int, int] | None:
    """`kubectl version --client -o json` → clientVersion.gitVersion as (1, 32, 4)."""
    start = output.find("{")
    try:
        data, _ = json.JSONDecoder().raw_decode(output[start:]) if start >= 0 else (None, 0)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    return versions.parse_semver(str((data.get("clientVersion") or {}).get("gitVersion", "")))


def parse_contexts(output: str) -> list[str]:
    """`kubectl config get-contexts -o name`: one context a line."""
    return [line.strip() for line in output.splitlines() if line.strip() and " " not in line.strip()]


def parse_inotify(output: str) -> tuple[int, int] | None:
    """(max_user_instances, max_user_watches) from `cat` of both files, in that order."""
    numbers = [int(line) for line in output.split() if line.isdigit()]
    return (numbers[0], numbers[1]) if len(numbers) == 2 else None


# ---------------------------------------------------------------- argv (pure)


def docker_info_argv() -> list[str]:
    return ["docker", "info", "--format", "{{json .}}"]


def docker_version_argv() -> list[str]:
    return ["docker", "version", "--format", "{{json .}}"]


def kubectl_version_argv() -> list[str]:
    return ["kubectl", "version", "--client", "-o", "json"]


def get_contexts_argv(kubeconfig: Path | None = None) -> list[str]:
    argv = ["kubectl", "config", "get-contexts", "-o", "name"]
    return argv + ["--kubeconfig", str(kubeconfig)] if kubeconfig else argv


def inotify_argv(node: str) -> list[str]:
    # Read inside the node: on Docker Desktop these are the VM's limits, not the host's.
    return ["docker", "exec", node, "cat", "/proc/sys/fs/inotify/max_user_instances",
            "/proc/sys/fs/inotify/max_user_watches"]


# ---------------------------------------------------------------- gathering (the only I/O)


@dataclass(frozen=True)
class HostFacts:
    """Raw answers of the host's tools; None where a tool is not installed."""

    docker: CommandResult | None
    docker_version: CommandResult | None
    kind: CommandResult | None
    kubectl: CommandResult | None
    disk: tuple[tuple[str, int], ...]


def free_bytes(path: Path) -> int:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def _ask(runner: CommandRunner, which: Callable[[str], str | None], argv: list[str]) -> CommandResult | None:
    if which(argv[0]) is None:
        return None
    try:
        return runner.run(argv, timeout=CHECK_TIMEOUT, check=False)
    except ExternalCommandFailed as exc:  # timed out, or vanished between `which` and the run
        return CommandResult(tuple(argv), -1, f"{exc.why}\n{exc.output}".strip())


def gather(
    runner: CommandRunner,
    which: Callable[[str], str | None] = shutil.which,
    disk_free: Callable[[Path], int] = free_bytes,
    disk_paths: Iterable[Path] | None = None,
) -> HostFacts:
    docker = _ask(runner, which, docker_info_argv())
    info = parse_docker_info(docker) if docker is not None else None
    # Without a daemon there is no API version to ask for; the daemon's ✗ says it all.
    docker_version = _ask(runner, which, docker_version_argv()) if isinstance(info, DockerInfo) else None
    kind = _ask(runner, which, version_argv())
    kubectl = _ask(runner, which, kubectl_version_argv())
    wanted = list(disk_paths) if disk_paths is not None else [paths.cache()]
    if isinstance(info, DockerInfo) and info.docker_root_dir and Path(info.docker_root_dir).is_dir():
        wanted.append(Path(info.docker_root_dir))  # a local daemon (Linux); Desktop's VM disk is not here
    disk = tuple((str(p), disk_free(p)) for p in wanted)
    return HostFacts(docker, docker_version, kind, kubectl, disk)


# ---------------------------------------------------------------- verdicts (pure)


def _gib(n: int) -> str:
    return f"{n / GIB:.1f} GiB"


def docker_checks(facts: HostFacts, components: Collection[str], node_image: str) -> list[Check]:
    if facts.docker is None:
        return [Check("docker", False, "not installed",
                      f"install Docker Engine 28.0 or newer, or Docker Desktop: {versions.DOCKER_INSTALL}")]
    info = parse_docker_info(facts.docker)
    if isinstance(info, str):
        fix = "start Docker: 'sudo systemctl start docker' on Linux, Docker Desktop on macOS/Windows"
        if "permission denied" in info:
            fix = "add your user to the docker group (sudo usermod -aG docker $USER) and log in again"
        return [Check("docker daemon", False, info, fix)]
    checks = [
        Check("docker daemon", info.os_type == "linux",
              f"Docker {info.server_version} ({info.os_type or 'unknown OS'} containers)",
              "switch Docker to Linux containers"),
        _docker_api(facts),
        _memory(info),
        _cpus(info),
        _cgroup(info, node_image),
        Check("docker image store", True,
              "containerd snapshotter: preload saves single-platform archives (kind#3795)"
              if info.containerd_store else f"{info.driver or 'unknown'} storage driver"),
        _architecture(info, components),
    ]
    return checks


def _docker_api(facts: HostFacts) -> Check:
    api = parse_docker_api(facts.docker_version) if facts.docker_version else None
    need = ".".join(map(str, versions.DOCKER_API_MINIMUM))
    fix = f"upgrade Docker to Engine 28.0 or newer; 'docker save --platform' needs API {need}"
    if api is None:
        return Check("docker API", False, "the daemon reported no API version", fix)
    return Check("docker API", api >= versions.DOCKER_API_MINIMUM, f"{api[0]}.{api[1]}, need ≥ {need}", fix)


def _memory(info: DockerInfo) -> Check:
    fix = (f"give Docker at least {_gib(versions.MEMORY_WARN_BELOW)}; "
           "Docker Desktop: Settings → Resources → Memory")
    if info.mem_total < versions.MEMORY_REFUSE_BELOW:
        return Check("docker memory", False, f"{_gib(info.mem_total)}; the stack needs at least "
                     f"{_gib(versions.MEMORY_REFUSE_BELOW)}", fix)
    if info.mem_total < versions.MEMORY_WARN_BELOW:
        return Check("docker memory", False, f"{_gib(info.mem_total)}; "
                     f"{_gib(versions.MEMORY_WARN_BELOW)} recommended (pods may stay Pending)", fix, "warn")
    return Check("docker memory", True, _gib(info.mem_total))


def _cpus(info: DockerInfo) -> Check:
    fix = f"give Docker {versions.CPUS_WARN_BELOW} CPUs; Docker Desktop: Settings → Resources → CPUs"
    if info.ncpu < versions.CPUS_REFUSE_BELOW:
        return Check("docker CPUs", False, f"{info.ncpu}; at least {versions.CPUS_REFUSE_BELOW} needed", fix)
    if info.ncpu < versions.CPUS_WARN_BELOW:
        return Check("docker CPUs", False, f"{info.ncpu}; {versions.CPUS_WARN_BELOW} recommended", fix,
                     "warn")
    return Check("docker CPUs", True, str(info.ncpu))


def _cgroup(info: DockerInfo, node_image: str) -> Check:
    if info.cgroup_version == "2":
        return Check("cgroup", True, "v2")
    kube = versions.node_kubernetes(node_image)
    fix = "boot the Docker host with cgroup v2 (systemd.unified_cgroup_hierarchy=1)"
    if kube is not None and kube[:2] >= versions.CGROUP_V2_REQUIRED_FROM:
        return Check("cgroup", False, f"v{info.cgroup_version or '?'}; node images from Kubernetes 1.35 "
                     f"need cgroup v2 ({node_image.split('@')[0]})",
                     fix + f", or pass --kind-node-image {versions.DEFAULT.node_image}")
    return Check("cgroup", False, f"v{info.cgroup_version or '?'}; works with this node image, not with "
                 "Kubernetes 1.35 and later", fix, "warn")


def _architecture(info: DockerInfo, components: Collection[str]) -> Check:
    arch = info.arch
    if arch is None:
        return Check("architecture", False, f"{info.architecture or 'unknown'}; kind node images exist for "
                     "amd64 and arm64 only", "use an amd64 or arm64 machine")
    if arch == "arm64" and "pipelines" in components:
        return Check("architecture", False, f"arm64, and the profile has pipelines: {MLMD_IMAGE} is "
                     "amd64-only and fails under emulation (kubeflow/pipelines#10308)",
                     "use a profile without pipelines (e.g. --profile serving) or an amd64 machine")
    return Check("architecture", True, arch)


def kind_checks_from(facts: HostFacts, node_image: str) -> list[Check]:
    if facts.kind is None:
        return [Check("kind", False, "not installed",
                      f"install kind {versions.DEFAULT.kind}: {versions.KIND_INSTALL}")]
    if facts.kind.returncode != 0:
        return [Check("kind", False, _other_lines(facts.kind.output)[:160] or "kind version failed",
                      f"reinstall kind {versions.DEFAULT.kind}: {versions.KIND_INSTALL}")]
    try:
        found = parse_version(facts.kind.output)
    except ValueError as exc:
        return [Check("kind", False, str(exc), f"reinstall kind {versions.DEFAULT.kind}")]
    if found < versions.KIND_MINIMUM:
        return [Check("kind", False, f"{show(found)} is older than {show(versions.KIND_MINIMUM)}",
                      f"install kind {versions.DEFAULT.kind}: {versions.KIND_INSTALL}")]
    pin = versions.pin_for_node_image(node_image)
    if pin is not None and versions.parse_semver(pin.kind) != found:
        others = [p for p in versions.CI_LANES if versions.parse_semver(p.kind) == found]
        fix = f"install kind {pin.kind}"
        if others:
            fix += f" or pass --kind-node-image {others[0].node_image}"
        return [Check("kind", False, f"{show(found)}; the node image {node_image.split('@')[0]} is built "
                      f"for kind {pin.kind}", fix, "warn")]
    return [Check("kind", True, show(found))]


def node_image_check(node_image: str) -> Check:
    if "@sha256:" not in node_image:
        return Check("node image", False, f"{node_image} is not pinned by digest (kind's release notes: "
                     "only the @sha256 image is guaranteed for a kind release)",
                     f"pass --kind-node-image with @sha256:…, e.g. {versions.DEFAULT.node_image}", "warn")
    return Check("node image", True, node_image.split("@")[0])


def kubectl_check(result: CommandResult | None, node_image: str | None = None) -> Check:
    fix = f"install kubectl: {versions.KUBECTL_INSTALL}"
    if result is None:
        return Check("kubectl", False, "not installed", fix)
    found = parse_kubectl_version(result.output) if result.returncode == 0 else None
    if found is None:
        return Check("kubectl", False, _other_lines(result.output)[:160] or "kubectl version failed", fix)
    kube = versions.node_kubernetes(node_image) if node_image else None
    if kube is not None and abs(found[1] - kube[1]) > 1:
        # kubectl's supported skew is one minor version either side of the API server.
        return Check("kubectl", False, f"{show(found)}; more than one minor version from Kubernetes "
                     f"{show(kube)}", f"install kubectl v1.{kube[1]}: {versions.KUBECTL_INSTALL}", "warn")
    return Check("kubectl", True, show(found))


def disk_check(disk: Iterable[tuple[str, int]]) -> Check:
    samples = sorted(disk, key=lambda sample: sample[1])
    if not samples:
        return Check("disk space", False, "no path to measure", "set APPLIANCE_CACHE", "warn")
    where, free = samples[0]
    need = versions.DISK_REFUSE_BELOW
    if free < need:
        return Check("disk space", False, f"{_gib(free)} free at {where}; need {_gib(need)} (images exist "
                     "on the host, in the node and in the preload archive)",
                     "free space ('docker system prune') or point APPLIANCE_CACHE elsewhere")
    return Check("disk space", True, f"{_gib(free)} free at {where}")


def evaluate(facts: HostFacts, components: Collection[str],
             node_image: str = versions.DEFAULT.node_image) -> list[Check]:
    """Every verdict for the kind target, in the order `doctor` prints them."""
    return [
        *docker_checks(facts, components, node_image),
        *kind_checks_from(facts, node_image),
        node_image_check(node_image),
        kubectl_check(facts.kubectl, node_image),
        disk_check(facts.disk),
    ]


def kind_preflight(
    runner: CommandRunner,
    components: Collection[str],
    node_image: str = versions.DEFAULT.node_image,
    which: Callable[[str], str | None] = shutil.which,
    disk_free: Callable[[Path], int] = free_bytes,
    disk_paths: Iterable[Path] | None = None,
) -> list[Check]:
    return evaluate(gather(runner, which, disk_free, disk_paths), components, node_image)


def inotify_check(result: CommandResult) -> Check:
    """After create: the node's inotify limits (its kernel's, i.e. the VM's on Docker Desktop)."""
    found = parse_inotify(result.output) if result.returncode == 0 else None
    fix = (f"sudo sysctl fs.inotify.max_user_instances={versions.INOTIFY_INSTANCES_MINIMUM} "
           f"fs.inotify.max_user_watches={versions.INOTIFY_WATCHES_MINIMUM}")
    if found is None:
        return Check("inotify", False, "could not read the node's limits", fix, "warn")
    instances, watches = found
    low = instances < versions.INOTIFY_INSTANCES_MINIMUM or watches < versions.INOTIFY_WATCHES_MINIMUM
    detail = f"max_user_instances={instances}, max_user_watches={watches}"
    if low:
        return Check("inotify", False, detail + " (pods may fail with 'too many open files')", fix, "warn")
    return Check("inotify", True, detail)


# ---------------------------------------------------------------- the kube target's runner-only checks


def context_check(context: str, result: CommandResult, kubeconfig: Path | None = None) -> Check:
    where = str(kubeconfig) if kubeconfig else "$KUBECONFIG or ~/.kube/config"
    if result.returncode != 0:
        return Check("kube context", False, _other_lines(result.output)[:160] or "kubectl config failed",
                     f"check the kubeconfig at {where}")
    contexts = parse_contexts(result.output)
    if context in contexts:
        return Check("kube context", True, f"{context} in {where}")
    if not contexts:
        return Check("kube context", False, f"{context!r} is not in {where}; it has no contexts",
                     "set KUBECONFIG to the kubeconfig file that has the context")
    return Check("kube context", False, f"{context!r} is not in {where}; it has {', '.join(contexts)}",
                 "pass --context with one of those, or set KUBECONFIG to the file that has it")


def kube_preflight(
    runner: CommandRunner,
    context: str,
    kubeconfig: Path | None = None,
    which: Callable[[str], str | None] = shutil.which,
) -> list[Check]:
    """kubectl present and the context known; server version, permissions and StorageClass need the API."""
    kubectl = _ask(runner, which, kubectl_version_argv())
    checks = [kubectl_check(kubectl)]
    if kubectl is not None and checks[0].ok:
        contexts = _ask(runner, which, get_contexts_argv(kubeconfig))
        if contexts is not None:
            checks.append(context_check(context, contexts, kubeconfig))
    return checks

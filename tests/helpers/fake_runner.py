"""A scripted CommandRunner (same `run` signature) and the real output texts of kind, Docker and kubectl.

Every canned text says where it comes from: captured on the development machine (Docker CLI 28.2.2
with no daemon, kubectl 1.32), read in the tool's source, or quoted in an upstream issue. Builders
that fill in names or numbers keep the tool's own line format."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from appliance.errors import ExternalCommandFailed
from appliance.runtime.process import CommandResult


@dataclass
class Reply:
    output: str = ""
    returncode: int = 0
    # Runs when the reply is used, e.g. to create the file `docker save -o` would write.
    effect: Callable[[tuple[str, ...]], None] | None = None


class FakeRunner:
    """Replies by the longest scripted argv prefix; replies queued for one prefix are used in order and
    the last one repeats. An unscripted command fails the test; a binary in `missing` behaves like
    CommandRunner when the executable is absent."""

    def __init__(self, missing: Iterable[str] = ()) -> None:
        self.missing = set(missing)
        self._script: dict[tuple[str, ...], list[Reply]] = {}
        self._used: dict[tuple[str, ...], int] = {}
        self.calls: list[tuple[str, ...]] = []
        self.timeouts: list[float] = []

    def on(self, prefix: Sequence[str], output: str = "", returncode: int = 0,
           effect: Callable[[tuple[str, ...]], None] | None = None) -> FakeRunner:
        self._script.setdefault(tuple(prefix), []).append(Reply(output, returncode, effect))
        return self

    def which(self, name: str) -> str | None:
        return None if name in self.missing else f"/usr/bin/{name}"

    def run(self, argv: Sequence[str], timeout: float = 60.0, check: bool = True) -> CommandResult:
        call = tuple(argv)
        self.calls.append(call)
        self.timeouts.append(timeout)
        if call[0] in self.missing:
            raise ExternalCommandFailed(list(call), "", f"{call[0]} is not installed")
        matches = [p for p in self._script if call[: len(p)] == p]
        if not matches:
            raise AssertionError(f"unscripted command: {' '.join(call)}")
        prefix = max(matches, key=len)
        replies = self._script[prefix]
        index = min(self._used.get(prefix, 0), len(replies) - 1)
        self._used[prefix] = index + 1
        reply = replies[index]
        if reply.effect is not None:
            reply.effect(call)
        result = CommandResult(call, reply.returncode, reply.output)
        if check and reply.returncode != 0:
            raise ExternalCommandFailed(list(call), reply.output, f"exit code {reply.returncode}")
        return result

    def called(self, prefix: Sequence[str]) -> list[tuple[str, ...]]:
        want = tuple(prefix)
        return [call for call in self.calls if call[: len(want)] == want]


# ------------------------------------------------------------------------------------------ Docker

# Docker CLI 28.2.2 with no daemon, captured on the development machine (CommandRunner merges stderr
# into the output): the CLI still prints a JSON object with empty server fields, then exits 1.
DOCKER_DAEMON_DOWN = (
    "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"
)
DOCKER_INFO_DAEMON_DOWN = (
    '{"ID":"","Containers":0,"ContainersRunning":0,"ContainersPaused":0,"ContainersStopped":0,"Images":0,'
    '"Driver":"","DriverStatus":null,"Plugins":{"Volume":null,"Network":null,"Authorization":null,"Log":null},'
    '"MemoryLimit":false,"SwapLimit":false,"CpuCfsPeriod":false,"CpuCfsQuota":false,"CPUShares":false,'
    '"CPUSet":false,"PidsLimit":false,"IPv4Forwarding":false,"Debug":false,"NFd":0,"OomKillDisable":false,'
    '"NGoroutines":0,"SystemTime":"","LoggingDriver":"","CgroupDriver":"","NEventsListener":0,'
    '"KernelVersion":"","OperatingSystem":"","OSVersion":"","OSType":"","Architecture":"",'
    '"IndexServerAddress":"","RegistryConfig":null,"NCPU":0,"MemTotal":0,"GenericResources":null,'
    '"DockerRootDir":"","HttpProxy":"","HttpsProxy":"","NoProxy":"","Name":"","Labels":null,'
    '"ExperimentalBuild":false,"ServerVersion":"","Runtimes":null,"DefaultRuntime":"","Swarm":{"NodeID":"",'
    '"NodeAddr":"","LocalNodeState":"","ControlAvailable":false,"Error":"","RemoteManagers":null},'
    '"LiveRestoreEnabled":false,"Isolation":"","InitBinary":"","ContainerdCommit":{"ID":""},'
    '"RuncCommit":{"ID":""},"InitCommit":{"ID":""},"SecurityOptions":null,"CDISpecDirs":null,"Warnings":null,'
    '"ClientInfo":{"Debug":false,"Version":"28.2.2","DefaultAPIVersion":"1.50","GitCommit":"e6534b4",'
    '"GoVersion":"go1.24.3","Os":"linux","Arch":"amd64","BuildTime":"Fri May 30 12:07:14 2025",'
    '"Context":"default","Plugins":[],"Warnings":null}}\n' + DOCKER_DAEMON_DOWN + "\n"
)
DOCKER_VERSION_DAEMON_DOWN = (
    '{"Client":{"Version":"28.2.2","ApiVersion":"1.50","DefaultAPIVersion":"1.50","GitCommit":"e6534b4",'
    '"GoVersion":"go1.24.3","Os":"linux","Arch":"amd64","BuildTime":"Fri May 30 12:07:14 2025",'
    '"Context":"default"},"Server":null}\n' + DOCKER_DAEMON_DOWN + "\n"
)
# A user outside the docker group (the CLI's "permission denied while trying to connect" error).
DOCKER_PERMISSION_DENIED = (
    "permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock: "
    'Get "http://%2Fvar%2Frun%2Fdocker.sock/v1.51/info": dial unix /var/run/docker.sock: connect: '
    "permission denied"
)
# moby/moby: Hub's anonymous rate limit as `docker pull` prints it (quoted in many issues, e.g.
# aquasecurity/tracee#4248).
DOCKER_PULL_RATE_LIMIT = (
    "Error response from daemon: toomanyrequests: You have reached your pull rate limit. You may increase "
    "the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit\n"
)
GIB = 1024**3


def docker_info(mem_gib: float = 16, ncpu: int = 8, server_version: str = "29.0.1",
                architecture: str = "x86_64", cgroup_version: str = "2", containerd_store: bool = True,
                os_type: str = "linux", docker_root_dir: str = "/var/lib/docker") -> str:
    """A reachable daemon's `docker info --format '{{json .}}'` (the fields preflight reads, with the
    names and shapes of docker/cli's system.Info; other fields omitted)."""
    driver_status = ([["driver-type", "io.containerd.snapshotter.v1"]] if containerd_store
                     else [["Backing Filesystem", "extfs"], ["Supports d_type", "true"],
                           ["Using metacopy", "false"], ["Native Overlay Diff", "true"],
                           ["userxattr", "false"]])
    return json.dumps({
        "ID": "f3c8b0e4-5d1c-4b61-9a57-2f8e2c1d9a10", "Containers": 0, "Images": 3,
        "Driver": "overlayfs" if containerd_store else "overlay2", "DriverStatus": driver_status,
        "CgroupDriver": "systemd" if cgroup_version == "2" else "cgroupfs", "CgroupVersion": cgroup_version,
        "KernelVersion": "6.8.0-60-generic", "OperatingSystem": "Ubuntu 24.04.2 LTS", "OSType": os_type,
        "Architecture": architecture, "NCPU": ncpu, "MemTotal": int(mem_gib * GIB),
        "DockerRootDir": docker_root_dir, "Name": "laptop", "ServerVersion": server_version,
        "ClientInfo": {"Version": server_version, "Context": "default", "Plugins": []},
    }) + "\n"


def docker_version(server: str = "29.0.1", api: str = "1.52") -> str:
    """`docker version --format '{{json .}}'` with a daemon (Client/Server keys as captured above)."""
    return json.dumps({
        "Client": {"Version": server, "ApiVersion": api, "DefaultAPIVersion": api, "Os": "linux",
                   "Arch": "amd64", "Context": "default"},
        "Server": {"Platform": {"Name": "Docker Engine - Community"}, "Version": server, "ApiVersion": api,
                   "MinAPIVersion": "1.44", "Os": "linux", "Arch": "amd64"},
    }) + "\n"


def docker_inspect(image_id: str, architecture: str = "amd64", ref: str = "") -> str:
    """`docker image inspect REF`: a JSON array of one image record (Id, RepoTags, Os, Architecture)."""
    return json.dumps([{"Id": image_id, "RepoTags": [ref] if ref else [], "Os": "linux",
                        "Architecture": architecture}], indent=4) + "\n"


def docker_inspect_missing(ref: str) -> str:
    # `[]` on stdout and the daemon's error on stderr, exit 1 (as quoted in
    # gabrieldemarmiesse/python-on-whales#557).
    return f"[]\nError response from daemon: No such image: {ref}\n"


def docker_pull_not_found(ref: str) -> str:
    return f"Error response from daemon: manifest for {ref} not found: manifest unknown: manifest unknown\n"


def docker_pull_ok(ref: str) -> str:
    return f"{ref.rpartition(':')[2]}: Pulling from {ref.rpartition(':')[0]}\nDigest: sha256:{'1' * 64}\n" \
           f"Status: Downloaded newer image for {ref}\n{ref}\n"


def crictl_images(tags: Iterable[str]) -> str:
    """`crictl images -o json` in a kind node (CRI ListImages as JSON: id, repoTags, repoDigests, …)."""
    images = [{"id": f"sha256:{index:064x}", "repoTags": [tag], "repoDigests": [], "size": "1000",
               "uid": None, "username": "", "spec": None, "pinned": False}
              for index, tag in enumerate(sorted(tags), start=1)]
    return json.dumps({"images": images}, indent=2) + "\n"


# ------------------------------------------------------------------------------------------ kind

def kind_version(version: str = "v0.33.0", arch: str = "amd64") -> str:
    # pkg/cmd/kind/version/version.go: "kind v" + version + " " + Go version + " " + GOOS/GOARCH.
    return f"kind {version} go1.25.3 linux/{arch}\n"


# pkg/cmd/kind/get/clusters/clusters.go logs this (stderr) and exits 0 when there is no cluster.
KIND_NO_CLUSTERS = "No kind clusters found.\n"


def kind_create_ok(cluster: str, node_image: str, kubeconfig: Path) -> str:
    """`kind create cluster` without a TTY: kind's status lines, then usage and a salutation."""
    tag = node_image.split("@")[0].rpartition(":")[2]
    return (
        f'Creating cluster "{cluster}" ...\n'
        f" ✓ Ensuring node image (kindest/node:{tag}) 🖼\n ✓ Preparing nodes 📦\n"
        " ✓ Writing configuration 📜\n ✓ Starting control-plane 🕹️\n ✓ Installing CNI 🔌\n"
        " ✓ Installing StorageClass 💾\n ✓ Waiting ≤ 2m0s for control-plane = Ready ⏳\n"
        " • Ready after 21s 💚\n"
        f'Set kubectl context to "kind-{cluster}"\nYou can now use your cluster with:\n\n'
        f"kubectl cluster-info --context kind-{cluster} --kubeconfig {kubeconfig}\n\n"
        "Thanks for using kind! 😊\n"
    )


def kind_create_wait_timeout(cluster: str, node_image: str, kubeconfig: Path) -> str:
    # waitforready.go: on timeout the step ends ✗, kind logs " • WARNING: Timed out waiting for Ready ⚠️"
    # and returns nil — create still exits 0.
    ok = kind_create_ok(cluster, node_image, kubeconfig)
    return ok.replace(" ✓ Waiting ≤ 2m0s for control-plane = Ready ⏳\n • Ready after 21s 💚\n",
                      " ✗ Waiting ≤ 2m0s for control-plane = Ready ⏳\n"
                      " • WARNING: Timed out waiting for Ready ⚠️\n")


def kind_create_exists(cluster: str) -> str:
    # internal/create/create.go alreadyExists(); text as in volcano-sh/volcano#2889 (exit 1).
    return f'ERROR: failed to create cluster: node(s) already exist for a cluster with the name "{cluster}"\n'


def kind_create_daemon_down(cluster: str) -> str:
    # As quoted in tektoncd/catalog#1247 (kind with the Docker daemon stopped, exit 1).
    return (
        "ERROR: failed to create cluster: failed to list clusters: command \"docker ps -a --filter "
        f"label=io.x-k8s.kind.cluster={cluster} --format '{{{{.Names}}}}'\" failed with error: "
        "exit status 1\n"
        f"Command Output: {DOCKER_DAEMON_DOWN}\n"
    )


def kind_delete(cluster: str) -> str:
    # deletecluster.go logs this first; deleting a missing cluster prints only this and exits 0.
    return f'Deleting cluster "{cluster}" ...\n'


def kind_load_3795(node: str) -> str:
    # kubernetes-sigs/kind#3845 (a duplicate of #3795): Docker's containerd image store, exit 1.
    return (
        f'ERROR: failed to load image: command "docker exec --privileged -i {node} ctr --namespace=k8s.io '
        'images import --all-platforms --digests --snapshotter=overlayfs -" failed with error: '
        "exit status 1\n"
        "Command Output: ctr: content digest "
        "sha256:82014a3cbf22d2e03382cd9b123f4151d956986e727340a466406a206408b7a2: not found\n"
    )


def kind_export_logs(cluster: str, out_dir: Path) -> str:
    # export/logs/logs.go: the info line on stderr, the directory on stdout.
    return f'Exporting logs for cluster "{cluster}" to:\n{out_dir}\n'


def kind_export_logs_unknown(cluster: str) -> str:
    return f'ERROR: unknown cluster "{cluster}"\n'


# ------------------------------------------------------------------------------------------ kubectl

# `kubectl version --client -o json`, captured on the development machine (exit 0).
KUBECTL_VERSION_CLIENT = """{
  "clientVersion": {
    "major": "1",
    "minor": "32+",
    "gitVersion": "v1.32.4-dispatcher",
    "gitCommit": "4cb5f0764b8d5f425645c6f433394fede34a8a26",
    "gitTreeState": "clean",
    "buildDate": "2025-05-15T20:09:34Z",
    "goVersion": "go1.23.8",
    "compiler": "gc",
    "platform": "linux/amd64"
  },
  "kustomizeVersion": "v5.5.0"
}
"""


def kubectl_version_client(version: str = "v1.34.4") -> str:
    minor = version.split(".")[1]
    return KUBECTL_VERSION_CLIENT.replace("v1.32.4-dispatcher", version).replace('"32+"', f'"{minor}"')

"""Diagnoses of scripted faults, rendered exactly: what users read when readiness times out."""

from __future__ import annotations

from cluster_objects import container, deployment, namespace
from fake_cluster import CRASH_LOOP, FakeCluster, Fault

from appliance.targets.cluster.diagnosis import HintContext, diagnose, event_lines, hints, pod_lines
from appliance.targets.cluster.readiness import Component, explain, observe

GiB = 1024**3


def diagnosed(cluster: FakeCluster, name: str, seconds: float,
              context: HintContext | None = None) -> tuple[str, str]:
    cluster.advance(seconds)
    observed = observe(cluster, Component("apps", name))
    pod = observed.pods[0]["metadata"]["name"] if observed.pods else ""
    return explain(cluster, observed, context).render(), pod


def test_insufficient_memory_names_dockers_memory_and_the_profiles_need() -> None:
    cluster = FakeCluster(node_memory=4 * GiB)
    cluster.apply([namespace("apps"), deployment("mysql", containers=[container("mysql", memory="6Gi")])])
    text, pod = diagnosed(cluster, "mysql", 30, HintContext("standard", docker_memory=4 * GiB,
                                                            required_memory=6 * GiB))
    rs = pod.rsplit("-", 1)[0]
    unschedulable = ("0/1 nodes are available: 1 Insufficient memory. preemption: 0/1 nodes are available: "
                     "1 No preemption victims found for incoming pod.")
    assert text == "\n".join([
        "✗ Deployment apps/mysql: 0/1 available",
        "  conditions:",
        "    Available=False (MinimumReplicasUnavailable): Deployment does not have minimum availability.",
        f'    Progressing=True (ReplicaSetUpdated): ReplicaSet "{rs}" is progressing.',
        "  pods:",
        f"    pod {pod}: Pending, not ready",
        f"      not scheduled (Unschedulable): {unschedulable}",
        "  events:",
        f"    FailedScheduling Pod/{pod}: {unschedulable} (x3)",
        "  hint: Docker has 4 GiB; the standard profile needs 6 GiB; raise Docker's memory and run "
        "'appliance up' again",
    ])


def test_crash_loop_shows_restarts_and_the_tail_of_the_previous_log() -> None:
    cluster = FakeCluster()
    log = "\n".join(f"line {i}" for i in range(60)) + "\nERROR: cannot connect to mysql:3306\n"
    cluster.fault("apps", "db", Fault(CRASH_LOOP, previous_log=log))
    cluster.apply([namespace("apps"), deployment("db")])
    text, pod = diagnosed(cluster, "db", 40)
    rs = pod.rsplit("-", 1)[0]
    uid = cluster.stored("v1", "Pod", pod, "apps")["metadata"]["uid"]
    tail = [f"    | line {i}" for i in range(11, 60)] + ["    | ERROR: cannot connect to mysql:3306"]
    assert text == "\n".join([
        "✗ Deployment apps/db: 0/1 available",
        "  conditions:",
        "    Available=False (MinimumReplicasUnavailable): Deployment does not have minimum availability.",
        f'    Progressing=True (ReplicaSetUpdated): ReplicaSet "{rs}" is progressing.',
        "  pods:",
        f"    pod {pod}: Running, not ready",
        f"      container db: waiting CrashLoopBackOff: back-off 40s restarting failed container=db "
        f"pod={pod}_apps({uid}) (restarts 3; last exit 1 Error)",
        "  events:",
        f"    BackOff Pod/{pod}: Back-off restarting failed container db in pod {pod}_apps({uid}) (x4)",
        f"  previous log of {pod}/db (last 50 lines):",
        *tail,
        "  hint: container db keeps crashing (restarts 3); read its previous log above",
    ])


def test_image_pull_with_always_policy_says_preloading_is_defeated() -> None:
    cluster = FakeCluster(offline=True, loaded_images=["kserve/kserve-controller:v0.20.0"])
    manager = container("manager", image="kserve/kserve-controller:v0.20.0", imagePullPolicy="Always")
    cluster.apply([namespace("apps"), deployment("ctl", containers=[manager])])
    text, pod = diagnosed(cluster, "ctl", 10)
    assert text.splitlines()[5:8] == [
        f"    pod {pod}: Pending, not ready",
        "      container manager: waiting ImagePullBackOff: "
        'Back-off pulling image "kserve/kserve-controller:v0.20.0"',
        "  events:",
    ]
    assert text.splitlines()[-1] == (
        "  hint: image kserve/kserve-controller:v0.20.0 is pulled with imagePullPolicy Always, so a "
        "preloaded copy is not used; set IfNotPresent (catalog patch) or give the node registry access")


def test_pod_security_refusal_names_the_fields_to_fix() -> None:
    cluster = FakeCluster()
    app = container("app", security={"runAsNonRoot": True})
    cluster.apply([namespace("apps"), deployment("root", containers=[app])])
    text, _ = diagnosed(cluster, "root", 3)
    lines = text.splitlines()
    assert lines[0] == "✗ Deployment apps/root: 0/1 available, FailedCreate"
    assert lines[4].startswith("    ReplicaFailure=True (FailedCreate): pods \"root-")
    assert lines[6].startswith("    FailedCreate ReplicaSet/root-") and lines[6].endswith(" (x3)")
    assert lines[-1] == (
        "  hint: namespace apps enforces Pod Security restricted:v1.32 and the pod template breaks it; fix "
        "spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation, "
        "spec.template.spec.containers[0].securityContext.seccompProfile.type, "
        "spec.template.spec.containers[0].securityContext.capabilities.drop (in the catalog's patches, or "
        "declare an exception there)")


def test_progress_deadline_and_failed_readiness_probe() -> None:
    cluster = FakeCluster()
    cluster.fault("apps", "web", Fault("NeverReady"))
    web = deployment("web")
    web["spec"]["progressDeadlineSeconds"] = 30
    cluster.apply([namespace("apps"), web])
    text, pod = diagnosed(cluster, "web", 40)
    assert text.splitlines()[0] == "✗ Deployment apps/web: 0/1 available, ProgressDeadlineExceeded"
    assert text.splitlines()[-2:] == [
        "  hint: the container runs but its readiness probe fails (Readiness probe failed: HTTP probe failed "
        "with statuscode: 503); its log says why",
        "  hint: the rollout made no progress for 30s; the pod states above say why",
    ]
    assert f"    pod {pod}: Running, not ready" in text.splitlines()
    assert "      container web: running, not ready" in text.splitlines()


# --- pure cases (hand-written API objects) -----------------------------------------------------------


def _pod(statuses: list[dict], init: list[dict] | None = None, phase: str = "Pending") -> dict:
    status: dict = {"phase": phase, "containerStatuses": statuses}
    if init:
        status["initContainerStatuses"] = init
    return {"metadata": {"name": "p-1"}, "status": status}


def test_config_error_hints() -> None:
    dep = deployment("api", containers=[container("api", image="mysql:8.4")])
    as_root = 'container has runAsNonRoot and image will run as root (pod: "p_apps(u)", container: api)'
    root = _pod([{"name": "api", "restartCount": 0, "state": {"waiting": {
        "reason": "CreateContainerConfigError", "message": as_root}}}])
    assert hints(dep, [root], [], HintContext()) == (
        "image mysql:8.4 runs as root but the pod requires runAsNonRoot; set securityContext.runAsUser to a "
        "non-zero UID for container api",)
    no_key = "couldn't find key password in Secret apps/db"
    key = _pod([{"name": "api", "state": {"waiting": {"reason": "CreateContainerConfigError",
                                                        "message": no_key}}}])
    assert hints(dep, [key], [], HintContext()) == (
        "container api cannot be created (couldn't find key password in Secret apps/db); create what it "
        "references or fix the reference",)


def test_digest_images_cpu_storage_and_mount_hints() -> None:
    dep = deployment("api", containers=[container("api", image="quay.io/x/y:1@sha256:abc")])
    pulling = _pod([{"name": "api", "state": {"waiting": {"reason": "ErrImagePull"}}}])
    events = [
        {"type": "Warning", "reason": "FailedScheduling",
         "message": "0/1 nodes are available: 1 Insufficient cpu."},
        {"type": "Warning", "reason": "FailedScheduling",
         "message": '0/1 nodes are available: persistentvolumeclaim "data" not found.'},
        {"type": "Warning", "reason": "FailedMount",
         "message": 'MountVolume.SetUp failed for volume "certs" : secret "tls" not found'},
    ]
    assert hints(dep, [pulling], events, HintContext("standard", docker_cpus=1, required_cpus=2)) == (
        "Docker has 1 CPUs; the standard profile needs 2; raise Docker's CPUs and run 'appliance up' again",
        "a PersistentVolumeClaim is missing or unbound: the cluster needs a default StorageClass (kind ships "
        "'standard'); check 'kubectl get storageclass'",
        'a volume cannot be mounted (MountVolume.SetUp failed for volume "certs" : secret "tls" not found); '
        "create what it references or fix the volume",
        "image quay.io/x/y:1@sha256:abc is pinned by digest, which images loaded into kind do not satisfy "
        "(kind#2394); give the node registry access or use --registry-cache",
    )


def test_init_containers_and_healthy_containers() -> None:
    pod = _pod([{"name": "api", "ready": False, "state": {"waiting": {"reason": "PodInitializing"}}},
                {"name": "sidecar", "ready": True, "state": {"running": {}}}],
               init=[{"name": "wait-for-db", "state": {"running": {}}},
                     {"name": "done", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}])
    assert pod_lines(pod) == [
        "pod p-1: Pending, not ready",
        "  init container wait-for-db: running (the pod waits for it to finish)",
        "  container api: waiting PodInitializing",
    ]


def test_events_show_warnings_only_newest_last() -> None:
    def event(reason: str, when: str, kind: str = "Warning") -> dict:
        return {"type": kind, "reason": reason, "message": reason.lower(), "lastTimestamp": when,
                "involvedObject": {"kind": "Pod", "name": "p"}}

    lines = event_lines([event("B", "2026-01-01T00:00:02Z"),
                         event("Pulled", "2026-01-01T00:00:01Z", "Normal"),
                         event("A", "2026-01-01T00:00:01Z")])
    assert lines == ("A Pod/p: a", "B Pod/p: b")


def test_diagnose_without_pods_or_events() -> None:
    dep = deployment("api")
    dep["status"] = {"conditions": [{"type": "Available", "status": "False"}]}
    assert diagnose(dep, [], [], {}).render() == "\n".join([
        "✗ Deployment apps/api: 0/1 available",
        "  conditions:",
        "    Available=False",
    ])

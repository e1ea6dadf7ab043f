"""The real rendered standard profile, applied to the FakeCluster the way the kind target applies it."""

from __future__ import annotations

from typing import Any

import pytest
from fake_cluster import CRASH_LOOP, FakeCluster, Fault

from appliance.targets.cluster.apply import apply_builtins, apply_custom, apply_foundation, plan
from appliance.targets.cluster.client import ObjRef
from appliance.targets.cluster.readiness import NotReady, stages_for, wait_stages, wait_webhooks

Objs = list[dict[str, Any]]


def webhook_refs(objects: Objs) -> list[ObjRef]:
    return [ObjRef.of(o) for o in objects if o["kind"].endswith("WebhookConfiguration")]


def cluster() -> FakeCluster:
    # CRDs establish late and conditions are absent at first; the KServe webhook serves only once
    # its controller is up, 40 s after it starts; Katib's controller writes its webhooks' CA.
    fake = FakeCluster(crd_names_after=2, crd_established_after=8)
    fake.ready_delays["kserve/kserve-controller-manager"] = 40
    fake.ca_injectors["katib/katib-controller"] = ["katib.kubeflow.org"]
    return fake


def test_the_standard_bundle_converges(standard_objects: Objs) -> None:
    fake = cluster()
    steps = plan(standard_objects)
    assert len(steps.foundation) == 5 + 18 and len(steps.custom) == 4  # 5 namespaces, 18 CRDs
    progress: list[str] = []
    note = lambda text, _: progress.append(text)  # noqa: E731
    apply_foundation(fake, steps, fake.clock, on_progress=note)
    assert progress[0].startswith("CRDs not established: clusterservingruntimes.serving.kserve.io "
                                  "(no conditions yet)")
    apply_builtins(fake, steps, fake.clock)
    wait_stages(fake, stages_for(standard_objects), fake.clock, on_progress=note)
    wait_webhooks(fake, webhook_refs(standard_objects), fake.clock, on_progress=note)
    apply_custom(fake, steps, fake.clock, on_progress=note)

    for obj in standard_objects:
        ref = ObjRef.of(obj)
        if obj["kind"] == "ClusterStorageContainer":  # cluster-scoped, rendered with a namespace
            ref = ObjRef(ref.api_version, ref.kind, ref.name)
        assert fake.get(ref) is not None, ref
    assert fake.get(ObjRef("serving.kserve.io/v1alpha1", "ClusterStorageContainer", "default")) is not None
    deployments = [o for o in fake.all_objects() if o["kind"] == "Deployment"]
    assert len(deployments) == 10
    assert all(d["status"]["availableReplicas"] == 1 for d in deployments)
    # Secrets went as data only; nothing carried a client-side-apply annotation.
    assert all("stringData" not in o for o in fake.all_objects() if o["kind"] == "Secret")
    applies = [args for call, args in fake.calls if call == "apply"]
    assert {(manager, force) for _, manager, force in applies} == {("appliance", True)}


def test_custom_resources_alone_wait_for_the_kserve_webhook(standard_objects: Objs) -> None:
    fake = cluster()
    steps = plan(standard_objects)
    apply_foundation(fake, steps, fake.clock)
    apply_builtins(fake, steps, fake.clock)
    started = fake.now
    refusals: list[str] = []
    apply_custom(fake, steps, fake.clock, on_progress=lambda text, _: refusals.append(text))
    assert refusals[0] == (
        "ClusterServingRuntime kserve-lgbserver: waiting for its admission webhook (Internal error occurred: "
        'failed calling webhook "clusterservingruntime.kserve-webhook-server.validator": failed to call '
        'webhook: Post "https://kserve-webhook-server-service.kserve.svc:443/validate-serving-kserve-io-'
        'v1alpha1-clusterservingruntime?timeout=10s": no endpoints available for service '
        '"kserve-webhook-server-service")')
    # Controller pod created on the next tick, running 2 s later, ready after 40 s more; retries
    # every 5 s.
    assert fake.now - started == 45


def test_a_crash_looping_katib_db_manager_is_diagnosed_exactly(standard_objects: Objs) -> None:
    fake = cluster()
    log = ("I0101 00:00:01.000000       1 db.go:32] Using MySQL\n"
           "E0101 00:00:06.000000       1 connection.go:40] Ping to Katib db failed: dial tcp "
           "10.96.0.20:3306: connect: connection refused\n")
    fake.fault("katib", "katib-db-manager", Fault(CRASH_LOOP, previous_log=log))
    steps = plan(standard_objects)
    apply_foundation(fake, steps, fake.clock)
    apply_builtins(fake, steps, fake.clock)
    with pytest.raises(NotReady) as caught:
        wait_stages(fake, stages_for(standard_objects), fake.clock)
    [diagnosis] = caught.value.diagnoses
    pod = fake.list("v1", "Pod", "katib", {"katib.kubeflow.org/component": "db-manager"})[0]
    name, uid = pod["metadata"]["name"], pod["metadata"]["uid"]
    rs = name.rsplit("-", 1)[0]
    assert diagnosis.render() == "\n".join([
        "✗ Deployment katib/katib-db-manager: 0/1 available",
        "  conditions:",
        "    Available=False (MinimumReplicasUnavailable): Deployment does not have minimum availability.",
        f'    Progressing=True (ReplicaSetUpdated): ReplicaSet "{rs}" is progressing.',
        "  pods:",
        f"    pod {name}: Running, not ready",
        f"      container katib-db-manager: waiting CrashLoopBackOff: back-off 160s restarting failed "
        f"container=katib-db-manager pod={name}_katib({uid}) (restarts 5; last exit 1 Error)",
        "  events:",
        f"    BackOff Pod/{name}: Back-off restarting failed container katib-db-manager in pod "
        f"{name}_katib({uid}) (x30)",
        f"  previous log of {name}/katib-db-manager (last 50 lines):",
        "    | I0101 00:00:01.000000       1 db.go:32] Using MySQL",
        "    | E0101 00:00:06.000000       1 connection.go:40] Ping to Katib db failed: dial tcp "
        "10.96.0.20:3306: connect: connection refused",
        "  hint: container katib-db-manager keeps crashing (restarts 5); read its previous log above",
    ])

"""FakeCluster: an in-memory Kubernetes API behind KubeClient, with the behaviour the cluster code
depends on (kind.md §7.5): late CRDs, the server-side-apply contract, Pod Security admission,
webhooks that refuse until their backend serves, Deployments whose pods start, fail and recover on
a virtual clock, EndpointSlices, events and logs.

What an apply keeps is what a real API server keeps (fake_schemas.py): a custom resource whose CRD
version has an openAPIV3Schema is pruned to that structural schema and refused (422 Invalid, in
the server's words) when the merged object breaks it; a built-in object loses the fields its
kind's strict schema in the cluster's Kubernetes version does not have (fieldValidation=Warn, the
default). Each lost field is recorded in `warnings` as the server's Warning header says it, so a
test can prove nothing it sends is silently dropped. CRD versions without a schema keep all.

Time is virtual: `cluster.clock.sleep(s)` advances it and runs the simulated controllers once per
whole second ("tick"). Nothing here sleeps, spawns or opens a port.

Simplifications, on purpose: lists are atomic in field ownership (real SSA merges some lists by
key); one node; one container runtime behaviour per Deployment fault. The fake is stricter than a
real server in one place: it refuses `stringData` and any last-applied-configuration annotation,
so tests prove the appliance never sends them.
"""

from __future__ import annotations

import builtins
import copy
import datetime
import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import fake_schemas
from kubernetes.utils.quantity import parse_quantity

from appliance.review import pss
from appliance.review.podspecs import pod_views
from appliance.targets.cluster.client import ApiError, Conflict, NotFound, ObjRef

Obj = dict[str, Any]
Objs = list[Obj]  # an alias: inside FakeCluster, `list` names the method
Key = tuple[str, str, str, str]  # (group, kind, namespace, name)
GiB = 1024**3
EPOCH = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
ANNOTATIONS_LIMIT = 262144  # bytes, the API server's TotalAnnotationSizeLimitB

# (apiVersion, kind) -> (plural, namespaced)
BUILTINS: dict[tuple[str, str], tuple[str, bool]] = {
    ("v1", "Namespace"): ("namespaces", False),
    ("v1", "Node"): ("nodes", False),
    ("v1", "Pod"): ("pods", True),
    ("v1", "Service"): ("services", True),
    ("v1", "ServiceAccount"): ("serviceaccounts", True),
    ("v1", "ConfigMap"): ("configmaps", True),
    ("v1", "Secret"): ("secrets", True),
    ("v1", "PersistentVolumeClaim"): ("persistentvolumeclaims", True),
    ("v1", "Event"): ("events", True),
    ("apps/v1", "Deployment"): ("deployments", True),
    ("apps/v1", "ReplicaSet"): ("replicasets", True),
    ("apps/v1", "StatefulSet"): ("statefulsets", True),
    ("apps/v1", "DaemonSet"): ("daemonsets", True),
    ("batch/v1", "Job"): ("jobs", True),
    ("batch/v1", "CronJob"): ("cronjobs", True),
    ("policy/v1", "PodDisruptionBudget"): ("poddisruptionbudgets", True),
    ("rbac.authorization.k8s.io/v1", "Role"): ("roles", True),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): ("rolebindings", True),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): ("clusterroles", False),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): ("clusterrolebindings", False),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"): ("customresourcedefinitions", False),
    ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration"):
        ("mutatingwebhookconfigurations", False),
    ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration"):
        ("validatingwebhookconfigurations", False),
    ("networking.k8s.io/v1", "NetworkPolicy"): ("networkpolicies", True),
    ("scheduling.k8s.io/v1", "PriorityClass"): ("priorityclasses", False),
    ("storage.k8s.io/v1", "StorageClass"): ("storageclasses", False),
    ("discovery.k8s.io/v1", "EndpointSlice"): ("endpointslices", True),
}
# Kinds the simulated controllers own entirely: clients may read them but never apply them.
_CONTROLLER_KINDS = {"Event", "EndpointSlice", "ReplicaSet", "Node"}

# Scripted per-Deployment faults (kind.md §7.5 item 5).
IMAGE_PULL = "ImagePullBackOff"
CRASH_LOOP = "CrashLoopBackOff"
CONFIG_ERROR = "CreateContainerConfigError"
NEVER_READY = "NeverReady"  # running, readiness probe failing (leads to ProgressDeadlineExceeded)


@dataclass
class Fault:
    kind: str
    container: str | None = None  # default: the first container
    message: str = ""
    previous_log: str = ""  # what the crashed run printed (CrashLoopBackOff)
    until: float | None = None  # virtual time after which the fault clears
    pods: Callable[[Obj], bool] | None = None  # only the pods this matches (e.g. one model's)


@dataclass
class _PodRuntime:
    """Kubelet-side bookkeeping the pod object does not carry."""

    created: float
    scheduled: float | None = None
    started: float | None = None  # containers started (after mount and pull)
    ready_at: float | None = None
    running_since: float | None = None
    backoff_until: float | None = None
    restarts: int = 0
    crashed: str = ""  # the container that crash-loops
    ip: str = ""
    last_schedule_try: float = -1e9
    terminating_since: float | None = None


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0]


def _version(api_version: str) -> str:
    return api_version.rpartition("/")[2]


def _keyed(value: Any) -> bool:
    """Lists of named maps (containers, env, volumes, webhooks...) merge by name under SSA."""
    return isinstance(value, list) and bool(value) and \
        all(isinstance(item, dict) and "name" in item for item in value)


def _item(name: Any) -> str:
    return f"[name={name}]"


def _leaves(value: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Field paths an applied object sets: maps and named lists recurse, the rest are leaves."""
    if isinstance(value, dict) and value:
        for key, inner in value.items():
            yield from _leaves(inner, (*prefix, str(key)))
    elif _keyed(value):
        for item in value:
            yield from _leaves(item, (*prefix, _item(item["name"])))
    else:
        yield prefix, value


def _step(obj: Any, part: str) -> tuple[bool, Any]:
    if part.startswith("[name=") and isinstance(obj, list):
        for item in obj:
            if isinstance(item, dict) and _item(item.get("name")) == part:
                return True, item
        return False, None
    if isinstance(obj, dict) and part in obj:
        return True, obj[part]
    return False, None


def _at(obj: Any, path: tuple[str, ...]) -> tuple[bool, Any]:
    for part in path:
        found, obj = _step(obj, part)
        if not found:
            return False, None
    return True, obj


def _remove(obj: Obj, path: tuple[str, ...]) -> None:
    chain: list[Any] = [obj]
    for part in path[:-1]:
        found, nxt = _step(chain[-1], part)
        if not found:
            return
        chain.append(nxt)
    last = chain[-1]
    if isinstance(last, dict):
        last.pop(path[-1], None)
    # Drop maps left empty and named items left with only their name.
    for depth in range(len(path) - 1, 0, -1):
        node, parent, part = chain[depth], chain[depth - 1], path[depth - 1]
        empty = node == {} or (part.startswith("[name=") and set(node) == {"name"})
        if not empty:
            break
        if isinstance(parent, list):
            parent.remove(node)
            if parent:
                break
            grand = chain[depth - 2] if depth >= 2 else None
            if isinstance(grand, dict):
                grand.pop(path[depth - 2], None)
            break
        parent.pop(part, None)


def _merge(base: Obj, applied: Obj) -> None:
    for key, value in applied.items():
        current = base.get(key)
        if isinstance(value, dict) and value and isinstance(current, dict):
            _merge(current, value)
        elif _keyed(value) and isinstance(current, list) and _keyed(current):
            by_name = {item["name"]: item for item in current}
            for item in value:
                if item["name"] in by_name:
                    _merge(by_name[item["name"]], item)
                else:
                    current.append(copy.deepcopy(item))
        else:
            base[key] = copy.deepcopy(value)


def _stable(obj: Obj) -> Obj:
    """An object without the fields every write changes."""
    meta = {k: v for k, v in _d(obj.get("metadata")).items() if k not in ("managedFields", "resourceVersion")}
    return {**obj, "metadata": meta}


def matches_selector(selector: Any, labels: dict[str, Any]) -> bool:
    """A LabelSelector (matchLabels and matchExpressions) against labels; None matches all."""
    if selector is None:
        return True
    selector = _d(selector)
    for key, value in _d(selector.get("matchLabels")).items():
        if labels.get(key) != value:
            return False
    for expr in _l(selector.get("matchExpressions")):
        expr = _d(expr)
        label, op, values = str(expr.get("key")), expr.get("operator"), _l(expr.get("values"))
        if op == "In" and labels.get(label) not in values:
            return False
        if op == "NotIn" and label in labels and labels[label] in values:
            return False
        if op == "Exists" and label not in labels:
            return False
        if op == "DoesNotExist" and label in labels:
            return False
    return True


def _requests(pod_spec: Obj) -> tuple[Decimal, Decimal]:
    cpu, memory = Decimal(0), Decimal(0)
    for container in _l(pod_spec.get("containers")):
        requests = _d(_d(_d(container).get("resources")).get("requests"))
        if "cpu" in requests:
            cpu += parse_quantity(requests["cpu"])
        if "memory" in requests:
            memory += parse_quantity(requests["memory"])
    return cpu, memory


def _short_hash(value: Any, length: int = 10) -> str:
    digest = hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()
    # Kubernetes' safe alphabet (no vowels, no ambiguous characters), deterministic here.
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    number = int(digest, 16)
    out = ""
    for _ in range(length):
        number, index = divmod(number, len(alphabet))
        out += alphabet[index]
    return out


# pod-security-admission's wording for the checks a hardened bundle most often trips
# (k8s.io/pod-security-admission/policy); other checks fall back to appliance.review.pss's text.
_PSA_TEXT: dict[str, tuple[str, str]] = {
    "allowPrivilegeEscalation": ("allowPrivilegeEscalation != false",
                                 "{who} must set securityContext.allowPrivilegeEscalation=false"),
    "capabilities_restricted": ("unrestricted capabilities",
                                '{who} must set securityContext.capabilities.drop=["ALL"]'),
    "runAsNonRoot": ("runAsNonRoot != true", "pod or {who} must set securityContext.runAsNonRoot=true"),
    "seccompProfile_restricted": ("seccompProfile", 'pod or {who} must set securityContext.seccompProfile'
                                  '.type to "RuntimeDefault" or "Localhost"'),
}


def psa_message(pod: Obj, level: str, version_label: str) -> str | None:
    """pod-security-admission's denial for a pod, or None when the level allows it (the checks
    are appliance.review.pss's, which follow pod-security-admission)."""
    try:
        version = pss.parse_version(version_label or "latest")
    except ValueError:
        version = pss.LATEST
    violations = [v for view in pod_views(pod) for v in pss.evaluate(view, level, version)]
    if not violations:
        return None
    by_check: dict[str, list[pss.Violation]] = {}
    for violation in violations:
        by_check.setdefault(violation.check, []).append(violation)
    parts = []
    for check, found in by_check.items():
        names = sorted({v.container for v in found if v.container})
        if check in _PSA_TEXT and names and all(v.container for v in found):
            reason, detail = _PSA_TEXT[check]
            who = ("container " if len(names) == 1 else "containers ") + \
                ", ".join(f'"{n}"' for n in names)
            parts.append(f"{reason} ({detail.format(who=who)})")
        else:
            parts.append(f"{check} ({'; '.join(v.message for v in found)})")
    name = _d(pod.get("metadata")).get("name")
    return (f'pods "{name}" is forbidden: violates PodSecurity '
            f'"{level}:{version_label or "latest"}": {", ".join(parts)}')


class FakeClock:
    """The virtual clock: sleeping advances the cluster."""

    def __init__(self, cluster: FakeCluster) -> None:
        self._cluster = cluster
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self._cluster.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self._cluster.advance(seconds)


@dataclass
class _Injected:
    matches: Callable[[str, ObjRef | None], bool]
    error: ApiError
    remaining: int


class FakeCluster:
    """Implements KubeClient. Timing knobs are virtual seconds."""

    def __init__(
        self,
        *,
        version: str = "v1.34.11",
        node_memory: int = 8 * GiB,
        node_cpu: str = "4",
        architecture: str = "amd64",
        crd_names_after: float = 1.0,
        crd_established_after: float = 3.0,
        container_start_after: float = 2.0,
        ready_after: float = 3.0,
        webhook_listen_after: float = 2.0,
        terminate_after: float = 2.0,
        namespace_delete_after: float = 5.0,
        offline: bool = False,
        loaded_images: Sequence[str] = (),
        root_images: Sequence[str] = (),
    ) -> None:
        self.now = 0.0
        self.clock = FakeClock(self)
        self.version = version
        self.node_memory = Decimal(node_memory)
        self.node_cpu = parse_quantity(node_cpu)
        self.crd_names_after = crd_names_after
        self.crd_established_after = crd_established_after
        self.container_start_after = container_start_after
        self.ready_after = ready_after
        self.webhook_listen_after = webhook_listen_after
        self.terminate_after = terminate_after
        self.namespace_delete_after = namespace_delete_after
        self.offline = offline
        self.loaded_images = set(loaded_images)
        self.root_images = set(root_images)
        self.faults: dict[str, Fault] = {}  # "namespace/deployment" -> fault
        self.ready_delays: dict[str, float] = {}  # "namespace/deployment" -> seconds to Ready
        self.logs: dict[tuple[str, str], str] = {}  # (deployment key, container) -> current log
        # "namespace/deployment" -> webhook configurations whose caBundle it writes once Available
        # for `ca_after` seconds (Katib's cert generator; kind.md §7.5 item 4).
        self.ca_injectors: dict[str, list[str]] = {}
        self.ca_after = 3.0
        self.denied: set[tuple[str, str, str]] = set()  # (verb, group, resource) can_i refuses
        self.calls: list[tuple[str, Any]] = []  # every KubeClient call, for assertions
        # Every field an apply lost (pruned by a CRD's schema, unknown to a built-in kind's), as
        # the API server's Warning header says it: (object, 'unknown field "spec.foo"').
        self.warnings: list[tuple[ObjRef, str]] = []
        # Extra controllers plugged in by tests (fake_controllers.py), run first on every tick.
        self.controllers: list[Callable[[FakeCluster], None]] = []
        self._objects: dict[Key, Obj] = {}  # (group, kind, ns, name)
        self._owners: dict[Key, dict[str, set[tuple[str, ...]]]] = {}
        self._born: dict[str, float] = {}  # uid -> creation time
        self._pods: dict[str, _PodRuntime] = {}  # pod uid -> runtime
        self._progress: dict[str, float] = {}  # deployment uid -> last progress time
        self._seen: dict[str, tuple[int, int]] = {}  # deployment uid -> (new ready, new pods)
        self._endpoints_since: dict[tuple[str, str], float] = {}
        self._available_since: dict[str, float] = {}
        self._events: list[Obj] = []
        self._injected: list[_Injected] = []
        self._schemas: dict[tuple[str, str, str], fake_schemas.CustomSchema] = {}
        self._counter = 0
        self._next_tick = 1.0
        self._node = self._make_node(architecture)

    # --- test controls ----------------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Move virtual time forward, running the controllers once per whole second crossed."""
        target = self.now + seconds
        while self._next_tick <= target:
            self.now = self._next_tick
            self._reconcile()
            self._next_tick += 1.0
        self.now = target

    def run_until(self, predicate: Callable[[], bool], limit: float = 600.0) -> None:
        end = self.now + limit
        while not predicate():
            if self.now >= end:
                raise AssertionError(f"condition not reached in {limit}s of virtual time")
            self.advance(1.0)

    def fault(self, namespace: str, deployment: str, fault: Fault) -> None:
        self.faults[f"{namespace}/{deployment}"] = fault

    def fail_next(self, error: ApiError, *, times: int = 1, method: str = "apply",
                  ref: Callable[[ObjRef], bool] | None = None) -> None:
        """Make the next `times` calls of `method` (on matching objects) fail with `error`."""
        def matches(called: str, target: ObjRef | None) -> bool:
            return called == method and (ref is None or (target is not None and ref(target)))
        self._injected.append(_Injected(matches, error, times))

    def stored(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Obj:
        """The stored object itself (tests may inspect; use apply/get to change it)."""
        key = self._key(api_version, kind, namespace, name)
        return self._objects[key]

    def all_objects(self) -> Objs:
        return [copy.deepcopy(o) for o in self._objects.values()]

    # --- KubeClient ---------------------------------------------------------------------------------

    def apply(self, objs: Sequence[Obj], field_manager: str = "appliance", force: bool = True) -> Objs:
        out = []
        for obj in objs:
            self.calls.append(("apply", (ObjRef.of(obj), field_manager, force)))
            self._maybe_fail("apply", ObjRef.of(obj))
            out.append(self._apply(obj, field_manager, force))
        return out

    def get(self, ref: ObjRef) -> Obj | None:
        self.calls.append(("get", ref))
        self._maybe_fail("get", ref)
        try:
            key = self._key(ref.api_version, ref.kind, ref.namespace, ref.name)
        except NotFound:
            return None
        obj = self._objects.get(key)
        return copy.deepcopy(obj) if obj is not None else None

    def list(self, api_version: str, kind: str, namespace: str | None = None,
             labels: dict[str, str] | None = None) -> Objs:
        self.calls.append(("list", (api_version, kind, namespace, labels)))
        self._maybe_fail("list", None)
        try:
            group, _, namespaced = self._resource(api_version, kind)
        except NotFound:
            return []
        out = []
        for (g, k, ns, _name), obj in sorted(self._objects.items()):
            if g != group or k != kind:
                continue
            if namespaced and namespace is not None and ns != namespace:
                continue
            obj_labels = _d(_d(obj.get("metadata")).get("labels"))
            if labels and any(obj_labels.get(lk) != lv for lk, lv in labels.items()):
                continue
            out.append(copy.deepcopy(obj))
        return out

    def delete(self, ref: ObjRef, propagation: str = "Foreground") -> bool:
        self.calls.append(("delete", (ref, propagation)))
        self._maybe_fail("delete", ref)
        try:
            key = self._key(ref.api_version, ref.kind, ref.namespace, ref.name)
        except NotFound:
            return False
        if key not in self._objects:
            return False
        self._delete(key)
        return True

    def pod_logs(self, namespace: str, pod: str, container: str | None = None,
                 previous: bool = False, tail: int = 50) -> str:
        self.calls.append(("pod_logs", (namespace, pod, container, previous, tail)))
        obj = self._objects.get(("", "Pod", namespace, pod))
        if obj is None:
            raise NotFound(f'pods "{pod}" not found')
        names = [str(c.get("name")) for c in _l(obj["spec"].get("containers"))]
        if container is None:
            if len(names) != 1:
                raise ApiError(400, "BadRequest", f"a container name must be specified for pod {pod}, "
                                                  f"choose one of: [{' '.join(names)}]")
            container = names[0]
        status = next((s for s in _l(_d(obj.get("status")).get("containerStatuses"))
                       if s.get("name") == container), None)
        if status is None:
            raise ApiError(400, "BadRequest", f'container "{container}" in pod "{pod}" is not valid')
        dep_key = _d(obj["metadata"].get("annotations")).get("fake/deployment", "")
        if previous:
            if not _d(status.get("lastState")).get("terminated"):
                raise ApiError(400, "BadRequest",
                               f'previous terminated container "{container}" in pod "{pod}" not found')
            fault = self.faults.get(dep_key)
            text = fault.previous_log if fault else ""
        else:
            waiting = _d(_d(status.get("state")).get("waiting"))
            if waiting:
                raise ApiError(400, "BadRequest", f'container "{container}" in pod "{pod}" is waiting '
                                                  f"to start: {waiting.get('reason')}")
            text = self.logs.get((dep_key, container), "")
        lines = text.splitlines()
        return "".join(f"{line}\n" for line in lines[-tail:]) if tail else text

    def events(self, namespace: str, involved: ObjRef | None = None) -> Objs:
        self.calls.append(("events", (namespace, involved)))
        out = []
        for event in self._events:
            if event["metadata"]["namespace"] != namespace:
                continue
            about = event["involvedObject"]
            if involved is not None and (about["kind"], about["name"]) != (involved.kind, involved.name):
                continue
            out.append({k: copy.deepcopy(v) for k, v in event.items() if k != "_at"})
        return out

    def server_version(self) -> str:
        self.calls.append(("server_version", None))
        self._maybe_fail("server_version", None)
        return self.version

    def can_i(self, verb: str, resource: str, group: str = "", namespace: str | None = None) -> bool:
        self.calls.append(("can_i", (verb, resource, group, namespace)))
        for d_verb, d_group, d_resource in self.denied:
            if d_verb in (verb, "*") and d_group in (group, "*") and d_resource in (resource, "*"):
                return False
        return True

    # --- discovery ----------------------------------------------------------------------------------

    def _resource(self, api_version: str, kind: str) -> tuple[str, str, bool]:
        """(group, plural, namespaced) of a kind the API serves, else NotFound like discovery."""
        if (api_version, kind) in BUILTINS:
            plural, namespaced = BUILTINS[(api_version, kind)]
            return _group(api_version), plural, namespaced
        group, version = _group(api_version), _version(api_version)
        for (_g, k, _ns, _n), crd in self._objects.items():
            if k != "CustomResourceDefinition":
                continue
            spec = crd["spec"]
            if spec.get("group") != group or _d(spec.get("names")).get("kind") != kind:
                continue
            served = any(v.get("name") == version and v.get("served", True)
                         for v in _l(spec.get("versions")))
            established = any(c.get("type") == "Established" and c.get("status") == "True"
                              for c in _l(_d(crd.get("status")).get("conditions")))
            if served and established:
                return group, str(spec["names"]["plural"]), spec.get("scope") != "Cluster"
        raise NotFound(f'no matches for kind "{kind}" in version "{api_version}"')

    def _custom_schema(self, api_version: str, kind: str) -> fake_schemas.CustomSchema | None:
        """The openAPIV3Schema of a custom resource's version, None for a CRD version without one
        (the tests' minimal CRDs) or a built-in kind. One per CRD revision and version."""
        if (api_version, kind) in BUILTINS:
            return None
        group, version = _group(api_version), _version(api_version)
        for (_g, k, _ns, _n), crd in self._objects.items():
            spec = _d(crd.get("spec"))
            if k != "CustomResourceDefinition" or spec.get("group") != group or \
                    _d(spec.get("names")).get("kind") != kind:
                continue
            for served in _l(spec.get("versions")):
                schema = _d(_d(_d(served).get("schema")).get("openAPIV3Schema"))
                if served.get("name") != version or not schema:
                    continue
                key = (crd["metadata"]["uid"], crd["metadata"]["resourceVersion"], version)
                if key not in self._schemas:
                    self._schemas[key] = fake_schemas.CustomSchema(schema, self.schema_version)
                return self._schemas[key]
        return None

    @property
    def schema_version(self) -> str:
        """The kubernetes-validate schemas of this cluster's version ("1.34" for v1.34.11)."""
        return fake_schemas.schema_version(self.version)

    def _key(self, api_version: str, kind: str, namespace: str | None, name: str) -> Key:
        group, _, namespaced = self._resource(api_version, kind)
        return group, kind, (namespace or "default") if namespaced else "", name

    # --- apply ----------------------------------------------------------------------------------------

    def _maybe_fail(self, method: str, ref: ObjRef | None) -> None:
        for injected in self._injected:
            if injected.remaining > 0 and injected.matches(method, ref):
                injected.remaining -= 1
                raise injected.error

    def _apply(self, original: Obj, manager: str, force: bool) -> Obj:
        if not manager:
            raise ApiError(400, "BadRequest", "fieldManager is required for apply requests")
        obj = copy.deepcopy(original)
        meta = _d(obj.get("metadata"))
        annotations = _d(meta.get("annotations"))
        if LAST_APPLIED in annotations:
            raise ApiError(422, "Invalid", f"fake cluster: {LAST_APPLIED} must never be sent "
                                           "(the appliance applies server-side only)")
        if sum(len(k) + len(str(v)) for k, v in annotations.items()) > ANNOTATIONS_LIMIT:
            raise ApiError(422, "Invalid", f"metadata.annotations: Too long: must have at most "
                                           f"{ANNOTATIONS_LIMIT} bytes")
        if obj.get("kind") == "Secret" and "stringData" in obj:
            raise ApiError(422, "Invalid", "fake cluster: stringData refused; send base64 data "
                                           "(server-side apply and stringData conflict, kubernetes#118519)")
        api_version, kind, name = str(obj.get("apiVersion") or ""), str(obj.get("kind") or ""), \
            str(meta.get("name") or "")
        group, plural, namespaced = self._resource(api_version, kind)
        if kind in _CONTROLLER_KINDS:
            raise ApiError(403, "Forbidden", f"fake cluster: {kind} objects are written by its controllers")
        if not name:
            raise ApiError(422, "Invalid", f"{kind}: metadata.name: Required value: name is required")
        if namespaced:
            namespace = str(meta.get("namespace") or "default")
            meta["namespace"] = namespace
            ns_obj = self._objects.get(("", "Namespace", "", namespace))
            if ns_obj is None:
                raise NotFound(f'namespaces "{namespace}" not found')
            if ns_obj["metadata"].get("deletionTimestamp"):
                raise ApiError(403, "Forbidden", f'{plural} "{name}" is forbidden: unable to create new '
                                                 f"content in namespace {namespace} because it is being "
                                                 "terminated")
        else:
            namespace = ""
            meta.pop("namespace", None)
        key = (group, kind, namespace, name)
        existing = self._objects.get(key)
        self._admit(obj, plural, "UPDATE" if existing else "CREATE")
        obj.pop("status", None)
        # Fields the API would not keep are gone before anything owns them (fieldValidation=Warn,
        # the default: the request succeeds, with a warning per field).
        custom = self._custom_schema(api_version, kind)
        if custom is not None:
            pruned = custom.prune(obj)
        elif (api_version, kind) in BUILTINS:
            pruned = fake_schemas.builtin_unknown(obj, self.schema_version)
            fake_schemas.drop(obj, pruned)
        else:
            pruned = []
        applied_paths = {p for p, _ in _leaves(obj) if p[:2] not in (("metadata", "name"),
                                                                      ("metadata", "namespace"))
                         and p not in (("apiVersion",), ("kind",))}
        owners = dict(self._owners.get(key, {}))  # written back only once the apply succeeds
        if existing is not None:
            conflicts = []
            for other, paths in owners.items():
                if other == manager:
                    continue
                for path in sorted(paths & applied_paths):
                    if _at(existing, path) != _at(obj, path):
                        conflicts.append((other, path))
            if conflicts and not force:
                listed = "\n".join(f'- conflict with "{m}" using {api_version}: .{".".join(p)}'
                                   for m, p in conflicts)
                plural_s = "s" if len(conflicts) > 1 else ""
                raise Conflict(f"Apply failed with {len(conflicts)} conflict{plural_s}: {listed}")
            merged = copy.deepcopy(existing)
            co_owned = set().union(*(p for m, p in owners.items() if m != manager)) if owners else set()
            dropped = owners.get(manager, set()) - applied_paths - co_owned
            # Names last: a named list item is found by its name while its other fields go.
            for path in sorted(dropped, key=lambda p: (p[-1] == "name", p)):
                _remove(merged, path)
            _merge(merged, obj)
            for other in list(owners):
                if other != manager:
                    owners[other] = owners[other] - applied_paths
        else:
            merged = obj
        if custom is not None:
            # The merged object is what must satisfy the schema (status is its own subresource).
            errors = custom.errors({k: v for k, v in merged.items() if k != "status"})
            if errors:
                raise ApiError(422, "Invalid", fake_schemas.invalid_message(kind, group, name, errors))
        self.warnings += [(ObjRef(api_version, kind, name, namespace or None), fake_schemas.unknown_field(p))
                          for p in pruned]
        owners[manager] = applied_paths
        self._owners[key] = owners
        self._store(key, merged, existing, owners)
        return copy.deepcopy(merged)

    def _store(self, key: Key, obj: Obj, existing: Obj | None,
               owners: dict[str, set[tuple[str, ...]]]) -> None:
        meta = obj.setdefault("metadata", {})
        content = {k: v for k, v in obj.items() if k not in ("metadata", "status")}
        if existing is None:
            self._counter += 1
            meta["uid"] = f"uid-{self._counter:04d}"
            meta["creationTimestamp"] = self._timestamp()
            meta["generation"] = 1
            self._born[meta["uid"]] = self.now
            if key[1] == "Namespace":
                obj["status"] = {"phase": "Active"}
        else:
            before = {k: v for k, v in existing.items() if k not in ("metadata", "status")}
            for field_name in ("uid", "creationTimestamp", "generation", "deletionTimestamp"):
                if field_name in existing["metadata"]:
                    meta[field_name] = existing["metadata"][field_name]
            if content != before:
                meta["generation"] = int(existing["metadata"].get("generation") or 1) + 1
            if "status" in existing:
                obj["status"] = existing["status"]
            managers = {e["manager"] for e in existing["metadata"].get("managedFields", [])}
            if _stable(obj) == _stable(existing) and set(owners) == managers:
                return  # a no-op apply changes nothing, not even resourceVersion
        self._counter += 1
        meta["resourceVersion"] = str(self._counter)
        meta["managedFields"] = [{"manager": m, "operation": "Apply", "apiVersion": obj.get("apiVersion"),
                                  "fieldsType": "FieldsV1"} for m in sorted(owners)]
        self._objects[key] = obj

    # --- admission --------------------------------------------------------------------------------------

    def _admit(self, obj: Obj, plural: str, operation: str) -> None:
        """Mutating and validating webhooks with failurePolicy Fail (the default) that cover the
        object refuse it, with the API server's words, while their backend does not serve."""
        message = self._webhook_refusal(obj, plural, operation)
        if message:
            raise ApiError(500, "InternalError", message)

    def _webhook_refusal(self, obj: Obj, plural: str, operation: str) -> str | None:
        api_version = str(obj.get("apiVersion") or "")
        group, version = _group(api_version), _version(api_version)
        meta = _d(obj.get("metadata"))
        labels = _d(meta.get("labels"))
        namespace = meta.get("namespace")
        # namespaceSelector: the object's namespace's labels; a Namespace's own labels; and other
        # cluster-scoped objects are never skipped by it (admissionregistration/v1 docs).
        if namespace:
            ns_labels: dict[str, Any] | None = _d(_d(self._objects.get(
                ("", "Namespace", "", str(namespace)), {}).get("metadata")).get("labels"))
        else:
            ns_labels = labels if obj.get("kind") == "Namespace" else None
        for (_g, kind, _ns, _name), config in sorted(self._objects.items()):
            if kind not in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
                continue
            for hook in _l(config.get("webhooks")):
                if hook.get("failurePolicy", "Fail") != "Fail":
                    continue
                if not any(self._rule_covers(rule, group, version, plural, operation)
                           for rule in _l(hook.get("rules"))):
                    continue
                if ns_labels is not None and not matches_selector(hook.get("namespaceSelector"), ns_labels):
                    continue
                if not matches_selector(hook.get("objectSelector"), labels):
                    continue
                reason = self._backend_problem(_d(hook.get("clientConfig")))
                if reason:
                    service = _d(_d(hook.get("clientConfig")).get("service"))
                    url = (f"https://{service.get('name')}.{service.get('namespace')}.svc:"
                           f"{service.get('port', 443)}{service.get('path', '')}?timeout=10s")
                    return (f'Internal error occurred: failed calling webhook "{hook.get("name")}": '
                            f'failed to call webhook: Post "{url}": {reason}')
        return None

    @staticmethod
    def _rule_covers(rule: Obj, group: str, version: str, plural: str, operation: str) -> bool:
        def has(values: Any, value: str) -> bool:
            return "*" in _l(values) or value in _l(values)
        return (has(rule.get("apiGroups"), group) and has(rule.get("apiVersions"), version)
                and has(rule.get("resources"), plural) and has(rule.get("operations"), operation))

    def _backend_problem(self, client_config: Obj) -> str | None:
        service = _d(client_config.get("service"))
        if not service:
            return None  # URL webhooks are outside the cluster: assume they answer
        namespace, name = str(service.get("namespace")), str(service.get("name"))
        if ("", "Service", namespace, name) not in self._objects:
            return f'service "{name}" not found'
        since = self._endpoints_since.get((namespace, name))
        if since is None:
            return f'no endpoints available for service "{name}"'
        if self.now - since < self.webhook_listen_after:
            return "dial tcp 10.96.0.10:443: connect: connection refused"
        if not client_config.get("caBundle"):
            return "tls: failed to verify certificate: x509: certificate signed by unknown authority"
        return None

    # --- deletion ---------------------------------------------------------------------------------------

    def _delete(self, key: Key) -> None:
        obj = self._objects.get(key)
        if obj is None:
            return
        group, kind, namespace, name = key
        meta = obj["metadata"]
        if kind == "Pod":
            if not meta.get("deletionTimestamp"):
                meta["deletionTimestamp"] = self._timestamp()
                self._pods[meta["uid"]].terminating_since = self.now
            return
        if kind == "Namespace":
            if not meta.get("deletionTimestamp"):
                meta["deletionTimestamp"] = self._timestamp()
                obj["status"] = {"phase": "Terminating"}
                self._born[f"deleting:{name}"] = self.now
            return
        del self._objects[key]
        self._owners.pop(key, None)
        uid = meta["uid"]
        for other_key, other in list(self._objects.items()):
            if any(ref.get("uid") == uid for ref in _l(_d(other.get("metadata")).get("ownerReferences"))):
                self._delete(other_key)
        if kind == "CustomResourceDefinition":
            crd_group, crd_kind = obj["spec"]["group"], obj["spec"]["names"]["kind"]
            for other_key in [k for k in self._objects if k[0] == crd_group and k[1] == crd_kind]:
                self._delete(other_key)

    # --- controllers (one tick) --------------------------------------------------------------------------

    def _reconcile(self) -> None:
        for controller in self.controllers:
            controller(self)
        self._crd_controller()
        self._namespace_controller()
        for key in [k for k in self._objects if k[1] == "Deployment"]:
            if key in self._objects:
                self._deployment_controller(key)
        for key in [k for k in self._objects if k[1] == "Pod"]:
            if key in self._objects:
                self._kubelet(key)
        for key in [k for k in self._objects if k[1] == "Deployment"]:
            self._deployment_status(key)
        self._endpoint_controller()
        self._ca_injector()

    def _timestamp(self) -> str:
        return (EPOCH + datetime.timedelta(seconds=int(self.now))).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _crd_controller(self) -> None:
        for (_g, kind, _ns, _n), crd in self._objects.items():
            if kind != "CustomResourceDefinition":
                continue
            age = self.now - self._born[crd["metadata"]["uid"]]
            if age < self.crd_names_after:
                continue  # conditions not written yet (KServe's wait_for_crd retries for this)
            established = age >= self.crd_established_after
            names = crd["spec"]["names"]
            crd["status"] = {
                "acceptedNames": {"kind": names["kind"], "plural": names["plural"]},
                "conditions": [
                    {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
                     "message": "no conflicts found"},
                    {"type": "Established", "status": "True" if established else "False",
                     "reason": "InitialNamesAccepted" if established else "Installing",
                     "message": "the initial names have been accepted" if established
                     else "the API is being installed"},
                ],
            }

    def _namespace_controller(self) -> None:
        for (_g, kind, _ns, name), obj in list(self._objects.items()):
            if kind != "Namespace" or not obj["metadata"].get("deletionTimestamp"):
                continue
            if self.now - self._born[f"deleting:{name}"] >= self.namespace_delete_after:
                for key in [k for k in self._objects if k[2] == name]:
                    self._objects.pop(key, None)
                    self._owners.pop(key, None)
                del self._objects[("", "Namespace", "", name)]

    def event(self, involved: Obj, reason: str, message: str, type_: str = "Warning") -> None:
        meta = involved["metadata"]
        namespace = meta.get("namespace") or "default"
        for existing in self._events:
            about = existing["involvedObject"]
            if (about["uid"], existing["reason"], existing["message"]) == (meta["uid"], reason, message):
                # Repeats are counted, at most one per 10 s (the kubelet's sync period order).
                if self.now - existing["_at"] >= 10:
                    existing["count"] += 1
                    existing["lastTimestamp"] = self._timestamp()
                    existing["_at"] = self.now
                return
        self._counter += 1
        self._events.append({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{meta['name']}.{self._counter:08x}", "namespace": namespace},
            "involvedObject": {"apiVersion": involved.get("apiVersion"), "kind": involved.get("kind"),
                               "name": meta["name"], "namespace": namespace, "uid": meta["uid"]},
            "reason": reason, "message": message, "type": type_, "count": 1,
            "firstTimestamp": self._timestamp(), "lastTimestamp": self._timestamp(),
            "source": {"component": "fake-cluster"}, "_at": self.now,
        })

    def _owned(self, kind: str, namespace: str, owner_uid: str) -> builtins.list[tuple[Key, Obj]]:
        return [(k, o) for k, o in self._objects.items()
                if k[1] == kind and k[2] == namespace
                and any(r.get("uid") == owner_uid for r in _l(o["metadata"].get("ownerReferences")))]

    def _deployment_controller(self, key: Key) -> None:
        deployment = self._objects[key]
        namespace, name = key[2], key[3]
        template = deployment["spec"]["template"]
        pod_hash = _short_hash(template)
        rs_name = f"{name}-{pod_hash}"
        rs_key = ("apps", "ReplicaSet", namespace, rs_name)
        if rs_key not in self._objects:
            self._counter += 1
            labels = {**_d(template["metadata"].get("labels")), "pod-template-hash": pod_hash}
            self._objects[rs_key] = {
                "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": rs_name, "namespace": namespace, "labels": labels,
                             "uid": f"uid-{self._counter:04d}", "creationTimestamp": self._timestamp(),
                             "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                                                  "name": name, "uid": deployment["metadata"]["uid"],
                                                  "controller": True}]},
                "spec": {"replicas": 0, "template": copy.deepcopy(template)},
                "status": {"replicas": 0},
            }
            self._progress[deployment["metadata"]["uid"]] = self.now
        replicaset = self._objects[rs_key]
        wanted = int(deployment["spec"].get("replicas", 1))
        replicaset["spec"]["replicas"] = wanted
        current = [o for _, o in self._owned("Pod", namespace, replicaset["metadata"]["uid"])
                   if not o["metadata"].get("deletionTimestamp")]
        failure = None
        for _ in range(wanted - len(current)):
            failure = self._create_pod(deployment, replicaset, pod_hash)
            if failure:
                break
        for extra in current[wanted:]:
            self._delete(("", "Pod", namespace, extra["metadata"]["name"]))
        replicaset["status"]["conditions"] = [] if failure is None else [
            {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate", "message": failure}]
        # Old ReplicaSets scale down once the new one is fully ready (maxSurge 1, maxUnavailable 0).
        ready_new = [p for p in current if self._pod_ready(p)]
        for other_key, other in list(self._owned("ReplicaSet", namespace, deployment["metadata"]["uid"])):
            if other_key == rs_key:
                continue
            other["spec"]["replicas"] = 0 if len(ready_new) >= wanted else other["spec"]["replicas"]
            if other["spec"]["replicas"] == 0:
                for pod_key, _pod in self._owned("Pod", namespace, other["metadata"]["uid"]):
                    self._delete(pod_key)

    def _create_pod(self, deployment: Obj, replicaset: Obj, pod_hash: str) -> str | None:
        """Create one pod as the ReplicaSet controller does; on admission failure return the
        message (and record the FailedCreate event)."""
        namespace = replicaset["metadata"]["namespace"]
        self._counter += 1
        suffix = _short_hash([replicaset["metadata"]["name"], self._counter], 5)
        name = f"{replicaset['metadata']['name']}-{suffix}"
        template = copy.deepcopy(replicaset["spec"]["template"])
        meta = template.get("metadata") or {}
        dep_key = f"{namespace}/{deployment['metadata']['name']}"
        pod: Obj = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {**meta, "name": name, "namespace": namespace,
                         "labels": {**_d(meta.get("labels")), "pod-template-hash": pod_hash},
                         "annotations": {**_d(meta.get("annotations")), "fake/deployment": dep_key},
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                              "name": replicaset["metadata"]["name"],
                                              "uid": replicaset["metadata"]["uid"], "controller": True}]},
            "spec": template.get("spec") or {},
        }
        message = self._admit_pod(pod)
        if message is not None:
            self.event(replicaset, "FailedCreate", f"Error creating: {message}")
            return message
        self._run_pod(pod)
        self.event(replicaset, "SuccessfulCreate", f"Created pod: {name}", "Normal")
        return None

    def create_pod(self, pod: Obj) -> str | None:
        """Create a bare pod as a workload controller would (Argo for pipeline steps, in plug-in
        fakes such as fake_kfp): admitted as the ReplicaSet's pods are, then run by the kubelet.
        Returns the admission refusal, if any. Its log is `logs[(fake/deployment annotation,
        container)]`."""
        self._counter += 1
        message = self._admit_pod(pod)
        if message is None:
            self._run_pod(pod)
        return message

    def _admit_pod(self, pod: Obj) -> str | None:
        """Pod Security admission by namespace labels, then webhooks: the refusal, if any."""
        ns_labels = _d(self._objects[("", "Namespace", "", pod["metadata"]["namespace"])]["metadata"]
                       .get("labels"))
        level = ns_labels.get("pod-security.kubernetes.io/enforce")
        message = None
        if level in ("baseline", "restricted"):
            message = psa_message(pod, level, str(ns_labels.get("pod-security.kubernetes.io/enforce-version")
                                                  or "latest"))
        if message is None:
            message = self._webhook_refusal(pod, "pods", "CREATE")
        return message

    def _run_pod(self, pod: Obj) -> None:
        pod["metadata"]["uid"] = f"uid-{self._counter:04d}"
        pod["metadata"]["creationTimestamp"] = self._timestamp()
        pod["status"] = {"phase": "Pending", "conditions": []}
        self._objects[("", "Pod", pod["metadata"]["namespace"], pod["metadata"]["name"])] = pod
        self._pods[pod["metadata"]["uid"]] = _PodRuntime(created=self.now)

    @staticmethod
    def _pod_ready(pod: Obj) -> bool:
        return any(c.get("type") == "Ready" and c.get("status") == "True"
                   for c in _l(_d(pod.get("status")).get("conditions")))

    def _fault_for(self, pod: Obj) -> Fault | None:
        dep_key = _d(pod["metadata"].get("annotations")).get("fake/deployment", "")
        fault = self.faults.get(dep_key)
        if fault is None or (fault.until is not None and self.now >= fault.until):
            return None
        if fault.pods is not None and not fault.pods(pod):
            return None
        return fault

    def _schedule(self, pod: Obj, runtime: _PodRuntime) -> None:
        if self.now - runtime.last_schedule_try < 10 and runtime.last_schedule_try >= 0:
            return  # the scheduler's back-off between attempts
        runtime.last_schedule_try = self.now
        namespace = pod["metadata"]["namespace"]
        problems = []
        for volume in _l(pod["spec"].get("volumes")):
            claim = _d(volume.get("persistentVolumeClaim")).get("claimName")
            if claim and ("", "PersistentVolumeClaim", namespace, claim) not in self._objects:
                problems.append(f'persistentvolumeclaim "{claim}" not found')
        if problems:
            message = f"0/1 nodes are available: {problems[0]}. preemption: 0/1 nodes are available: " \
                      "1 Preemption is not helpful for scheduling."
        else:
            cpu, memory = _requests(pod["spec"])
            used_cpu, used_memory = Decimal(0), Decimal(0)
            for other_uid, other_rt in self._pods.items():
                if other_rt.scheduled is None or other_uid == pod["metadata"]["uid"]:
                    continue
                other = next((o for k, o in self._objects.items()
                              if k[1] == "Pod" and o["metadata"]["uid"] == other_uid), None)
                if other is not None:
                    c, m = _requests(other["spec"])
                    used_cpu, used_memory = used_cpu + c, used_memory + m
            short = []
            if used_cpu + cpu > self.node_cpu:
                short.append("1 Insufficient cpu")
            if used_memory + memory > self.node_memory:
                short.append("1 Insufficient memory")
            if not short:
                runtime.scheduled = self.now
                self._counter += 1
                runtime.ip = f"10.244.0.{self._counter % 250 + 2}"
                pod["spec"]["nodeName"] = self._node["metadata"]["name"]
                pod["status"]["podIP"] = runtime.ip
                self.event(pod, "Scheduled", f"Successfully assigned {namespace}/{pod['metadata']['name']} "
                                             f"to {pod['spec']['nodeName']}", "Normal")
                return
            message = (f"0/1 nodes are available: {', '.join(short)}. preemption: 0/1 nodes are available: "
                       "1 No preemption victims found for incoming pod.")
        pod["status"]["conditions"] = [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                        "message": message}]
        self.event(pod, "FailedScheduling", message)

    def _mount_problem(self, pod: Obj) -> str | None:
        namespace = pod["metadata"]["namespace"]
        for volume in _l(pod["spec"].get("volumes")):
            for source, kind, field_name in (("secret", "Secret", "secretName"),
                                             ("configMap", "ConfigMap", "name")):
                ref = _d(volume.get(source))
                if ref and not ref.get("optional") and \
                        ("", kind, namespace, ref.get(field_name)) not in self._objects:
                    return (f'MountVolume.SetUp failed for volume "{volume.get("name")}" : '
                            f'{kind.lower()} "{ref.get(field_name)}" not found')
        return None

    def _config_problem(self, pod: Obj, container: Obj) -> str | None:
        namespace = pod["metadata"]["namespace"]
        for env in _l(container.get("env")):
            source = _d(env.get("valueFrom"))
            for ref_name, kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
                ref = _d(source.get(ref_name))
                if not ref or ref.get("optional"):
                    continue
                obj = self._objects.get(("", kind, namespace, str(ref.get("name"))))
                if obj is None:
                    return f'{kind.lower()} "{ref.get("name")}" not found'
                if ref.get("key") not in _d(obj.get("data")):
                    return f"couldn't find key {ref.get('key')} in {kind} {namespace}/{ref.get('name')}"
        for source in _l(container.get("envFrom")):
            for ref_name, kind in (("secretRef", "Secret"), ("configMapRef", "ConfigMap")):
                ref = _d(_d(source).get(ref_name))
                if ref and not ref.get("optional") and \
                        ("", kind, namespace, ref.get("name")) not in self._objects:
                    return f'{kind.lower()} "{ref.get("name")}" not found'
        if container.get("image") in self.root_images:
            context = {**_d(pod["spec"].get("securityContext")), **_d(container.get("securityContext"))}
            if context.get("runAsNonRoot") and not context.get("runAsUser"):
                return (f'container has runAsNonRoot and image will run as root (pod: '
                        f'"{pod["metadata"]["name"]}_{namespace}({pod["metadata"]["uid"]})", '
                        f"container: {container.get('name')})")
        return None

    def _pull_problem(self, container: Obj) -> str | None:
        image = str(container.get("image") or "")
        policy = container.get("imagePullPolicy") or ("Always" if image.endswith(":latest") or ":" not in
                                                      image.rsplit("/", 1)[-1] else "IfNotPresent")
        # Loaded images satisfy tag references only: a digest reference pulls anyway (kind#2394).
        present = image in self.loaded_images and policy != "Always" and "@sha256:" not in image
        if present or not self.offline:
            return None
        return (f'failed to pull and unpack image "{image}": failed to resolve reference "{image}": '
                "dial tcp: lookup registry-1.docker.io: no such host")

    def _kubelet(self, key: Key) -> None:
        pod = self._objects[key]
        runtime = self._pods[pod["metadata"]["uid"]]
        if runtime.terminating_since is not None:
            if self.now - runtime.terminating_since >= self.terminate_after:
                del self._objects[key]
            else:
                self._set_ready(pod, False)
            return
        if runtime.scheduled is None:
            self._schedule(pod, runtime)
            if runtime.scheduled is None:
                return
        conditions = [{"type": "PodScheduled", "status": "True"}]
        containers = [_d(c) for c in _l(pod["spec"].get("containers"))]
        inits = [_d(c) for c in _l(pod["spec"].get("initContainers"))]
        fault = self._fault_for(pod)
        target = (fault.container if fault and fault.container else str(containers[0].get("name"))) \
            if fault else None
        mount = self._mount_problem(pod)
        starting = self.now - runtime.scheduled < self.container_start_after
        statuses = []
        waiting_reason: str | None = None
        if mount and not starting:
            self.event(pod, "FailedMount", mount)
        for container in containers:
            name = str(container.get("name"))
            crashed = name == (runtime.crashed or target)
            status: Obj = {"name": name, "image": container.get("image"), "ready": False,
                           "restartCount": runtime.restarts if crashed else 0}
            if runtime.restarts and crashed:
                status["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error"}}
            if starting or mount:
                status["state"] = {"waiting": {"reason": "ContainerCreating"}}
                waiting_reason = "ContainerCreating"
            elif (pull := self._pull_problem(container)) or \
                    (fault and fault.kind == IMAGE_PULL and name == target):
                image = container.get("image")
                detail = pull or (fault.message if fault and fault.message else
                                  f'failed to pull and unpack image "{image}": not found')
                backoff = self.now - runtime.scheduled >= self.container_start_after + 2
                reason = "ImagePullBackOff" if backoff else "ErrImagePull"
                message = f'Back-off pulling image "{image}"' if backoff else detail
                status["state"] = {"waiting": {"reason": reason, "message": message}}
                self.event(pod, "Failed", f'Failed to pull image "{image}": {detail}')
                if backoff:
                    self.event(pod, "BackOff", f'Back-off pulling image "{image}"')
                waiting_reason = reason
            elif (problem := self._config_problem(pod, container)) or \
                    (fault and fault.kind == CONFIG_ERROR and name == target):
                message = problem or (fault.message if fault else "")
                status["state"] = {"waiting": {"reason": CONFIG_ERROR, "message": message}}
                self.event(pod, "Failed", f"Error: {message}")
                waiting_reason = CONFIG_ERROR
            elif (fault and fault.kind == CRASH_LOOP and name == target) or \
                    (runtime.backoff_until is not None and self.now < runtime.backoff_until
                     and name == runtime.crashed):
                # The kubelet's back-off outlives the cause: a fixed container still waits it out.
                self._crash_loop(pod, runtime, status, fault)
                waiting_reason = _d(status["state"]).get("waiting", {}).get("reason") or waiting_reason
            else:
                if runtime.running_since is None:
                    runtime.running_since = self.now
                    self.logs.setdefault((_d(pod["metadata"]["annotations"]).get("fake/deployment", ""),
                                          name), "")
                status["state"] = {"running": {"startedAt": self._timestamp()}}
                if fault and fault.kind == NEVER_READY and name == target:
                    self.event(pod, "Unhealthy", fault.message or
                               "Readiness probe failed: HTTP probe failed with statuscode: 503")
                else:
                    dep_key = _d(pod["metadata"]["annotations"]).get("fake/deployment", "")
                    delay = self.ready_delays.get(dep_key, self.ready_after)
                    status["ready"] = self.now - runtime.running_since >= delay
            statuses.append(status)
        init_statuses = [{"name": str(c.get("name")), "image": c.get("image"), "ready": True,
                          "restartCount": 0,
                          "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}
                          if not starting and not mount else {"waiting": {"reason": "PodInitializing"}}}
                         for c in inits]
        all_ready = bool(statuses) and all(s["ready"] for s in statuses)
        any_running = any("running" in s["state"] for s in statuses) or \
            any(_d(s.get("lastState")).get("terminated") for s in statuses)
        pod["status"]["phase"] = "Running" if any_running and waiting_reason not in (
            "ContainerCreating", "PodInitializing") else "Pending"
        pod["status"]["podIP"] = runtime.ip
        pod["status"]["containerStatuses"] = statuses
        if init_statuses:
            pod["status"]["initContainerStatuses"] = init_statuses
        conditions += [{"type": "Initialized", "status": "True" if not starting and not mount else "False"},
                       {"type": "ContainersReady", "status": "True" if all_ready else "False"},
                       {"type": "Ready", "status": "True" if all_ready else "False"}]
        pod["status"]["conditions"] = conditions
        if all_ready and runtime.ready_at is None:
            runtime.ready_at = self.now

    def _crash_loop(self, pod: Obj, runtime: _PodRuntime, status: Obj, fault: Fault | None) -> None:
        """Run for one tick, exit 1, back off 10 s doubling to 300 s, as the kubelet does."""
        name = status["name"]
        runtime.crashed = name
        if runtime.backoff_until is not None and self.now < runtime.backoff_until:
            delay = min(10 * 2 ** (runtime.restarts - 1), 300)
            status["state"] = {"waiting": {
                "reason": CRASH_LOOP,
                "message": f"back-off {delay}s restarting failed container={name} "
                           f"pod={pod['metadata']['name']}_{pod['metadata']['namespace']}"
                           f"({pod['metadata']['uid']})"}}
            self.event(pod, "BackOff", f"Back-off restarting failed container {name} in pod "
                                       f"{pod['metadata']['name']}_{pod['metadata']['namespace']}"
                                       f"({pod['metadata']['uid']})")
            return
        if runtime.running_since is None:
            runtime.running_since = self.now
            status["state"] = {"running": {"startedAt": self._timestamp()}}
            return
        runtime.running_since = None
        runtime.restarts += 1
        runtime.backoff_until = self.now + min(10 * 2 ** (runtime.restarts - 1), 300)
        status["restartCount"] = runtime.restarts
        status["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error"}}
        status["state"] = {"waiting": {"reason": CRASH_LOOP, "message": f"back-off "
                           f"{min(10 * 2 ** (runtime.restarts - 1), 300)}s restarting failed "
                           f"container={name} pod={pod['metadata']['name']}_{pod['metadata']['namespace']}"
                           f"({pod['metadata']['uid']})"}}

    def _set_ready(self, pod: Obj, ready: bool) -> None:
        for cond in _l(_d(pod.get("status")).get("conditions")):
            if cond.get("type") in ("Ready", "ContainersReady"):
                cond["status"] = "True" if ready else "False"

    def _deployment_status(self, key: Key) -> None:
        deployment = self._objects.get(key)
        if deployment is None:
            return
        namespace, uid = key[2], deployment["metadata"]["uid"]
        wanted = int(deployment["spec"].get("replicas", 1))
        pod_hash = _short_hash(deployment["spec"]["template"])
        current_rs = f"{key[3]}-{pod_hash}"
        pods, updated, failure = [], [], None
        for rs_key, replicaset in self._owned("ReplicaSet", namespace, uid):
            owned = [p for _, p in self._owned("Pod", namespace, replicaset["metadata"]["uid"])
                     if not p["metadata"].get("deletionTimestamp")]
            pods += owned
            if rs_key[3] == current_rs:
                updated = owned
                failure = next((c for c in _l(replicaset["status"].get("conditions"))
                                if c.get("type") == "ReplicaFailure"), None)
        ready = [p for p in pods if self._pod_ready(p)]
        available_new = [p for p in updated if self._pod_ready(p)]
        seen = (len(available_new), len(updated))
        before = self._seen.get(uid, (0, 0))
        if seen[0] > before[0] or seen[1] > before[1]:
            self._progress[uid] = self.now
        self._seen[uid] = seen
        max_unavailable = wanted // 4
        available = wanted == 0 or len(ready) >= max(1, wanted - max_unavailable)
        complete = len(available_new) == wanted and len(pods) == wanted
        deadline = int(deployment["spec"].get("progressDeadlineSeconds", 600))
        if complete:
            progressing = {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                           "message": f'ReplicaSet "{current_rs}" has successfully progressed.'}
            self._progress[uid] = self.now
        elif self.now - self._progress.get(uid, self.now) > deadline:
            progressing = {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                           "message": f'ReplicaSet "{current_rs}" has timed out progressing.'}
        else:
            progressing = {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated",
                           "message": f'ReplicaSet "{current_rs}" is progressing.'}
        conditions = [
            {"type": "Available", "status": "True" if available else "False",
             "reason": "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
             "message": "Deployment has minimum availability." if available
             else "Deployment does not have minimum availability."},
            progressing,
        ]
        if failure is not None:
            conditions.append(dict(failure))
        deployment["status"] = {
            "observedGeneration": deployment["metadata"]["generation"],
            "replicas": len(pods), "updatedReplicas": len(updated), "readyReplicas": len(ready),
            "availableReplicas": len(ready), "unavailableReplicas": max(0, wanted - len(ready)),
            "conditions": conditions,
        }
        if available and wanted > 0:
            self._available_since.setdefault(uid, self.now)
        else:
            self._available_since.pop(uid, None)

    def _endpoint_controller(self) -> None:
        for (_g, kind, namespace, name), service in list(self._objects.items()):
            if kind != "Service" or not _d(service.get("spec")).get("selector"):
                continue
            selector = service["spec"]["selector"]
            endpoints: Objs = []
            for (_pg, pkind, pns, pname), pod in sorted(self._objects.items()):
                if pkind != "Pod" or pns != namespace:
                    continue
                labels = _d(pod["metadata"].get("labels"))
                if any(labels.get(k) != v for k, v in selector.items()):
                    continue
                if not pod["status"].get("podIP"):
                    continue
                terminating = bool(pod["metadata"].get("deletionTimestamp"))
                ready = self._pod_ready(pod) and not terminating
                endpoints.append({"addresses": [pod["status"]["podIP"]],
                                  "conditions": {"ready": ready, "serving": ready,
                                                 "terminating": terminating},
                                  "targetRef": {"kind": "Pod", "name": pname, "namespace": pns}})
            slice_name = f"{name}-{_short_hash(name, 5)}"
            self._objects[("discovery.k8s.io", "EndpointSlice", namespace, slice_name)] = {
                "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
                "metadata": {"name": slice_name, "namespace": namespace,
                             "labels": {"kubernetes.io/service-name": name,
                                        "endpointslice.kubernetes.io/managed-by":
                                            "endpointslice-controller.k8s.io"},
                             "uid": f"slice-{namespace}-{name}",
                             "ownerReferences": [{"kind": "Service", "name": name,
                                                  "uid": service["metadata"]["uid"]}]},
                "endpoints": endpoints,
                "ports": [{"name": p.get("name", ""), "port": p.get("targetPort", p.get("port")),
                           "protocol": p.get("protocol", "TCP")} for p in _l(service["spec"].get("ports"))],
            }
            if any(e["conditions"]["ready"] for e in endpoints):
                self._endpoints_since.setdefault((namespace, name), self.now)
            else:
                self._endpoints_since.pop((namespace, name), None)

    def _ca_injector(self) -> None:
        for dep_key, config_names in self.ca_injectors.items():
            namespace, name = dep_key.split("/", 1)
            deployment = self._objects.get(("apps", "Deployment", namespace, name))
            if deployment is None:
                continue
            since = self._available_since.get(deployment["metadata"]["uid"])
            if since is None or self.now - since < self.ca_after:
                continue
            for kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
                for config_name in config_names:
                    config = self._objects.get(("admissionregistration.k8s.io", kind, "", config_name))
                    if config is None or all(_d(h.get("clientConfig")).get("caBundle")
                                             for h in _l(config.get("webhooks"))):
                        continue
                    # The cert generator is another field manager: re-applies by the appliance
                    # (which never sends caBundle) must not clobber what it wrote.
                    patch = {"apiVersion": config["apiVersion"], "kind": kind,
                             "metadata": {"name": config_name},
                             "webhooks": [{"name": h["name"], "clientConfig": {"caBundle": "ZmFrZS1jYQ=="}}
                                          for h in _l(config.get("webhooks"))]}
                    self._apply(patch, f"{name}-cert-generator", force=True)

    def _make_node(self, architecture: str) -> Obj:
        self._counter += 1
        node = {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": "appliance-control-plane", "uid": f"uid-{self._counter:04d}",
                         "labels": {"kubernetes.io/arch": architecture,
                                    "node-role.kubernetes.io/control-plane": ""}},
            "status": {"allocatable": {"cpu": str(self.node_cpu), "memory": str(int(self.node_memory))},
                       "capacity": {"cpu": str(self.node_cpu), "memory": str(int(self.node_memory))},
                       "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
                       "nodeInfo": {"architecture": architecture, "kubeletVersion": self.version}},
        }
        self._objects[("", "Node", "", "appliance-control-plane")] = node
        return node



"""Pod templates inside objects: workloads, and pod specs embedded in Kubeflow custom resources."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from appliance import safe_yaml
from appliance.errors import BadInput
from appliance.k8s.data import as_dict, as_list
from appliance.review.model import Path

CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")

# Built-in kinds whose pod template sits at a fixed path, and whether they run continuously.
_TEMPLATE_PATHS: dict[str, Path] = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
    "PodTemplate": ("template",),
}
_LONG_RUNNING = {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet",
                 "ReplicationController"}
_ISVC_COMPONENTS = ("predictor", "transformer", "explainer")
# Framework shorthands of a KServe component: each is one container spec (the model server).
_ISVC_FRAMEWORKS = ("model", "sklearn", "xgboost", "tensorflow", "pytorch", "triton", "onnx",
                    "pmml", "lightgbm", "paddle", "huggingface", "art", "alibi")
_ARGO_KINDS = {"Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate", "CronWorkflow"}
_KATIB_CONFIG_KEY = "katib-config.yaml"
# katib-config sections Katib starts a container from, and that container's name. Metrics
# collectors are reviewed only when init.controller.injectSecurityContext is off: when on, the
# sidecar copies the trial container's securityContext, which the Experiment's review covers.
_KATIB_SECTIONS = {"suggestions": "suggestion", "earlyStoppings": "early-stopping",
                   "metricsCollectors": "metrics-logger-and-collector"}
_SKIP_GENERIC = {"CustomResourceDefinition", "ConfigMap", "Secret"}


@dataclass(frozen=True)
class ContainerRef:
    """One container of a pod template, with its full path inside the object."""

    name: str
    list_name: str  # initContainers | containers | ephemeralContainers
    path: Path
    spec: dict[str, Any]

    @property
    def is_init(self) -> bool:
        return self.list_name == "initContainers"

    @property
    def is_ephemeral(self) -> bool:
        return self.list_name == "ephemeralContainers"


@dataclass(frozen=True)
class PodView:
    """A pod as Pod Security sees it: metadata, pod-level spec fields, and its containers."""

    meta: dict[str, Any]
    meta_path: Path
    spec: dict[str, Any]
    spec_path: Path
    containers: tuple[ContainerRef, ...]
    role: str = ""  # which template inside the object (e.g. "predictor"), "" for the only one
    replicas: int = 0  # pods it runs at default replicas (0: a template run on demand)

    @property
    def labels(self) -> dict[str, Any]:
        return as_dict(self.meta.get("labels"))

    def security_context(self) -> dict[str, Any]:
        return as_dict(self.spec.get("securityContext"))


def container_refs(spec: dict[str, Any], spec_path: Path) -> list[ContainerRef]:
    refs = []
    for list_name in CONTAINER_LISTS:
        for index, container in enumerate(as_list(spec.get(list_name))):
            if isinstance(container, dict):
                refs.append(ContainerRef(str(container.get("name") or f"#{index}"), list_name,
                                         (*spec_path, list_name, index), container))
    return refs


def pod_view(meta: Any, meta_path: Path, spec: Any, spec_path: Path, role: str = "",
             replicas: int = 0, extra: list[ContainerRef] | None = None) -> PodView:
    spec = as_dict(spec)
    refs = container_refs(spec, spec_path) + list(extra or [])
    return PodView(as_dict(meta), meta_path, spec, spec_path, tuple(refs), role, replicas)


def pod_views(obj: dict[str, Any]) -> list[PodView]:
    """Every pod template in an object (empty when it has none)."""
    kind = str(obj.get("kind") or "")
    spec = as_dict(obj.get("spec"))
    if kind == "Pod":
        return [pod_view(obj.get("metadata"), ("metadata",), spec, ("spec",), replicas=1)]
    if kind in _TEMPLATE_PATHS:
        path = _TEMPLATE_PATHS[kind]
        template = _at(obj, path)
        if not isinstance(template, dict):
            return []
        return [pod_view(template.get("metadata"), (*path, "metadata"), template.get("spec"),
                         (*path, "spec"), replicas=_replicas(kind, spec))]
    if kind == "InferenceService":
        return list(_inference_service(obj))
    if kind == "Experiment" and isinstance(_at(obj, ("spec", "trialTemplate", "trialSpec")), dict):
        return list(_trial_template(obj))
    if kind in _ARGO_KINDS:
        return list(_argo(obj, kind))
    if kind == "ConfigMap":
        return list(_katib_config(obj))
    if kind == "ClusterStorageContainer" and isinstance(spec.get("container"), dict):
        # KServe merges it into the storage-initializer init container of model pods.
        ref = ContainerRef(str(spec["container"].get("name") or "storage-initializer"),
                           "initContainers", ("spec", "container"), spec["container"])
        return [PodView({}, ("metadata",), {}, ("spec",), (ref,), "storage initializer", 0)]
    if kind in _SKIP_GENERIC:
        return []
    return list(_generic(obj))


def _at(obj: Any, path: Path) -> Any:
    for part in path:
        if isinstance(part, int):
            obj = obj[part] if isinstance(obj, list) and 0 <= part < len(obj) else None
        else:
            obj = obj.get(part) if isinstance(obj, dict) else None
    return obj


def _replicas(kind: str, spec: dict[str, Any]) -> int:
    if kind not in _LONG_RUNNING:
        return 0
    if kind == "DaemonSet":
        return 1  # one per node; a laptop cluster has one
    replicas = spec.get("replicas", 1)
    return replicas if isinstance(replicas, int) and replicas >= 0 else 1


def _inference_service(obj: dict[str, Any]) -> Iterator[PodView]:
    spec = as_dict(obj.get("spec"))
    for component in _ISVC_COMPONENTS:
        body = spec.get(component)
        if not isinstance(body, dict):
            continue
        path: Path = ("spec", component)
        extra = []
        for framework in _ISVC_FRAMEWORKS:
            container = body.get(framework)
            if isinstance(container, dict):
                name = str(container.get("name") or "kserve-container")
                extra.append(ContainerRef(name, "containers", (*path, framework), container))
        # The component itself is the pod spec (KServe inlines PodSpec fields into it).
        yield pod_view(obj.get("metadata"), ("metadata",), body, path, role=component,
                       extra=extra)


def _katib_config(obj: dict[str, Any]) -> Iterator[PodView]:
    """The containers Katib starts from katib-config: each entry is a container template with
    no pod-level fields (Katib v0.19 sets none); unset pull policy and resources get Katib's
    defaults (config/v1beta1/defaults.go), as the running container does."""
    text = as_dict(obj.get("data")).get(_KATIB_CONFIG_KEY)
    try:
        # Bounded: review input is anyone's file, and an alias bomb here would hang the review.
        config = safe_yaml.load(text, _KATIB_CONFIG_KEY) if isinstance(text, str) else None
    except (yaml.YAMLError, BadInput):
        return  # not a config this review can read; shapes of ConfigMaps are not Kubernetes'
    if not isinstance(config, dict) or config.get("kind") != "KatibConfig":
        return
    controller = as_dict(as_dict(config.get("init")).get("controller"))
    runtime = as_dict(config.get("runtime"))
    for section, name in _KATIB_SECTIONS.items():
        if section == "metricsCollectors" and controller.get("injectSecurityContext") is True:
            continue
        for index, entry in enumerate(as_list(runtime.get(section))):
            if not isinstance(entry, dict):
                continue
            container = {"name": name, "imagePullPolicy": "IfNotPresent", **entry,
                         "resources": _katib_resources(entry.get("resources"))}
            path: Path = ("data", _KATIB_CONFIG_KEY, "runtime", section, index)
            label = entry.get("algorithmName") or entry.get("kind") or index
            yield PodView({}, ("metadata",), {}, ("spec",),
                          (ContainerRef(name, "containers", path, container),),
                          f"katib-config {section}[{label}]", 0)


def _katib_resources(resources: Any) -> dict[str, Any]:
    # Katib's defaults for an unset CPU or memory request or limit.
    resources = as_dict(resources)
    defaults = {"requests": {"cpu": "50m", "memory": "10Mi"}, "limits": {"cpu": "500m", "memory": "100Mi"}}
    return {part: {**values, **as_dict(resources.get(part))} for part, values in defaults.items()}


def _trial_template(obj: dict[str, Any]) -> Iterator[PodView]:
    path: Path = ("spec", "trialTemplate", "trialSpec")
    trial = _at(obj, path)
    for view in pod_views(trial):
        yield _prefixed(view, path, "trialTemplate")


def _prefixed(view: PodView, prefix: Path, role: str) -> PodView:
    containers = tuple(
        ContainerRef(c.name, c.list_name, (*prefix, *c.path), c.spec) for c in view.containers
    )
    label = f"{role}/{view.role}" if view.role else role
    return PodView(view.meta, (*prefix, *view.meta_path), view.spec, (*prefix, *view.spec_path),
                   containers, label, 0)


def _argo(obj: dict[str, Any], kind: str) -> Iterator[PodView]:
    spec_path: Path = ("spec", "workflowSpec") if kind == "CronWorkflow" else ("spec",)
    wf = as_dict(_at(obj, spec_path))
    for index, template in enumerate(as_list(wf.get("templates"))):
        if not isinstance(template, dict):
            continue
        tpath: Path = (*spec_path, "templates", index)
        refs: list[ContainerRef] = []
        for key in ("container", "script"):
            if isinstance(template.get(key), dict):
                refs.append(ContainerRef("main", "containers", (*tpath, key), template[key]))
        for i, c in enumerate(as_list(_at(template, ("containerSet", "containers")))):
            if isinstance(c, dict):
                refs.append(ContainerRef(str(c.get("name") or f"#{i}"), "containers",
                                         (*tpath, "containerSet", "containers", i), c))
        for list_key, list_name in (("initContainers", "initContainers"),
                                    ("sidecars", "containers")):
            for i, c in enumerate(as_list(template.get(list_key))):
                if isinstance(c, dict):
                    refs.append(ContainerRef(str(c.get("name") or f"#{i}"), list_name,
                                             (*tpath, list_key, i), c))
        if not refs:
            continue
        # Argo builds each step's pod from the workflow-level pod fields, overridden per template.
        pod = {k: v for k, v in wf.items() if k in _ARGO_POD_FIELDS}
        pod_path = spec_path
        if isinstance(template.get("securityContext"), dict):
            pod["securityContext"] = template["securityContext"]
        volumes = as_list(wf.get("volumes")) + as_list(template.get("volumes"))
        if volumes:
            pod["volumes"] = volumes
        role = f"template {template.get('name') or index}"
        yield PodView(as_dict(template.get("metadata")), (*tpath, "metadata"), pod, pod_path,
                      tuple(refs), role, 0)


_ARGO_POD_FIELDS = {"securityContext", "hostNetwork", "volumes", "serviceAccountName",
                    "automountServiceAccountToken", "hostAliases", "dnsPolicy"}


def _generic(obj: dict[str, Any]) -> Iterator[PodView]:
    """Pod specs in other custom resources (training jobs, JobSets, notebooks, runtimes)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    yield from _search(spec, ("spec",), depth=0)


def _search(node: dict[str, Any], path: Path, depth: int) -> Iterator[PodView]:
    containers = node.get("containers")
    if isinstance(containers, list) and any(isinstance(c, dict) for c in containers):
        yield pod_view(node.get("metadata") if "metadata" in node else {}, (*path, "metadata"),
                       node, path, role=_role(path))
        return
    if depth > 8:
        return
    for key, value in node.items():
        if isinstance(value, dict):
            if key == "template" and isinstance(value.get("spec"), dict) and \
                    isinstance(value["spec"].get("containers"), list):
                yield pod_view(value.get("metadata"), (*path, key, "metadata"), value["spec"],
                               (*path, key, "spec"), role=_role((*path, key)))
            else:
                yield from _search(value, (*path, key), depth + 1)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    yield from _search(item, (*path, key, i), depth + 1)


def _role(path: Path) -> str:
    parts = [str(p) for p in path[1:] if not isinstance(p, int) and p not in ("spec", "template")]
    return ".".join(parts)

"""Runtime containers: what controllers start after install from templates held in config, not in
any pod template of the bundle (Katib suggestions, early stopping and metrics collectors from
katib-config; KServe's storage initializer and serving runtimes; KFP's driver and launcher; Argo's
executor). Their images must be preloaded and locked like any other; their security contexts are
hardened where the controller's config has a field for one."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from appliance.harden.model import containers, pod_spec
from appliance.harden.payload import Payload

KATIB_CONFIG_KEY = "katib-config.yaml"
KSERVE_CONFIG = "inferenceservice-config"
# KFP's API server passes these images to every pipeline step's driver and launcher.
KFP_IMAGE_ENV = {"V2_DRIVER_IMAGE": "KFP driver", "V2_LAUNCHER_IMAGE": "KFP launcher"}
ARGO_EXECUTOR_FLAG = "--executor-image"
RUNTIME_KINDS = ("ClusterServingRuntime", "ServingRuntime")

# katib-config sections (KatibConfig v1beta1 as of Katib v0.19.0): the container each entry
# becomes, and whether the entry has a securityContext field. Only SuggestionConfig inlines a
# corev1.Container; EarlyStoppingConfig and MetricsCollectorConfig carry image, pull policy and
# resources only (the collector sidecar copies the trial container's securityContext when
# init.controller.injectSecurityContext is true).
KATIB_SECTIONS = {
    "suggestions": ("suggestion", True),
    "earlyStoppings": ("early-stopping", False),
    "metricsCollectors": ("metrics-logger-and-collector", False),
}


@dataclass(frozen=True)
class KatibTemplate:
    """One katib-config entry: the container Katib builds from it at run time."""

    section: str
    index: int
    entry: dict[str, Any]

    @property
    def container_name(self) -> str:
        return KATIB_SECTIONS[self.section][0]

    @property
    def has_security_context(self) -> bool:
        return KATIB_SECTIONS[self.section][1]

    @property
    def label(self) -> str:
        name = self.entry.get("algorithmName") or self.entry.get("kind") or self.index
        return f"{self.section}[{name}]"

    @property
    def inner_path(self) -> str:
        return f"runtime.{self.section}[{self.index}]"


def katib_config(obj: dict[str, Any]) -> Payload | None:
    """katib-config's KatibConfig document (any ConfigMap whose katib-config.yaml is one)."""
    payload = Payload.open(obj, KATIB_CONFIG_KEY, "yaml")
    if payload is None or payload.document.get("kind") != "KatibConfig":
        return None
    return payload


def katib_templates(document: dict[str, Any]) -> list[KatibTemplate]:
    runtime = document.get("runtime")
    if not isinstance(runtime, dict):
        return []
    found = []
    for section in KATIB_SECTIONS:
        for index, entry in enumerate(runtime.get(section) or []):
            if isinstance(entry, dict):
                found.append(KatibTemplate(section, index, entry))
    return found


@dataclass
class ImageSlot:
    """One place a runtime image reference is written, readable and (on a copy) writable."""

    role: str
    path: str
    get: Callable[[], str]
    set: Callable[[str], None]


def image_slots(obj: dict[str, Any]) -> tuple[list[ImageSlot], list[Payload]]:
    """The runtime image references held in env, arguments and config documents of obj, with
    the payloads a caller commits after writing through a slot. Container `image` fields of pod
    templates, serving runtimes and storage containers are not slots (image_fields has them)."""
    slots: list[ImageSlot] = []
    payloads: list[Payload] = []
    found = pod_spec(obj)
    if found is not None:
        for container, path in containers(*found):
            slots += _env_slots(container, path) + _arg_slots(container, path)
    katib = katib_config(obj)
    if katib is not None:
        payloads.append(katib)
        for template in katib_templates(katib.document):
            if isinstance(template.entry.get("image"), str):
                slots.append(_key_slot(template.entry, "image", f"Katib {template.label}",
                                       katib.path(f"{template.inner_path}.image")))
    if (obj.get("metadata") or {}).get("name") == KSERVE_CONFIG:
        kserve = Payload.open(obj, "storageInitializer", "json")
        if kserve is not None and isinstance(kserve.document.get("image"), str):
            payloads.append(kserve)
            slots.append(_key_slot(kserve.document, "image", "KServe storage initializer",
                                   kserve.path("image")))
    return slots, payloads


def runtime_images(obj: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(image, role) of every container a controller starts from this object's config."""
    for slot in image_slots(obj)[0]:
        yield slot.get(), slot.role
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    if obj.get("kind") in RUNTIME_KINDS:
        name = (obj.get("metadata") or {}).get("name", "")
        for container in spec.get("containers") or []:
            if isinstance(container, dict) and isinstance(container.get("image"), str):
                yield container["image"], f"KServe serving runtime {name}"
    if obj.get("kind") == "ClusterStorageContainer" and isinstance(spec.get("container"), dict):
        image = spec["container"].get("image")
        if isinstance(image, str):
            yield image, "KServe storage initializer"


def _key_slot(holder: dict[str, Any], key: str, role: str, path: str) -> ImageSlot:
    def put(value: str) -> None:
        holder[key] = value

    return ImageSlot(role, path, lambda: str(holder[key]), put)


def _env_slots(container: dict[str, Any], path: str) -> list[ImageSlot]:
    slots = []
    for index, env in enumerate(container.get("env") or []):
        role = KFP_IMAGE_ENV.get(str(env.get("name"))) if isinstance(env, dict) else None
        if role and isinstance(env.get("value"), str):
            slots.append(_key_slot(env, "value", role, f"{path}.env[{index}].value"))
    return slots


def _arg_slots(container: dict[str, Any], path: str) -> list[ImageSlot]:
    slots = []
    for field in ("command", "args"):
        argv = container.get(field)
        if not isinstance(argv, list):
            continue
        for index, arg in enumerate(argv):
            if arg == ARGO_EXECUTOR_FLAG and index + 1 < len(argv):
                slots.append(_list_slot(argv, index + 1, f"{path}.{field}[{index + 1}]"))
            elif isinstance(arg, str) and arg.startswith(ARGO_EXECUTOR_FLAG + "="):
                slots.append(_flag_slot(argv, index, f"{path}.{field}[{index}]"))
    return slots


def _list_slot(argv: list[Any], index: int, path: str) -> ImageSlot:
    def put(value: str) -> None:
        argv[index] = value

    return ImageSlot("Argo executor", path, lambda: str(argv[index]), put)


def _flag_slot(argv: list[Any], index: int, path: str) -> ImageSlot:
    prefix = ARGO_EXECUTOR_FLAG + "="

    def put(value: str) -> None:
        argv[index] = prefix + value

    return ImageSlot("Argo executor", path, lambda: str(argv[index])[len(prefix):], put)

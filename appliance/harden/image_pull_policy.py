"""Transform: images are pulled only when the node lacks them (imagePullPolicy IfNotPresent).

A kind target preloads every image (tag references) into the node; `Always` (explicit, or
implied by a `latest` or missing tag) makes the kubelet ask the registry anyway, which defeats
preloading and fails offline or when rate-limited. `Never` is left alone: it is a deliberate
choice for images that must come from the node.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from appliance.harden import runtime
from appliance.harden.image_digests import image_fields
from appliance.harden.model import Change, HardenContext, Result, copy
from appliance.k8s.images import split_image
from appliance.k8s.refs import ResourceRef

NAME = "image-pull-policy"
WANTED = "IfNotPresent"


def effective(container: dict[str, Any], default: str | None = None) -> str:
    """The policy the kubelet applies: the explicit one, else the controller's `default`, else
    Kubernetes' (Always for a `latest` or missing tag)."""
    policy = container.get("imagePullPolicy") or default
    if policy:
        return str(policy)
    image = str(container.get("image") or "")
    _, tag, digest = split_image(image)
    return "Always" if not digest and tag in ("", "latest") else WANTED


def _templates(obj: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str, str | None, list[Any]]]:
    """(container-like dict, path, default policy, payloads to commit) per image obj starts."""
    for container, path in image_fields(obj):
        yield container, path, None, []
    katib = runtime.katib_config(obj)
    if katib is not None:
        for template in runtime.katib_templates(katib.document):
            if isinstance(template.entry.get("image"), str):
                # Katib defaults an unset pull policy to IfNotPresent (config/v1beta1/defaults.go).
                yield template.entry, katib.path(template.inner_path), WANTED, [katib]


def apply(objects: list[dict[str, Any]], ctx: HardenContext) -> Result:
    out: list[dict[str, Any]] = []
    changes: list[Change] = []
    for obj in objects:
        new = copy(obj)
        found: list[Change] = []
        commit: dict[int, Any] = {}
        for container, path, default, payloads in _templates(new):
            policy = effective(container, default)
            if policy != "Always":
                continue
            before = container.get("imagePullPolicy") or f"unset ({policy} for {container.get('image')})"
            container["imagePullPolicy"] = WANTED
            found.append(Change(NAME, ResourceRef.of(obj), f"{path}.imagePullPolicy",
                                f"{before} -> {WANTED}"))
            commit.update({id(p): p for p in payloads})
        for payload in commit.values():
            payload.commit()
        changes += found
        out.append(new if found else obj)
    return Result(out, changes)

"""Transform: pod and container securityContext to Pod Security `restricted`, unless excepted;
also the container templates controllers start pods from (KServe runtimes and storage
initializer, Katib's katib-config)."""

from __future__ import annotations

from typing import Any

from appliance.harden import runtime
from appliance.harden.model import Change, HardenContext, Result, containers, copy, pod_spec
from appliance.k8s.refs import ResourceRef

NAME = "security-context"
# Rule ids shared with `appliance review` and catalog exceptions: pss.<level>.<control>.
PRIVILEGED = "pss.baseline.privileged"
HOST_NAMESPACES = "pss.baseline.host-namespaces"
HOST_PATH = "pss.baseline.host-path-volumes"
ESCALATION = "pss.restricted.allow-privilege-escalation"
CAPABILITIES = "pss.restricted.capabilities"
NON_ROOT = "pss.restricted.run-as-non-root"
RUN_AS_USER = "pss.restricted.run-as-user"
SECCOMP = "pss.restricted.seccomp"
ALLOWED_ADD = ("NET_BIND_SERVICE",)
# KServe runtimes are container templates for model pods: no pod level, so the container carries
# runAsNonRoot and seccomp itself.
RUNTIME_KINDS = runtime.RUNTIME_KINDS
# The controls a container template must carry itself when nothing sets them at pod level.
TEMPLATE_RULES = (ESCALATION, CAPABILITIES, NON_ROOT, SECCOMP)


class _Editor:
    """Edits one workload copy and records each change against it."""

    def __init__(self, ref: ResourceRef, ctx: HardenContext) -> None:
        self.ref = ref
        self.ctx = ctx
        self.changes: list[Change] = []
        self.unresolved: list[str] = []

    def allowed(self, rule: str, container: str | None = None) -> bool:
        return not self.ctx.excepted(rule, self.ref, container)

    def note(self, path: str, detail: str) -> None:
        self.changes.append(Change(NAME, self.ref, path, detail))

    def cannot(self, rule: str, path: str, detail: str) -> None:
        self.unresolved.append(f"{self.ref} {path}: {detail} (rule {rule}: needs a catalog exception)")

    def pod(self, spec: dict[str, Any], path: str) -> None:
        for field in ("hostNetwork", "hostPID", "hostIPC"):
            if spec.get(field) is True and self.allowed(HOST_NAMESPACES):
                spec[field] = False
                self.note(f"{path}.{field}", "true -> false")
        for index, volume in enumerate(spec.get("volumes") or []):
            if isinstance(volume, dict) and "hostPath" in volume and self.allowed(HOST_PATH):
                self.cannot(HOST_PATH, f"{path}.volumes[{index}]", "hostPath volume")
        sc = spec.setdefault("securityContext", {})
        if sc.get("runAsNonRoot") is not True and self.allowed(NON_ROOT):
            before = sc_repr(sc, "runAsNonRoot")
            sc["runAsNonRoot"] = True
            self.note(f"{path}.securityContext.runAsNonRoot", f"{before} -> true")
        if sc.get("runAsUser") == 0 and self.allowed(RUN_AS_USER):
            self.cannot(RUN_AS_USER, f"{path}.securityContext.runAsUser", "runs as UID 0")
        seccomp = (sc.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost") and self.allowed(SECCOMP):
            sc["seccompProfile"] = {"type": "RuntimeDefault"}
            self.note(f"{path}.securityContext.seccompProfile.type",
                      f"{seccomp or 'unset'} -> RuntimeDefault")

    def container(self, container: dict[str, Any], path: str, name: str | None = None) -> None:
        name = name or container.get("name")
        sc = container.setdefault("securityContext", {})
        base = f"{path}.securityContext"
        if sc.get("privileged") is True and self.allowed(PRIVILEGED, name):
            sc["privileged"] = False
            self.note(f"{base}.privileged", "true -> false")
        if sc.get("allowPrivilegeEscalation") is not False and self.allowed(ESCALATION, name):
            before = sc_repr(sc, "allowPrivilegeEscalation")
            sc["allowPrivilegeEscalation"] = False
            self.note(f"{base}.allowPrivilegeEscalation", f"{before} -> false")
        if self.allowed(CAPABILITIES, name):
            caps = sc.setdefault("capabilities", {})
            drop = list(caps.get("drop") or [])
            if "ALL" not in drop:
                caps["drop"] = ["ALL"] + [c for c in drop if c != "ALL"]
                self.note(f"{base}.capabilities.drop", f"{drop or 'unset'} -> includes ALL")
            add = list(caps.get("add") or [])
            kept = [c for c in add if c in ALLOWED_ADD]
            if kept != add:
                if kept:
                    caps["add"] = kept
                else:
                    caps.pop("add", None)
                self.note(f"{base}.capabilities.add", f"removed {sorted(set(add) - set(kept))}")
        if sc.get("runAsNonRoot") is False and self.allowed(NON_ROOT, name):
            sc["runAsNonRoot"] = True
            self.note(f"{base}.runAsNonRoot", "false -> true")
        if sc.get("runAsUser") == 0 and self.allowed(RUN_AS_USER, name):
            self.cannot(RUN_AS_USER, f"{base}.runAsUser", "runs as UID 0")
        seccomp = (sc.get("seccompProfile") or {}).get("type")
        if seccomp is not None and seccomp not in ("RuntimeDefault", "Localhost") \
                and self.allowed(SECCOMP, name):
            sc["seccompProfile"] = {"type": "RuntimeDefault"}
            self.note(f"{base}.seccompProfile.type", f"{seccomp} -> RuntimeDefault")

    def template(self, container: dict[str, Any], path: str, name: str | None = None) -> None:
        """A container template with no pod level of its own: it carries every control."""
        name = name or container.get("name")
        self.container(container, path, name)
        sc = container["securityContext"]
        if sc.get("runAsNonRoot") is not True and self.allowed(NON_ROOT, name):
            before = sc_repr(sc, "runAsNonRoot")
            sc["runAsNonRoot"] = True
            self.note(f"{path}.securityContext.runAsNonRoot", f"{before} -> true")
        if "seccompProfile" not in sc and self.allowed(SECCOMP, name):
            sc["seccompProfile"] = {"type": "RuntimeDefault"}
            self.note(f"{path}.securityContext.seccompProfile.type", "unset -> RuntimeDefault")


def sc_repr(sc: dict[str, Any], key: str) -> str:
    return "unset" if key not in sc else str(sc[key]).lower()


def apply(objects: list[dict[str, Any]], ctx: HardenContext) -> Result:
    out: list[dict[str, Any]] = []
    changes: list[Change] = []
    unresolved: list[str] = []
    for obj in objects:
        template = _TEMPLATES.get(str(obj.get("kind")))
        if template is not None or runtime.katib_config(obj) is not None:
            result = (template or _katib)(obj, ctx)
            changes += result.changes
            unresolved += result.unresolved
            out.append(result.objects[0])
            continue
        if pod_spec(obj) is None:
            out.append(obj)
            continue
        new = copy(obj)
        found = pod_spec(new)
        assert found is not None
        spec, path = found
        editor = _Editor(ResourceRef.of(obj), ctx)
        editor.pod(spec, path)
        for container, cpath in containers(spec, path):
            editor.container(container, cpath)
        changes += editor.changes
        unresolved += editor.unresolved
        out.append(new if editor.changes else obj)
    return Result(out, changes, unresolved)


def _runtime(obj: dict[str, Any], ctx: HardenContext) -> Result:
    new = copy(obj)
    editor = _Editor(ResourceRef.of(obj), ctx)
    for index, container in enumerate((new.get("spec") or {}).get("containers") or []):
        editor.template(container, f"spec.containers[{index}]")
    return Result([new if editor.changes else obj], editor.changes, editor.unresolved)


def _storage_container(obj: dict[str, Any], ctx: HardenContext) -> Result:
    # KServe merges spec.container into the storage-initializer init container of every
    # InferenceService pod that downloads a model this container supports.
    new = copy(obj)
    editor = _Editor(ResourceRef.of(obj), ctx)
    container = (new.get("spec") or {}).get("container")
    if isinstance(container, dict):
        editor.template(container, "spec.container")
    return Result([new if editor.changes else obj], editor.changes, editor.unresolved)


def _katib(obj: dict[str, Any], ctx: HardenContext) -> Result:
    new = copy(obj)
    payload = runtime.katib_config(new)
    assert payload is not None
    editor = _Editor(ResourceRef.of(obj), ctx)
    controller = payload.document.setdefault("init", {}).setdefault("controller", {})
    if controller.get("injectSecurityContext") is not True:
        # The metrics collector sidecar then copies the trial container's securityContext.
        before = sc_repr(controller, "injectSecurityContext")
        controller["injectSecurityContext"] = True
        editor.note(payload.path("init.controller.injectSecurityContext"), f"{before} -> true")
    for template in runtime.katib_templates(payload.document):
        path = payload.path(template.inner_path)
        name = template.container_name
        if template.has_security_context:
            editor.template(template.entry, path, name)
        elif template.section == "earlyStoppings":
            for rule in TEMPLATE_RULES:
                if editor.allowed(rule, name):
                    editor.cannot(rule, path, f"Katib starts container {name!r} from this entry, which "
                                              "has no securityContext field")
    if editor.changes:
        payload.commit()
    return Result([new if editor.changes else obj], editor.changes, editor.unresolved)


_TEMPLATES = {"ClusterServingRuntime": _runtime, "ServingRuntime": _runtime,
              "ClusterStorageContainer": _storage_container}

"""The inventory and attack-surface summary of a bundle (what runs, with which powers, exposed how)."""

from __future__ import annotations

from collections import Counter

from appliance.k8s.data import as_dict
from appliance.k8s.images import split_image
from appliance.review.graph import Bundle, Obj, subject_text
from appliance.review.model import Inventory
from appliance.review.podspecs import ContainerRef, PodView
from appliance.review.rules.rbac import powers

_WEBHOOK_KINDS = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")


def build(bundle: Bundle) -> Inventory:
    inv = Inventory()
    inv.objects = len(bundle.objects)
    inv.kinds = dict(Counter(o.kind for o in bundle.objects))
    inv.namespaces = sorted({o.name for o in bundle.by_kind["Namespace"]}
                            | {o.namespace for o in bundle.objects if o.namespace})
    images: set[str] = set()
    for o in bundle.objects:
        for view in o.views:
            inv.pod_templates += 1
            inv.pods += view.replicas
            where = _where(o, view)
            host = [f for f in ("hostNetwork", "hostPID", "hostIPC") if view.spec.get(f) is True]
            host += [f"hostPath {as_dict(v).get('name')}" for v in view.spec.get("volumes") or []
                     if isinstance(v, dict) and v.get("hostPath") is not None]
            for c in view.containers:
                inv.containers += 1
                image = c.spec.get("image")
                if isinstance(image, str) and image:
                    images.add(image)
                sc = as_dict(c.spec.get("securityContext"))
                if sc.get("privileged") is True:
                    inv.privileged_containers.append(f"{where}:{c.name}")
                if _may_run_as_root(view, c):
                    inv.root_containers.append(f"{where}:{c.name}")
                host += [f"hostPort {as_dict(p).get('hostPort')} ({c.name})"
                         for p in c.spec.get("ports") or [] if as_dict(p).get("hostPort")]
            if host:
                inv.host_access.append(f"{where}: {', '.join(host)}")
    inv.images = sorted(images)
    inv.images_without_digest = sorted(i for i in images if not split_image(i)[2])
    inv.cluster_wide_permissions = _cluster_wide(bundle)
    inv.exposed_services = _exposed(bundle)
    inv.crds = sorted(o.name for o in bundle.by_kind["CustomResourceDefinition"])
    for kind in _WEBHOOK_KINDS:
        for o in bundle.by_kind[kind]:
            hooks = [as_dict(h) for h in o.obj.get("webhooks") or []]
            policies = sorted({str(h.get("failurePolicy") or "Fail") for h in hooks})
            inv.webhooks.append(f"{kind}/{o.name} ({len(hooks)} webhooks, failurePolicy "
                                f"{'/'.join(policies) or 'n/a'})")
    inv.webhooks.sort()
    for field in ("privileged_containers", "root_containers", "host_access"):
        getattr(inv, field).sort()
    return inv


def _where(o: Obj, view: PodView) -> str:
    return f"{o.ref}" + (f"[{view.role}]" if view.role else "")


def _may_run_as_root(view: PodView, c: ContainerRef) -> bool:
    pod = view.security_context()
    sc = as_dict(c.spec.get("securityContext"))
    user = sc.get("runAsUser", pod.get("runAsUser"))
    non_root = sc.get("runAsNonRoot", pod.get("runAsNonRoot"))
    if user == 0:
        return True
    return non_root is not True and user is None


def _cluster_wide(bundle: Bundle) -> list[str]:
    out = []
    for binding in bundle.by_kind["ClusterRoleBinding"]:
        kind, _, name = bundle.role_ref(binding)
        rules = bundle.effective_rules((kind, "", name))
        notable = sorted({p for _, _, r in rules for p in powers(r)})
        if any("*" in (r.get("verbs") or []) or "*" in (r.get("resources") or [])
               for _, _, r in rules):
            notable.insert(0, "wildcard")
        if name == "cluster-admin" and (kind, "", name) not in bundle.roles:
            notable = ["cluster-admin"]
        for subject in bundle.subjects(binding):
            text = subject_text(subject, binding.namespace)
            extra = f" [{', '.join(notable)}]" if notable else ""
            out.append(f"{text} -> {kind} {name}{extra}")
    return sorted(set(out))


def _exposed(bundle: Bundle) -> list[str]:
    out = []
    for o in bundle.by_kind["Service"]:
        spec = as_dict(o.obj.get("spec"))
        if spec.get("type") in ("NodePort", "LoadBalancer"):
            out.append(f"{o.ref} ({spec['type']})")
        if spec.get("externalIPs"):
            out.append(f"{o.ref} (externalIPs)")
    out += [f"{o.ref}" for o in bundle.by_kind["Ingress"]]
    out += [f"{o.ref}" for o in bundle.by_kind["Gateway"]]
    return sorted(out)

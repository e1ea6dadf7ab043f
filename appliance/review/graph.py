"""The bundle as a graph: objects, pods, ServiceAccounts, RBAC grants (with aggregation), selectors."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from appliance.k8s.data import as_dict, as_list
from appliance.k8s.refs import ResourceRef
from appliance.k8s.selectors import selector_matches
from appliance.review.loader import Document
from appliance.review.model import Path
from appliance.review.podspecs import PodView, pod_views

BUILTIN_WORKLOADS = frozenset({"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet",
                               "ReplicationController", "Job", "CronJob"})
# Built-in ClusterRoles that aggregate labelled roles, and the labels they select (admin ⊇ edit ⊇
# view, because edit carries aggregate-to-admin and view carries aggregate-to-edit).
_BUILTIN_AGGREGATES = {
    "admin": ("rbac.authorization.k8s.io/aggregate-to-admin",
              "rbac.authorization.k8s.io/aggregate-to-edit",
              "rbac.authorization.k8s.io/aggregate-to-view"),
    "edit": ("rbac.authorization.k8s.io/aggregate-to-edit",
             "rbac.authorization.k8s.io/aggregate-to-view"),
    "view": ("rbac.authorization.k8s.io/aggregate-to-view",),
}


@dataclass
class Obj:
    """One object of the bundle with its identity and pod templates."""

    doc: Document
    kind: str
    api_version: str
    namespace: str
    name: str
    views: list[PodView]

    @property
    def obj(self) -> dict[str, Any]:
        return self.doc.obj

    @property
    def ref(self) -> ResourceRef:
        return ResourceRef(self.kind, self.namespace, self.name)

    @property
    def labels(self) -> dict[str, Any]:
        return as_dict(as_dict(self.obj.get("metadata")).get("labels"))

    @property
    def is_workload(self) -> bool:
        return self.kind in BUILTIN_WORKLOADS


@dataclass(frozen=True)
class Grant:
    """How a role's rules reach subjects: a binding (or a built-in role outside the bundle)."""

    binding: ResourceRef | None
    scope: str  # "cluster" or the namespace the binding grants in
    subjects: tuple[str, ...]
    via: tuple[str, ...] = ()  # aggregating ClusterRoles between the role and the binding

    def describe(self) -> str:
        chain = "".join(f" via aggregated ClusterRole {v}" for v in self.via)
        if self.binding is None:
            return f"aggregated into built-in ClusterRole {self.via[-1] if self.via else ''}" \
                   " (bound outside this bundle)"
        where = "cluster-wide" if self.scope == "cluster" else f"in namespace {self.scope}"
        who = ", ".join(self.subjects) or "no subjects"
        return f"granted {where} by {self.binding}{chain} to {who}"


@dataclass
class Role:
    obj: Obj
    key: tuple[str, str, str]  # (kind, namespace, name)
    grants: list[Grant] = field(default_factory=list)


def subject_text(subject: dict[str, Any], binding_ns: str) -> str:
    kind = str(subject.get("kind") or "")
    name = str(subject.get("name") or "")
    if kind == "ServiceAccount":
        return f"ServiceAccount {subject.get('namespace') or binding_ns}/{name}"
    return f"{kind} {name}"


class Bundle:
    """Every object of a review, indexed, with the RBAC and ServiceAccount graph resolved."""

    def __init__(self, documents: list[Document]) -> None:
        self.objects: list[Obj] = []
        for doc in documents:
            meta = as_dict(doc.obj.get("metadata"))
            self.objects.append(Obj(doc, doc.kind, str(doc.obj.get("apiVersion") or ""),
                                    str(meta.get("namespace") or ""),
                                    str(meta.get("name") or meta.get("generateName") or ""),
                                    pod_views(doc.obj)))
        self.by_kind: dict[str, list[Obj]] = defaultdict(list)
        for o in self.objects:
            self.by_kind[o.kind].append(o)
        self.roles: dict[tuple[str, str, str], Role] = {}
        for o in self.by_kind["Role"] + self.by_kind["ClusterRole"]:
            key = (o.kind, o.namespace if o.kind == "Role" else "", o.name)
            self.roles[key] = Role(o, key)
        self.bindings: list[Obj] = self.by_kind["RoleBinding"] + self.by_kind["ClusterRoleBinding"]
        self._users: dict[tuple[str, str], list[str]] | None = None
        # ServiceAccount (namespace, name) -> grants reaching it; filled with the role grants.
        self.sa_grants: dict[tuple[str, str], list[tuple[tuple[str, str, str], Grant]]] = \
            defaultdict(list)
        self._resolve_grants()

    # --- RBAC -------------------------------------------------------------------------------

    def role_ref(self, binding: Obj) -> tuple[str, str, str]:
        ref = as_dict(binding.obj.get("roleRef"))
        kind = str(ref.get("kind") or "")
        namespace = binding.namespace if kind == "Role" else ""
        return (kind, namespace, str(ref.get("name") or ""))

    def subjects(self, binding: Obj) -> list[dict[str, Any]]:
        return [as_dict(s) for s in as_list(binding.obj.get("subjects"))]

    def _direct_grants(self, key: tuple[str, str, str]) -> list[Grant]:
        return self._grants_by_ref.get(key, [])

    def _resolve_grants(self) -> None:
        self._grants_by_ref: dict[tuple[str, str, str], list[Grant]] = defaultdict(list)
        self._parents = self._aggregation()
        for binding in self.bindings:
            scope = "cluster" if binding.kind == "ClusterRoleBinding" else binding.namespace
            subjects = tuple(subject_text(s, binding.namespace) for s in self.subjects(binding))
            self._grants_by_ref[self.role_ref(binding)].append(
                Grant(binding.ref, scope, subjects))
        for key, role in self.roles.items():
            role.grants = self._grants_through(key, ())
        for key, role in sorted(self.roles.items()):
            for grant in role.grants:
                for subject_kind_name in grant.subjects:
                    if subject_kind_name.startswith("ServiceAccount "):
                        ns, _, name = subject_kind_name.split(" ", 1)[1].partition("/")
                        self.sa_grants[(ns, name)].append((key, grant))

    def _grants_through(self, key: tuple[str, str, str], seen: tuple[str, ...]) -> list[Grant]:
        grants = [Grant(g.binding, g.scope, g.subjects, seen) for g in self._direct_grants(key)]
        if key[0] != "ClusterRole":
            return grants
        labels = self.roles[key].obj.labels if key in self.roles else {}
        for parent_key in self.aggregators_of(key):
            parent = parent_key[2]
            if parent in seen or parent == key[2]:
                continue  # aggregation cycles are possible in broken bundles
            grants += self._grants_through(parent_key, (*seen, parent))
        for builtin, label_keys in _BUILTIN_AGGREGATES.items():
            if builtin in seen:
                continue
            if any(str(labels.get(label)) == "true" for label in label_keys):
                direct = self._direct_grants(("ClusterRole", "", builtin))
                grants += [Grant(g.binding, g.scope, g.subjects, (*seen, builtin)) for g in direct]
                if not direct:
                    grants.append(Grant(None, "namespaces", (), (*seen, builtin)))
        return grants

    def aggregators_of(self, key: tuple[str, str, str]) -> list[tuple[str, str, str]]:
        return self._parents.get(key, [])

    def _aggregation(self) -> dict[tuple[str, str, str], list[tuple[str, str, str]]]:
        parents: dict[tuple[str, str, str], list[tuple[str, str, str]]] = defaultdict(list)
        for parent_key, parent in self.roles.items():
            selectors = as_list(as_dict(parent.obj.obj.get("aggregationRule")).get("clusterRoleSelectors"))
            if parent_key[0] != "ClusterRole" or not selectors:
                continue
            for child_key, child in self.roles.items():
                if child_key[0] == "ClusterRole" and child_key != parent_key and \
                        any(selector_matches(sel, child.obj.labels) for sel in selectors):
                    parents[child_key].append(parent_key)
        return parents

    def effective_rules(self, key: tuple[str, str, str]) -> list[tuple[Obj, int, dict[str, Any]]]:
        """A role's rules, with those of the ClusterRoles it aggregates: (owner, index, rule)."""
        out: list[tuple[Obj, int, dict[str, Any]]] = []
        seen: set[tuple[str, str, str]] = set()
        stack = [key]
        while stack:
            current = stack.pop()
            if current in seen or current not in self.roles:
                continue
            seen.add(current)
            role = self.roles[current]
            out += [(role.obj, i, as_dict(r)) for i, r in enumerate(as_list(role.obj.obj.get("rules")))]
            stack += [child for child, parents in self._parents.items() if current in parents]
        return out

    # --- ServiceAccounts ----------------------------------------------------------------------

    def service_account_of(self, o: Obj, view: PodView) -> tuple[str, str]:
        name = view.spec.get("serviceAccountName") or view.spec.get("serviceAccount") or "default"
        return (o.namespace, str(name))

    def service_account(self, namespace: str, name: str) -> Obj | None:
        for sa in self.by_kind["ServiceAccount"]:
            if sa.namespace == namespace and sa.name == name:
                return sa
        return None

    def has_grants(self, namespace: str, name: str) -> bool:
        # Any binding naming the account (to a bundle role or a built-in one), or a group that
        # holds every ServiceAccount (of its namespace), grants it something.
        groups = {"system:serviceaccounts", f"system:serviceaccounts:{namespace}"}
        for binding in self.bindings:
            for s in self.subjects(binding):
                if s.get("kind") == "ServiceAccount" and s.get("name") == name and \
                        (s.get("namespace") or binding.namespace) == namespace:
                    return True
                if s.get("kind") == "Group" and s.get("name") in groups:
                    return True
        return False

    def workloads_using(self, namespace: str, name: str) -> list[str]:
        if self._users is None:
            users: dict[tuple[str, str], set[str]] = defaultdict(set)
            for o in self.objects:
                if o.is_workload:
                    for view in o.views:
                        users[self.service_account_of(o, view)].add(str(o.ref))
            self._users = {key: sorted(refs) for key, refs in users.items()}
        return self._users.get((namespace, name), [])

    # --- selectors ----------------------------------------------------------------------------

    def policies_selecting(self, namespace: str, labels: dict[str, Any]) -> list[Obj]:
        return [
            p for p in self.by_kind["NetworkPolicy"]
            if p.namespace == namespace
            and selector_matches(as_dict(p.obj.get("spec")).get("podSelector"), labels)
        ]


def policy_types(policy: Obj) -> set[str]:
    """NetworkPolicy policyTypes, defaulted as the API server does."""
    spec = as_dict(policy.obj.get("spec"))
    declared = as_list(spec.get("policyTypes"))
    if declared:
        return {str(t) for t in declared}
    return {"Ingress", "Egress"} if "egress" in spec else {"Ingress"}


def path_join(*parts: Path) -> Path:
    out: Path = ()
    for part in parts:
        out = (*out, *part)
    return out

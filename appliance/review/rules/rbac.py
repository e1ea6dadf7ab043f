"""RBAC across the bundle: one finding per root cause (a rule or a binding), powers as evidence."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from appliance.review.graph import Grant, Obj, subject_text
from appliance.review.model import Finding, Rule, Severity
from appliance.review.rules.base import Context

WILDCARD = Rule("rbac.wildcard", "Role grants wildcard verbs or resources", Severity.HIGH,
                "list the verbs and resources the component needs instead of '*'", "rbac")
SECRETS = Rule("rbac.secrets-read", "Role reads Secrets in a namespace", Severity.MEDIUM,
               "scope Secret access with resourceNames", "rbac")
SECRETS_CLUSTER = Rule("rbac.secrets-cluster-wide", "Role reads Secrets in every namespace",
                       Severity.HIGH, "bind a Role per namespace instead, or scope Secret access "
                       "with resourceNames", "rbac")
WEBHOOKS = Rule("rbac.webhook-configurations", "Role can change admission webhook configurations",
                Severity.HIGH, "grant write on webhook configurations only to the one controller "
                "that owns them, with resourceNames", "rbac")
ESCALATION = Rule("rbac.escalation", "Role can escalate, bind or impersonate", Severity.CRITICAL,
                  "remove escalate/bind/impersonate; these verbs grant any permission", "rbac")
EXEC = Rule("rbac.pods-exec", "Role can exec or attach into pods", Severity.HIGH,
            "remove create/get on pods/exec and pods/attach", "rbac")
ADMIN_BINDING = Rule("rbac.cluster-admin-binding", "Binding to cluster-admin or a built-in admin "
                     "role", Severity.CRITICAL,
                     "bind a Role with only the permissions the subject needs", "rbac")
ANONYMOUS = Rule("rbac.anonymous-subject", "Binding grants to anonymous or all users",
                 Severity.CRITICAL,
                 "remove system:anonymous, system:unauthenticated and system:authenticated "
                 "subjects", "rbac")
RULES: tuple[Rule, ...] = (WILDCARD, SECRETS, SECRETS_CLUSTER, ESCALATION, EXEC, WEBHOOKS,
                          ADMIN_BINDING, ANONYMOUS)
_BY_ID = {rule.id: rule for rule in RULES}

_READ = {"get", "list", "watch"}
_SEVERITY_BY_SCOPE = {
    # rule id -> (granted cluster-wide, granted in a namespace, not granted in this bundle)
    "rbac.secrets-read": (Severity.HIGH, Severity.MEDIUM, Severity.LOW),
    "rbac.escalation": (Severity.CRITICAL, Severity.HIGH, Severity.LOW),
    "rbac.pods-exec": (Severity.HIGH, Severity.MEDIUM, Severity.LOW),
    # Webhook configurations are cluster-scoped: only a cluster-wide grant reaches them.
    "rbac.webhook-configurations": (Severity.HIGH, Severity.LOW, Severity.LOW),
    "wildcard-full": (Severity.CRITICAL, Severity.HIGH, Severity.LOW),
    "wildcard": (Severity.MEDIUM, Severity.LOW, Severity.LOW),
}
_POWER_RULE = {"secrets-read": "rbac.secrets-read", "escalate": "rbac.escalation",
               "bind": "rbac.escalation", "impersonate": "rbac.escalation",
               "pods-exec": "rbac.pods-exec", "webhook-configurations": "rbac.webhook-configurations"}


def _strs(value: Any) -> set[str]:
    return {str(v) for v in value} if isinstance(value, list) else set()


def powers(rule: dict[str, Any]) -> list[str]:
    """What a PolicyRule allows that matters for security (names as in the findings)."""
    groups, resources = _strs(rule.get("apiGroups")), _strs(rule.get("resources"))
    verbs, names = _strs(rule.get("verbs")), _strs(rule.get("resourceNames"))
    any_verb = "*" in verbs

    def can(wanted: set[str], group: set[str], targets: set[str]) -> bool:
        verb_ok = any_verb or bool(verbs & wanted)
        group_ok = "*" in groups or bool(groups & group)
        res_ok = "*" in resources or bool(resources & targets) or any(
            r.endswith("/*") and any(t.startswith(r[:-1]) for t in targets) for r in resources)
        return verb_ok and group_ok and res_ok

    out = []
    if can(_READ, {""}, {"secrets"}) and not names:
        out.append("secrets-read")
    if can({"escalate"}, {"rbac.authorization.k8s.io"}, {"roles", "clusterroles"}):
        out.append("escalate")
    if can({"bind"}, {"rbac.authorization.k8s.io"}, {"roles", "clusterroles"}):
        out.append("bind")
    if can({"impersonate"}, {"", "authentication.k8s.io"},
           {"users", "groups", "serviceaccounts", "uids", "userextras"}):
        out.append("impersonate")
    if can({"create", "get"}, {""}, {"pods/exec", "pods/attach"}):
        out.append("pods-exec")
    if can({"create", "update", "patch", "delete"}, {"admissionregistration.k8s.io"},
           {"mutatingwebhookconfigurations", "validatingwebhookconfigurations"}):
        out.append("webhook-configurations")
    return out


def _is_wildcard(rule: dict[str, Any]) -> bool:
    return "*" in _strs(rule.get("verbs")) or "*" in _strs(rule.get("resources"))


def _is_full(rule: dict[str, Any]) -> bool:
    return all("*" in _strs(rule.get(k)) for k in ("apiGroups", "resources", "verbs"))


def _describe_rule(rule: dict[str, Any]) -> str:
    groups = ",".join(sorted(g or '""' for g in _strs(rule.get("apiGroups")))) or '""'
    resources = ",".join(sorted(_strs(rule.get("resources")) | _strs(rule.get("nonResourceURLs"))))
    verbs = ",".join(sorted(_strs(rule.get("verbs"))))
    return f"verbs [{verbs}] on [{resources}] in groups [{groups}]"


def _scope_severity(key: str, grants: list[Grant]) -> tuple[Severity, str]:
    cluster, namespaced, unbound = _SEVERITY_BY_SCOPE[key]
    if any(g.scope == "cluster" for g in grants):
        return cluster, "cluster-wide"
    if grants:
        return namespaced, "in a namespace"
    return unbound, "not bound in this bundle"


def check(ctx: Context) -> Iterable[Finding]:
    bundle = ctx.bundle
    for _, role in sorted(bundle.roles.items()):
        yield from _role_findings(ctx, role.obj, role.grants)
    for binding in bundle.bindings:
        yield from _binding_findings(ctx, binding)


def _grant_evidence(ctx: Context, grants: list[Grant]) -> list[str]:
    out = []
    for grant in grants:
        out.append(grant.describe())
        for subject in grant.subjects:
            if subject.startswith("ServiceAccount "):
                ns, _, name = subject.split(" ", 1)[1].partition("/")
                for workload in ctx.bundle.workloads_using(ns, name):
                    out.append(f"{subject} is used by {workload}")
    return sorted(set(out))


def _role_findings(ctx: Context, o: Obj, grants: list[Grant]) -> Iterable[Finding]:
    rules = o.obj.get("rules")
    if not isinstance(rules, list):
        return
    evidence = _grant_evidence(ctx, grants)
    by_rule: dict[str, list[tuple[int, dict[str, Any], list[str]]]] = {}
    for index, rule in enumerate(rules):
        if not isinstance(rule, dict):
            continue
        implied = powers(rule)
        if _is_wildcard(rule):
            # The wildcard is the root cause; what it implies is evidence, not more findings.
            by_rule.setdefault("rbac.wildcard", []).append((index, rule, implied))
            continue
        for power in implied:
            by_rule.setdefault(_POWER_RULE[power], []).append((index, rule, [power]))
    for rule_id, hits in sorted(by_rule.items()):
        first_index = hits[0][0]
        implied = sorted({p for _, _, ps in hits for p in ps})
        lines = [f"rules[{i}]: {_describe_rule(r)}" for i, r, _ in hits]
        if rule_id == "rbac.wildcard":
            full = any(_is_full(r) for _, r, _ in hits)
            severity, scope = _scope_severity("wildcard-full" if full else "wildcard", grants)
            for power in implied:
                sev, _ = _scope_severity(_POWER_RULE[power], grants)
                severity = sev if sev.rank > severity.rank else severity
            what = "full control of every resource" if full else "wildcard permissions"
            extra = f"; implies {', '.join(implied)}" if implied else ""
            message = f"{o.kind} {o.name} grants {what} ({scope}){extra}"
            yield ctx.finding(o, WILDCARD, ("rules", first_index), message, severity=severity,
                              evidence=[*lines, *evidence])
            continue
        catalog = _BY_ID[rule_id]
        severity, scope = _scope_severity(rule_id, grants)
        if rule_id == "rbac.secrets-read" and scope == "cluster-wide":
            catalog = SECRETS_CLUSTER  # the "cluster-wide secrets read" is its own rule
        message = f"{o.kind} {o.name}: {', '.join(implied)} ({scope})"
        yield ctx.finding(o, catalog, ("rules", first_index), message, severity=severity,
                          evidence=[*lines, *evidence])


# Subjects that stand for everyone: (severity when the role grants notable powers, otherwise).
_ANONYMOUS = {("User", "system:anonymous"): (Severity.CRITICAL, Severity.HIGH),
              ("Group", "system:unauthenticated"): (Severity.CRITICAL, Severity.HIGH),
              ("Group", "system:authenticated"): (Severity.HIGH, Severity.MEDIUM)}


def _binding_findings(ctx: Context, binding: Obj) -> Iterable[Finding]:
    kind, _, name = ctx.bundle.role_ref(binding)
    subjects = ctx.bundle.subjects(binding)
    who = [subject_text(s, binding.namespace) for s in subjects]
    cluster_wide = binding.kind == "ClusterRoleBinding"
    if kind == "ClusterRole" and ("ClusterRole", "", name) not in ctx.bundle.roles:
        severity = None
        if name == "cluster-admin":
            severity = Severity.CRITICAL if cluster_wide else Severity.HIGH
            what = "full control of the cluster" if cluster_wide else \
                f"full control of namespace {binding.namespace}"
        elif name in ("admin", "edit") and cluster_wide:
            severity = Severity.HIGH
            what = "read and write of every namespace, its Secrets and workloads"
        if severity is not None:
            usage = []
            for s in subjects:
                if s.get("kind") == "ServiceAccount":
                    ns = str(s.get("namespace") or binding.namespace)
                    usage += [f"ServiceAccount {ns}/{s.get('name')} is used by {w}"
                              for w in ctx.bundle.workloads_using(ns, str(s.get("name")))]
            message = f"{binding.kind} {binding.name} binds built-in ClusterRole {name} " \
                      f"to {', '.join(who) or 'no subjects'}: {what}"
            yield ctx.finding(binding, ADMIN_BINDING, ("roleRef", "name"), message,
                              severity=severity, evidence=[f"subject: {w}" for w in who] + usage)
    for index, s in enumerate(subjects):
        grades = _ANONYMOUS.get((str(s.get("kind")), str(s.get("name"))))
        if grades is None:
            continue
        rules = ctx.bundle.effective_rules(ctx.bundle.role_ref(binding))
        notable = sorted({p for _, _, r in rules for p in powers(r)}
                         | ({"wildcard"} if any(_is_wildcard(r) for _, _, r in rules) else set()))
        if kind == "ClusterRole" and name in ("cluster-admin", "admin", "edit"):
            notable.append(name)
        severity = grades[0] if notable else grades[1]
        what = f" ({', '.join(notable)})" if notable else ""
        message = f"{binding.kind} {binding.name} grants {kind} {name}{what} to " \
                  f"{s.get('kind')} {s.get('name')}"
        evidence = [f"rules[{i}] of {owner.kind} {owner.name}: {_describe_rule(r)}"
                    for owner, i, r in rules]
        yield ctx.finding(binding, ANONYMOUS, ("subjects", index), message,
                          severity=severity, evidence=evidence)

"""Pod Security Standards findings for every pod template, one finding per root cause."""

from __future__ import annotations

from collections.abc import Iterable

from appliance.review import pss
from appliance.review.graph import Obj
from appliance.review.model import Finding, Rule, Severity
from appliance.review.podspecs import PodView
from appliance.review.rules.base import Context

_SEVERITY = {
    "windowsHostProcess": Severity.CRITICAL,
    "privileged": Severity.CRITICAL,
    "hostNamespaces": Severity.HIGH,
    "hostPathVolumes": Severity.HIGH,
    "capabilities_baseline": Severity.HIGH,
    "hostPorts": Severity.MEDIUM,
    "hostProbesAndHostLifecycle": Severity.MEDIUM,
    "appArmorProfile": Severity.MEDIUM,
    "seLinuxOptions": Severity.MEDIUM,
    "procMount": Severity.MEDIUM,
    "seccompProfile_baseline": Severity.MEDIUM,
    "sysctls": Severity.MEDIUM,
    "restrictedVolumes": Severity.MEDIUM,
    "allowPrivilegeEscalation": Severity.MEDIUM,
    "runAsNonRoot": Severity.MEDIUM,
    "runAsUser": Severity.MEDIUM,
    "procMount_restricted": Severity.MEDIUM,
    "seccompProfile_restricted": Severity.LOW,
    "capabilities_restricted": Severity.LOW,
}

_FIX = {
    "windowsHostProcess": "remove windowsOptions.hostProcess (or set it to false)",
    "hostNamespaces": "remove hostNetwork/hostPID/hostIPC (or set them to false)",
    "privileged": "remove securityContext.privileged (or set it to false)",
    "capabilities_baseline": "add only capabilities from the baseline default set",
    "hostPathVolumes": "replace the hostPath volume with a PVC, configMap, secret or emptyDir",
    "hostPorts": "remove hostPort; expose the port through a ClusterIP Service",
    "hostProbesAndHostLifecycle": "remove the host field so probes and hooks target the pod",
    "appArmorProfile": "use RuntimeDefault or a Localhost AppArmor profile",
    "seLinuxOptions": "remove custom SELinux user/role and use a standard container type",
    "procMount": "remove procMount (or set it to Default)",
    "seccompProfile_baseline": "use seccompProfile type RuntimeDefault (or Localhost)",
    "sysctls": "remove sysctls outside the safe set",
    "restrictedVolumes": "use configMap, csi, downwardAPI, emptyDir, ephemeral, image, "
                         "persistentVolumeClaim, projected or secret volumes",
    "allowPrivilegeEscalation": "set securityContext.allowPrivilegeEscalation: false",
    "runAsNonRoot": "set securityContext.runAsNonRoot: true on the pod (or every container)",
    "runAsUser": "set runAsUser to a non-zero UID (or leave it unset with runAsNonRoot: true)",
    "seccompProfile_restricted": "set securityContext.seccompProfile.type: RuntimeDefault on "
                                 "the pod",
    "capabilities_restricted": "set capabilities.drop: [ALL] and add at most NET_BIND_SERVICE",
    "procMount_restricted": "remove procMount (or set it to Default)",
}

RULES: tuple[Rule, ...] = tuple(
    Rule(pss.rule_id(check.id), f"Pod Security {check.level}: {check.title}",
         _SEVERITY[check.id], _FIX[check.id], "pod-security")
    for check in pss.CHECKS
)
_BY_CHECK = {check.id: rule for check, rule in zip(pss.CHECKS, RULES, strict=True)}


def check(ctx: Context) -> Iterable[Finding]:
    for o in ctx.bundle.objects:
        for view in o.views:
            yield from _review_pod(ctx, o, view)


def _review_pod(ctx: Context, o: Obj, view: PodView) -> Iterable[Finding]:
    baseline = pss.evaluate(view, "baseline", ctx.version)
    restricted = [v for v in pss.evaluate(view, "restricted", ctx.version)
                  if v.level == "restricted"]
    seen_paths = {v.path for v in baseline}
    privileged = {v.container for v in baseline if v.check == "privileged"}
    for v in baseline + restricted:
        if v.level == "restricted":
            # One finding per root cause: the same field already failed a baseline control
            # (e.g. an added SYS_ADMIN, an Unconfined seccomp, a hostPath volume) ...
            if v.path in seen_paths:
                continue
            # ... and a privileged container cannot set allowPrivilegeEscalation=false at all
            # (the API rejects it), so "privileged" explains that finding too.
            if v.check == "allowPrivilegeEscalation" and v.container in privileged:
                continue
        rule = _BY_CHECK[v.check]
        message = v.message if not view.role else f"{view.role}: {v.message}"
        yield ctx.finding(o, rule, v.path, message, container=v.container)

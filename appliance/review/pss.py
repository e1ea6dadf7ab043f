"""Pod Security Standards (baseline, restricted), version-gated as pod-security-admission does."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from appliance.k8s.data import as_dict, as_list
from appliance.review.model import Path
from appliance.review.podspecs import ContainerRef, PodView

Version = tuple[int, int]
LATEST: Version = (1, 37)  # newest version whose checks are implemented here
LEVELS = ("baseline", "restricted")

_VERSION = re.compile(r"^v?(\d+)\.(\d+)$")


def parse_version(text: str) -> Version:
    """`1.36`, `v1.36` or `latest`."""
    if text.strip().lower() == "latest":
        return LATEST
    match = _VERSION.match(text.strip())
    if not match:
        raise ValueError(f"invalid Kubernetes version {text!r} (expected X.Y, e.g. 1.36, or latest)")
    version = (int(match.group(1)), int(match.group(2)))
    if version[0] != 1:
        raise ValueError(f"unsupported Kubernetes version {text!r} (expected 1.Y)")
    # pod-security-admission treats a newer version as "latest"; here that would silently review
    # against older rules than the user asked for, so it is refused.
    if version > LATEST:
        raise ValueError(f"Kubernetes version {text!r} is newer than the newest known here "
                         f"({format_version(LATEST)})")
    return version


def format_version(version: Version) -> str:
    return f"{version[0]}.{version[1]}"


@dataclass(frozen=True)
class Violation:
    """One reason a pod is denied: the check, its level, the container and field path."""

    check: str
    level: str
    container: str | None
    path: Path
    message: str


CheckFn = Callable[[PodView], list[Violation]]


@dataclass(frozen=True)
class VersionedCheck:
    minimum: Version
    run: CheckFn
    overrides: tuple[str, ...] = ()


@dataclass(frozen=True)
class Check:
    id: str
    level: str
    control: str  # the rule-id suffix, e.g. "run-as-non-root"
    title: str
    versions: tuple[VersionedCheck, ...]

    def at(self, version: Version) -> VersionedCheck | None:
        chosen = None
        for entry in self.versions:
            if entry.minimum <= version:
                chosen = entry
        return chosen


def _sc(container: ContainerRef) -> dict[str, Any]:
    return as_dict(container.spec.get("securityContext"))


def _cpath(container: ContainerRef, *rest: str | int) -> Path:
    return (*container.path, "securityContext", *rest)


def _ppath(pod: PodView, *rest: str | int) -> Path:
    return (*pod.spec_path, *rest)


def _is_windows(pod: PodView) -> bool:
    return as_dict(pod.spec.get("os")).get("name") == "windows"


def _user_namespaced(pod: PodView) -> bool:
    return pod.spec.get("hostUsers") is False


# --- baseline -----------------------------------------------------------------------------------


def _host_process(pod: PodView) -> list[Violation]:
    out = []
    if as_dict(pod.security_context().get("windowsOptions")).get("hostProcess") is True:
        out.append(Violation("windowsHostProcess", "baseline", None,
                             _ppath(pod, "securityContext", "windowsOptions", "hostProcess"),
                             "pod sets windowsOptions.hostProcess=true"))
    for c in pod.containers:
        if as_dict(_sc(c).get("windowsOptions")).get("hostProcess") is True:
            out.append(Violation("windowsHostProcess", "baseline", c.name,
                                 _cpath(c, "windowsOptions", "hostProcess"),
                                 f"container {c.name!r} sets windowsOptions.hostProcess=true"))
    return out


def _host_namespaces(pod: PodView) -> list[Violation]:
    return [
        Violation("hostNamespaces", "baseline", None, _ppath(pod, field),
                  f"pod sets {field}=true")
        for field in ("hostNetwork", "hostPID", "hostIPC")
        if pod.spec.get(field) is True
    ]


def _privileged(pod: PodView) -> list[Violation]:
    return [
        Violation("privileged", "baseline", c.name, _cpath(c, "privileged"),
                  f"container {c.name!r} is privileged")
        for c in pod.containers
        if _sc(c).get("privileged") is True
    ]


_BASELINE_CAPABILITIES = frozenset({
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
    "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
})


def _capabilities_baseline(pod: PodView) -> list[Violation]:
    out = []
    for c in pod.containers:
        for i, cap in enumerate(as_list(as_dict(_sc(c).get("capabilities")).get("add"))):
            if cap not in _BASELINE_CAPABILITIES:
                out.append(Violation("capabilities_baseline", "baseline", c.name,
                                     _cpath(c, "capabilities", "add", i),
                                     f"container {c.name!r} adds capability {cap}"))
    return out


def _host_path_volumes(pod: PodView) -> list[Violation]:
    out = []
    for i, volume in enumerate(as_list(pod.spec.get("volumes"))):
        if isinstance(volume, dict) and volume.get("hostPath") is not None:
            path = as_dict(volume["hostPath"]).get("path", "")
            out.append(Violation("hostPathVolumes", "baseline", None,
                                 _ppath(pod, "volumes", i, "hostPath"),
                                 f"volume {volume.get('name')!r} mounts host path {path!r}"))
    return out


def _host_ports(pod: PodView) -> list[Violation]:
    out = []
    for c in pod.containers:
        for i, port in enumerate(as_list(c.spec.get("ports"))):
            host_port = as_dict(port).get("hostPort")
            if host_port not in (None, 0):
                out.append(Violation("hostPorts", "baseline", c.name,
                                     (*c.path, "ports", i, "hostPort"),
                                     f"container {c.name!r} binds host port {host_port}"))
    return out


def _host_probes(pod: PodView) -> list[Violation]:
    out = []
    for c in pod.containers:
        handlers: list[tuple[Path, Any]] = []
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            handlers.append(((probe,), c.spec.get(probe)))
        for hook in ("postStart", "preStop"):
            handlers.append((("lifecycle", hook), as_dict(c.spec.get("lifecycle")).get(hook)))
        for where, handler in handlers:
            for action in ("httpGet", "tcpSocket"):
                host = as_dict(as_dict(handler).get(action)).get("host")
                if host not in (None, ""):
                    out.append(Violation(
                        "hostProbesAndHostLifecycle", "baseline", c.name,
                        (*c.path, *where, action, "host"),
                        f"container {c.name!r} {'.'.join(map(str, where))} targets host {host!r}"))
    return out


_APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"


def _apparmor(pod: PodView) -> list[Violation]:
    out = []
    allowed_types = ("RuntimeDefault", "Localhost")
    profile = pod.security_context().get("appArmorProfile")
    if isinstance(profile, dict) and profile.get("type") not in allowed_types:
        out.append(Violation("appArmorProfile", "baseline", None,
                             _ppath(pod, "securityContext", "appArmorProfile", "type"),
                             f"pod sets AppArmor profile {profile.get('type')!r}"))
    for c in pod.containers:
        profile = _sc(c).get("appArmorProfile")
        if isinstance(profile, dict) and profile.get("type") not in allowed_types:
            out.append(Violation("appArmorProfile", "baseline", c.name,
                                 _cpath(c, "appArmorProfile", "type"),
                                 f"container {c.name!r} sets AppArmor profile "
                                 f"{profile.get('type')!r}"))
    for key, value in sorted(as_dict(pod.meta.get("annotations")).items()):
        if not str(key).startswith(_APPARMOR_ANNOTATION):
            continue
        value = "" if value is None else str(value)
        if value and value != "runtime/default" and not value.startswith("localhost/"):
            container = str(key)[len(_APPARMOR_ANNOTATION):]
            out.append(Violation("appArmorProfile", "baseline", container,
                                 (*pod.meta_path, "annotations", key),
                                 f"annotation sets AppArmor profile {value!r} for {container!r}"))
    return out


def _selinux(types: frozenset[str]) -> CheckFn:
    def check(pod: PodView) -> list[Violation]:
        out = []
        targets: list[tuple[str | None, Path, Any]] = [
            (None, _ppath(pod, "securityContext", "seLinuxOptions"),
             pod.security_context().get("seLinuxOptions"))
        ]
        targets += [(c.name, _cpath(c, "seLinuxOptions"), _sc(c).get("seLinuxOptions"))
                    for c in pod.containers]
        for container, path, options in targets:
            options = as_dict(options)
            who = "pod" if container is None else f"container {container!r}"
            if (options.get("type") or "") not in types:
                out.append(Violation("seLinuxOptions", "baseline", container, (*path, "type"),
                                     f"{who} sets SELinux type {options.get('type')!r}"))
            for field in ("user", "role"):
                if options.get(field) not in (None, ""):
                    out.append(Violation("seLinuxOptions", "baseline", container,
                                         (*path, field),
                                         f"{who} sets SELinux {field} {options.get(field)!r}"))
        return out

    return check


_SELINUX_1_0 = frozenset({"", "container_t", "container_init_t", "container_kvm_t"})
_SELINUX_1_31 = _SELINUX_1_0 | {"container_engine_t"}


def _proc_mount(relax_user_namespaces: bool, check_id: str, level: str) -> CheckFn:
    def check(pod: PodView) -> list[Violation]:
        if relax_user_namespaces and _user_namespaced(pod):
            return []
        return [
            Violation(check_id, level, c.name, _cpath(c, "procMount"),
                      f"container {c.name!r} sets procMount {_sc(c).get('procMount')!r}")
            for c in pod.containers
            if _sc(c).get("procMount") not in (None, "Default")
        ]

    return check


_SECCOMP_POD_ANNOTATION = "seccomp.security.alpha.kubernetes.io/pod"
_SECCOMP_CONTAINER_ANNOTATION = "container.seccomp.security.alpha.kubernetes.io/"


def _seccomp_baseline_annotations(pod: PodView) -> list[Violation]:
    out = []
    for key, value in sorted(as_dict(pod.meta.get("annotations")).items()):
        key = str(key)
        if value != "unconfined":
            continue
        if key == _SECCOMP_POD_ANNOTATION or key.startswith(_SECCOMP_CONTAINER_ANNOTATION):
            container = None if key == _SECCOMP_POD_ANNOTATION else \
                key[len(_SECCOMP_CONTAINER_ANNOTATION):]
            out.append(Violation("seccompProfile_baseline", "baseline", container,
                                 (*pod.meta_path, "annotations", key),
                                 f"annotation {key} sets seccomp to unconfined"))
    return out


def _valid_seccomp(profile_type: Any) -> bool:
    return profile_type in ("RuntimeDefault", "Localhost")


def _seccomp_baseline(pod: PodView) -> list[Violation]:
    out = []
    profile = pod.security_context().get("seccompProfile")
    if isinstance(profile, dict) and not _valid_seccomp(profile.get("type")):
        out.append(Violation("seccompProfile_baseline", "baseline", None,
                             _ppath(pod, "securityContext", "seccompProfile", "type"),
                             f"pod sets seccomp profile {profile.get('type')!r}"))
    for c in pod.containers:
        profile = _sc(c).get("seccompProfile")
        if isinstance(profile, dict) and not _valid_seccomp(profile.get("type")):
            out.append(Violation("seccompProfile_baseline", "baseline", c.name,
                                 _cpath(c, "seccompProfile", "type"),
                                 f"container {c.name!r} sets seccomp profile "
                                 f"{profile.get('type')!r}"))
    return out


_SYSCTLS_1_0 = frozenset({
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start",
})
_SYSCTLS_1_27 = _SYSCTLS_1_0 | {"net.ipv4.ip_local_reserved_ports"}
_SYSCTLS_1_29 = _SYSCTLS_1_27 | {
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
_SYSCTLS_1_32 = _SYSCTLS_1_29 | {"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"}
_SYSCTLS_1_37 = _SYSCTLS_1_32 | {"net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_notsent_lowat"}


def _sysctls(allowed: frozenset[str]) -> CheckFn:
    def check(pod: PodView) -> list[Violation]:
        out = []
        for i, sysctl in enumerate(as_list(pod.security_context().get("sysctls"))):
            name = as_dict(sysctl).get("name")
            if name not in allowed:
                out.append(Violation("sysctls", "baseline", None,
                                     _ppath(pod, "securityContext", "sysctls", i, "name"),
                                     f"pod sets unsafe sysctl {name!r}"))
        return out

    return check


# --- restricted ---------------------------------------------------------------------------------

_RESTRICTED_VOLUME_TYPES = frozenset({
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image", "persistentVolumeClaim",
    "projected", "secret",
})


def _restricted_volumes(pod: PodView) -> list[Violation]:
    out = []
    for i, volume in enumerate(as_list(pod.spec.get("volumes"))):
        volume = as_dict(volume)
        sources = [k for k, v in volume.items() if k != "name" and v is not None]
        # A volume with no source is defaulted to emptyDir by the API server.
        bad = [k for k in sources if k not in _RESTRICTED_VOLUME_TYPES]
        for source in bad:
            out.append(Violation("restrictedVolumes", "restricted", None,
                                 _ppath(pod, "volumes", i, source),
                                 f"volume {volume.get('name')!r} uses restricted volume type "
                                 f"{source}"))
    return out


def _allow_privilege_escalation(exempt_windows: bool) -> CheckFn:
    def check(pod: PodView) -> list[Violation]:
        if exempt_windows and _is_windows(pod):
            return []
        return [
            Violation("allowPrivilegeEscalation", "restricted", c.name,
                      _cpath(c, "allowPrivilegeEscalation"),
                      f"container {c.name!r} must set allowPrivilegeEscalation=false")
            for c in pod.containers
            if _sc(c).get("allowPrivilegeEscalation") is not False
        ]

    return check


def _run_as_non_root(relax_user_namespaces: bool) -> CheckFn:
    def check(pod: PodView) -> list[Violation]:
        if relax_user_namespaces and _user_namespaced(pod):
            return []
        out = []
        pod_value = pod.security_context().get("runAsNonRoot")
        if pod_value is False:
            out.append(Violation("runAsNonRoot", "restricted", None,
                                 _ppath(pod, "securityContext", "runAsNonRoot"),
                                 "pod sets runAsNonRoot=false"))
        pod_ok = pod_value is True
        for c in pod.containers:
            value = _sc(c).get("runAsNonRoot")
            if value is False:
                out.append(Violation("runAsNonRoot", "restricted", c.name,
                                     _cpath(c, "runAsNonRoot"),
                                     f"container {c.name!r} sets runAsNonRoot=false"))
            elif value is None and not pod_ok:
                out.append(Violation("runAsNonRoot", "restricted", c.name,
                                     _cpath(c, "runAsNonRoot"),
                                     f"container {c.name!r} may run as root: set "
                                     "runAsNonRoot=true on the pod or the container"))
        return out

    return check


def _run_as_user(relax_user_namespaces: bool) -> CheckFn:
    def check(pod: PodView) -> list[Violation]:
        if relax_user_namespaces and _user_namespaced(pod):
            return []
        out = []
        if pod.security_context().get("runAsUser") == 0:
            out.append(Violation("runAsUser", "restricted", None,
                                 _ppath(pod, "securityContext", "runAsUser"),
                                 "pod sets runAsUser=0 (root)"))
        for c in pod.containers:
            if _sc(c).get("runAsUser") == 0:
                out.append(Violation("runAsUser", "restricted", c.name, _cpath(c, "runAsUser"),
                                     f"container {c.name!r} sets runAsUser=0 (root)"))
        return out

    return check


def _seccomp_restricted(exempt_windows: bool) -> CheckFn:
    def check(pod: PodView) -> list[Violation]:
        if exempt_windows and _is_windows(pod):
            return []
        out = []
        profile = pod.security_context().get("seccompProfile")
        pod_ok = False
        if isinstance(profile, dict):
            if _valid_seccomp(profile.get("type")):
                pod_ok = True
            else:
                out.append(Violation("seccompProfile_restricted", "restricted", None,
                                     _ppath(pod, "securityContext", "seccompProfile", "type"),
                                     f"pod sets seccomp profile {profile.get('type')!r}"))
        for c in pod.containers:
            profile = _sc(c).get("seccompProfile")
            if isinstance(profile, dict):
                if not _valid_seccomp(profile.get("type")):
                    out.append(Violation("seccompProfile_restricted", "restricted", c.name,
                                         _cpath(c, "seccompProfile", "type"),
                                         f"container {c.name!r} sets seccomp profile "
                                         f"{profile.get('type')!r}"))
            elif not pod_ok:
                out.append(Violation("seccompProfile_restricted", "restricted", c.name,
                                     _cpath(c, "seccompProfile", "type"),
                                     f"container {c.name!r} has no seccomp profile: set "
                                     "RuntimeDefault on the pod or the container"))
        return out

    return check


def _capabilities_restricted(exempt_windows: bool) -> CheckFn:
    def check(pod: PodView) -> list[Violation]:
        if exempt_windows and _is_windows(pod):
            return []
        out = []
        for c in pod.containers:
            caps = as_dict(_sc(c).get("capabilities"))
            if "ALL" not in as_list(caps.get("drop")):
                out.append(Violation("capabilities_restricted", "restricted", c.name,
                                     _cpath(c, "capabilities", "drop"),
                                     f"container {c.name!r} must drop ALL capabilities"))
            for i, cap in enumerate(as_list(caps.get("add"))):
                if cap != "NET_BIND_SERVICE":
                    out.append(Violation("capabilities_restricted", "restricted", c.name,
                                         _cpath(c, "capabilities", "add", i),
                                         f"container {c.name!r} adds capability {cap} "
                                         "(only NET_BIND_SERVICE is allowed)"))
        return out

    return check


# --- the catalog --------------------------------------------------------------------------------


def _v(major: int, minor: int, run: CheckFn, *overrides: str) -> VersionedCheck:
    return VersionedCheck((major, minor), run, tuple(overrides))


CHECKS: tuple[Check, ...] = (
    Check("windowsHostProcess", "baseline", "host-process", "Windows HostProcess",
          (_v(1, 0, _host_process),)),
    Check("hostNamespaces", "baseline", "host-namespaces", "Host namespaces",
          (_v(1, 0, _host_namespaces),)),
    Check("privileged", "baseline", "privileged", "Privileged containers",
          (_v(1, 0, _privileged),)),
    Check("capabilities_baseline", "baseline", "capabilities", "Capabilities beyond the default set",
          (_v(1, 0, _capabilities_baseline),)),
    Check("hostPathVolumes", "baseline", "host-path-volumes", "HostPath volumes",
          (_v(1, 0, _host_path_volumes),)),
    Check("hostPorts", "baseline", "host-ports", "Host ports", (_v(1, 0, _host_ports),)),
    Check("hostProbesAndHostLifecycle", "baseline", "host-probes-lifecycle",
          "Probe and lifecycle handlers aimed at another host", (_v(1, 34, _host_probes),)),
    Check("appArmorProfile", "baseline", "apparmor", "AppArmor", (_v(1, 0, _apparmor),)),
    Check("seLinuxOptions", "baseline", "selinux", "SELinux",
          (_v(1, 0, _selinux(_SELINUX_1_0)), _v(1, 31, _selinux(_SELINUX_1_31)))),
    Check("procMount", "baseline", "proc-mount", "/proc mount type",
          (_v(1, 0, _proc_mount(False, "procMount", "baseline")),
           _v(1, 35, _proc_mount(True, "procMount", "baseline")))),
    Check("seccompProfile_baseline", "baseline", "seccomp", "Seccomp (not Unconfined)",
          (_v(1, 0, _seccomp_baseline_annotations), _v(1, 19, _seccomp_baseline))),
    Check("sysctls", "baseline", "sysctls", "Unsafe sysctls",
          (_v(1, 0, _sysctls(_SYSCTLS_1_0)), _v(1, 27, _sysctls(_SYSCTLS_1_27)),
           _v(1, 29, _sysctls(_SYSCTLS_1_29)), _v(1, 32, _sysctls(_SYSCTLS_1_32)),
           _v(1, 37, _sysctls(_SYSCTLS_1_37)))),
    Check("restrictedVolumes", "restricted", "volume-types", "Volume types",
          (_v(1, 0, _restricted_volumes),)),
    Check("allowPrivilegeEscalation", "restricted", "allow-privilege-escalation",
          "Privilege escalation",
          (_v(1, 8, _allow_privilege_escalation(False)),
           _v(1, 25, _allow_privilege_escalation(True)))),
    Check("runAsNonRoot", "restricted", "run-as-non-root", "Running as non-root",
          (_v(1, 0, _run_as_non_root(False)), _v(1, 35, _run_as_non_root(True)))),
    Check("runAsUser", "restricted", "run-as-user", "Running as a non-root user (UID)",
          (_v(1, 23, _run_as_user(False)), _v(1, 35, _run_as_user(True)))),
    Check("seccompProfile_restricted", "restricted", "seccomp", "Seccomp (RuntimeDefault/Localhost)",
          (_v(1, 19, _seccomp_restricted(False), "seccompProfile_baseline"),
           _v(1, 25, _seccomp_restricted(True), "seccompProfile_baseline"))),
    Check("capabilities_restricted", "restricted", "capabilities", "Capabilities (drop ALL)",
          (_v(1, 22, _capabilities_restricted(False), "capabilities_baseline"),
           _v(1, 25, _capabilities_restricted(True), "capabilities_baseline"))),
    Check("procMount_restricted", "restricted", "proc-mount", "/proc mount type (restricted)",
          (_v(1, 35, _proc_mount(False, "procMount_restricted", "restricted"), "procMount"),)),
)
CHECKS_BY_ID = {check.id: check for check in CHECKS}


def rule_id(check_id: str) -> str:
    """The finding rule id of a check: `pss.<level>.<control>`."""
    check = CHECKS_BY_ID[check_id]
    return f"pss.{check.level}.{check.control}"


def applicable(level: str, version: Version) -> list[tuple[Check, VersionedCheck]]:
    """The checks pod-security-admission runs at a level and version, overrides applied."""
    if level not in LEVELS:
        raise ValueError(f"unknown Pod Security level {level!r} (expected baseline or restricted)")
    chosen = []
    for check in CHECKS:
        if level == "baseline" and check.level == "restricted":
            continue
        entry = check.at(version)
        if entry is not None:
            chosen.append((check, entry))
    overridden = {oid for _, entry in chosen for oid in entry.overrides}
    return [(check, entry) for check, entry in chosen if check.id not in overridden]


def evaluate(pod: PodView, level: str, version: Version) -> list[Violation]:
    """Every violation of the pod at the level and version; an empty list means allowed."""
    out: list[Violation] = []
    for _, entry in applicable(level, version):
        out += entry.run(pod)
    return out


def overriding(check_id: str, level: str, version: Version) -> str:
    """The check that decides check_id's control at this level and version (itself if none)."""
    for check, entry in applicable(level, version):
        if check_id in entry.overrides:
            return check.id
    return check_id

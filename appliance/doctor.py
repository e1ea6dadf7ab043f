"""Prerequisite checks: one line per check, each with a fix hint, grouped by the targets needing it."""

from __future__ import annotations

import importlib.metadata
import shutil
import sys
from dataclasses import dataclass

from appliance import paths
from appliance.runtime.process import CommandRunner, free_port

PACKAGES = ("click", "pyyaml", "moto", "minio", "kfp", "kserve", "optuna", "kubernetes")
MIN_FREE_DISK = 2 * 1024**3


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str
    needed_by: frozenset[str]


def run_checks(runner: CommandRunner | None = None) -> list[Check]:
    runner = runner or CommandRunner()
    both = frozenset({"local", "kind"})
    kind_only = frozenset({"kind"})
    checks = [_python(both)]
    checks += [_package(name, both) for name in PACKAGES]
    checks.append(_ports(both))
    checks.append(_disk(both))
    checks.append(_docker(runner, kind_only))
    checks.append(_tool(runner, "kind", ["kind", "version"], kind_only,
                        "install kind: https://kind.sigs.k8s.io/docs/user/quick-start/"))
    checks.append(_tool(runner, "kubectl", ["kubectl", "version", "--client"], kind_only,
                        "install kubectl: https://kubernetes.io/docs/tasks/tools/"))
    return checks


def _python(needed: frozenset[str]) -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    ok = sys.version_info >= (3, 11)
    return Check("python", ok, version, "install Python 3.11 or newer", needed)


def _package(name: str, needed: frozenset[str]) -> Check:
    try:
        version = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return Check(f"package {name}", False, "not installed",
                     "run 'make install' (or pip install -e .)", needed)
    return Check(f"package {name}", True, version, "", needed)


def _ports(needed: frozenset[str]) -> Check:
    try:
        port = free_port()
    except OSError as exc:
        return Check("free ports on 127.0.0.1", False, str(exc),
                     "free loopback ports or check the firewall", needed)
    return Check("free ports on 127.0.0.1", True, f"e.g. {port}", "", needed)


def _disk(needed: frozenset[str]) -> Check:
    home = paths.home()
    probe = home
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    ok = free >= MIN_FREE_DISK
    return Check("disk space", ok, f"{free / 1024**3:.1f} GiB free at {probe}",
                 f"free at least {MIN_FREE_DISK // 1024**3} GiB or set APPLIANCE_HOME", needed)


def _docker(runner: CommandRunner, needed: frozenset[str]) -> Check:
    if shutil.which("docker") is None:
        return Check("docker daemon", False, "docker not found", "install Docker", needed)
    result = runner.run(["docker", "info", "--format", "{{.ServerVersion}}"], timeout=15,
                        check=False)
    if result.returncode != 0:
        first = (result.output.strip().splitlines() or ["not reachable"])[-1]
        return Check("docker daemon", False, first[:120],
                     "start the Docker daemon (or use --target local)", needed)
    return Check("docker daemon", True, result.output.strip(), "", needed)


def _tool(runner: CommandRunner, name: str, argv: list[str], needed: frozenset[str],
          fix: str) -> Check:
    if shutil.which(name) is None:
        return Check(name, False, "not found", fix, needed)
    result = runner.run(argv, timeout=15, check=False)
    first = (result.output.strip().splitlines() or [""])[0]
    return Check(name, result.returncode == 0, first[:120], fix, needed)


def can_run(checks: list[Check], target: str) -> bool:
    return all(c.ok for c in checks if target in c.needed_by)

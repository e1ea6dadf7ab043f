"""Prerequisite checks every target shares (Python, packages, ports, disk), and tool probes targets use."""

from __future__ import annotations

import importlib.metadata
import shutil
import sys
from dataclasses import dataclass
from typing import Literal

from appliance import paths
from appliance.runtime.process import CommandRunner, free_port

Severity = Literal["error", "warn"]


@dataclass(frozen=True)
class Check:
    """One prerequisite check: what was checked, what was found, and the fix when it failed.
    A failed `error` check refuses the target (exit 3); a failed `warn` check only warns."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    severity: Severity = "error"

    @property
    def blocking(self) -> bool:
        return not self.ok and self.severity == "error"

    @property
    def symbol(self) -> str:
        return "✓" if self.ok else ("✗" if self.severity == "error" else "!")

    def line(self) -> str:
        text = f"{self.symbol} {self.name}: {self.detail}"
        return f"{text} (fix: {self.fix})" if not self.ok and self.fix else text


PACKAGES = ("click", "pyyaml", "moto", "minio", "kfp", "kserve", "optuna", "kubernetes")
MIN_FREE_DISK = 2 * 1024**3


def common_checks() -> list[Check]:
    """What every target needs of this machine; each target adds its own (Target.preflight)."""
    return [_python(), *(_package(name) for name in PACKAGES), _ports(), _disk()]


def _python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    ok = sys.version_info >= (3, 11)
    return Check("python", ok, version, "install Python 3.11 or newer")


def _package(name: str) -> Check:
    try:
        version = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return Check(f"package {name}", False, "not installed",
                     "run 'make install' (or pip install -e .)")
    return Check(f"package {name}", True, version, "")


def _ports() -> Check:
    try:
        port = free_port()
    except OSError as exc:
        return Check("free ports on 127.0.0.1", False, str(exc),
                     "free loopback ports or check the firewall")
    return Check("free ports on 127.0.0.1", True, f"e.g. {port}", "")


def _disk() -> Check:
    home = paths.home()
    probe = home
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    ok = free >= MIN_FREE_DISK
    return Check("disk space", ok, f"{free / 1024**3:.1f} GiB free at {probe}",
                 f"free at least {MIN_FREE_DISK // 1024**3} GiB or set APPLIANCE_HOME")


def docker_daemon(runner: CommandRunner) -> Check:
    if shutil.which("docker") is None:
        return Check("docker daemon", False, "docker not found", "install Docker")
    result = runner.run(["docker", "info", "--format", "{{.ServerVersion}}"], timeout=15,
                        check=False)
    if result.returncode != 0:
        first = (result.output.strip().splitlines() or ["not reachable"])[-1]
        return Check("docker daemon", False, first[:120],
                     "start the Docker daemon (or use --target local)")
    return Check("docker daemon", True, result.output.strip(), "")


def tool(runner: CommandRunner, name: str, argv: list[str], fix: str) -> Check:
    if shutil.which(name) is None:
        return Check(name, False, "not found", fix)
    result = runner.run(argv, timeout=15, check=False)
    first = (result.output.strip().splitlines() or [""])[0]
    return Check(name, result.returncode == 0, first[:120], fix)


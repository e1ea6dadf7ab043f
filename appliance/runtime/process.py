"""The one process seam: run commands, start background services, find and stop them by pid."""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from appliance.errors import BadInput, ExternalCommandFailed

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class CommandResult:
    argv: tuple[str, ...]
    returncode: int
    output: str


class CommandRunner:
    """Runs external commands; tests substitute a fake with the same `run` method."""

    def run(
        self, argv: Sequence[str], timeout: float = 60.0, check: bool = True
    ) -> CommandResult:
        try:
            done = subprocess.run(
                list(argv),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
                timeout=timeout,
                check=False,
            )
        except FileNotFoundError as exc:
            raise ExternalCommandFailed(list(argv), "", f"{argv[0]} is not installed") from exc
        except subprocess.TimeoutExpired as exc:
            output = exc.output if isinstance(exc.output, str) else ""
            raise ExternalCommandFailed(list(argv), output, f"timed out after {timeout:.0f}s") from exc
        result = CommandResult(tuple(argv), done.returncode, done.stdout or "")
        if check and done.returncode != 0:
            raise ExternalCommandFailed(list(argv), result.output, f"exit code {done.returncode}")
        return result


def free_port(host: str = LOOPBACK) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
    return False


def check_port_free(port: int) -> None:
    if not 0 < port < 65536:
        raise BadInput(f"invalid port {port}", "ports are 1-65535", "pick another --port")
    if port_in_use(port):
        raise BadInput(
            f"port {port} is in use",
            f"another process listens on {LOOPBACK}:{port}",
            "pick another --port or omit it to use a free one",
        )


def spawn(argv: Sequence[str], log_path: Path, env: dict[str, str] | None = None) -> int:
    """Start a detached background process in its own session; output goes to log_path."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
    return proc.pid


def cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace")


def is_alive(pid: int, marker: str = "") -> bool:
    """True if pid runs and (when given) its command line holds marker, so a reused pid is not ours."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    state = _proc_state(pid)
    if state in ("Z", "X"):
        _reap(pid)
        return False
    return not marker or marker in cmdline(pid)


def _proc_state(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[-1].split()[0] if ")" in stat else ""


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def stop(pid: int, marker: str = "", timeout: float = 10.0) -> bool:
    """Stop a process group started by `spawn`: SIGTERM, then SIGKILL. Returns True if it ran."""
    if not is_alive(pid, marker):
        return False
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return True
        except PermissionError:
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            _reap(pid)
            if not is_alive(pid):
                return True
            time.sleep(0.05)
    return True


def wait_until(
    predicate: Callable[[], bool],
    timeout: float,
    interval: float = 0.1,
    abort: Callable[[], str | None] | None = None,
) -> bool:
    """Poll predicate until true or timeout; abort() returning a message stops early (raises)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if abort is not None:
            reason = abort()
            if reason:
                raise RuntimeError(reason)
        time.sleep(interval)
    return predicate()


def marked_pids(marker: str) -> list[int]:
    """Live processes whose command line names `--run-dir <marker>` or a folder below it: every
    background process of a stack carries its run dir, so they are found when the state is lost."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            line = cmdline(int(entry.name)) + " "
            if (f"--run-dir {marker} " in line or f"--run-dir {marker}/" in line) and \
                    is_alive(int(entry.name)):
                found.append(int(entry.name))
    return sorted(found)


def _running(pid: int) -> bool:
    """Alive and not a zombie; never reaps (a zombie child belongs to its Popen's wait)."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return _proc_state(pid) not in ("Z", "X", "")


def pids_with(text: str) -> list[int]:
    """Live processes (this one excepted) whose command line contains `text`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            pid = int(entry.name)
            if text in cmdline(pid) and _running(pid):
                found.append(pid)
    return sorted(found)


def with_descendants(pids: Sequence[int]) -> list[int]:
    """The processes and every live process below them, found by parent pid (read before any is
    signalled: an orphan is re-parented and loses the link)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int(Path(entry, "stat").read_text().rsplit(")", 1)[-1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    pending = list(pids)
    while pending:
        pid = pending.pop()
        if pid not in found:
            found.append(pid)
            pending.extend(children.get(pid, []))
    return sorted(pid for pid in found if _running(pid))


def terminate(pids: Sequence[int], grace: float = 5.0) -> list[int]:
    """SIGTERM each process, SIGKILL those still running after `grace` seconds; returns the pids
    signalled. For processes this one did not `spawn` (no group of their own): never reaps, so
    a caller's subprocess.Popen still sees its child's real exit status."""
    signalled = []
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            continue
        signalled.append(pid)
    deadline = time.monotonic() + grace
    while any(map(_running, signalled)) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in signalled:
        if _running(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    return signalled

"""The files a conformance run writes (--report, --junitxml): checked before it starts, written after."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from appliance.errors import BadInput
from appliance.runtime.state import write_atomic

FIX = "write to a directory you can write to"


def check(path: Path, option: str) -> None:
    """BadInput (exit 2) unless `path` can be written; missing parent directories may be created.

    Nothing is left behind: the nearest existing directory is probed with a temporary entry,
    the only reliable test (as root os.access says yes even where /proc or a read-only mount
    refuses).
    """
    if path.is_dir():
        raise BadInput(f"{option} {path}: is a directory", "", "give a file name")
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise BadInput(f"{option} {path}: {ancestor} is not a directory", "", "write elsewhere")
    try:
        if ancestor == path.parent:
            fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", dir=ancestor)
            os.close(fd)
            os.unlink(probe)
        else:
            os.rmdir(tempfile.mkdtemp(prefix=f".{path.name}.", dir=ancestor))
    except OSError as exc:
        raise BadInput(f"{option} {path}: cannot create a file in {ancestor}",
                       exc.strerror or str(exc), FIX) from None
    if path.exists() and not os.access(path, os.W_OK):
        raise BadInput(f"{option} {path}: the file is not writable", "", "write elsewhere or fix its mode")


def write(path: Path, text: str, option: str) -> None:
    """Write the file whole (atomically, creating its directories); failure is a one-line BadInput."""
    try:
        write_atomic(path, text)
    except OSError as exc:
        raise BadInput(f"{option} {path}: could not be written", exc.strerror or str(exc), FIX) from None

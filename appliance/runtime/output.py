"""Output files named on the command line (-o, --report, --junitxml): checked first, written whole."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from appliance.errors import BadInput
from appliance.runtime.state import write_atomic

# Every error reads "<option> <path>: cannot write: <why> (fix: ...)", one line, exit 2.
# Missing parent directories are never an error: they are created when the file is written.


def check_file(path: Path, option: str) -> None:
    """BadInput unless a file can be written at `path` (missing directories would be created).

    Nothing is left behind: the nearest existing directory is probed with a temporary entry.
    """
    if path.is_dir():
        raise _bad(path, option, "it is a directory", "give a file path")
    _probe_ancestor(path, option)
    if path.exists() and not os.access(path, os.W_OK):
        raise _bad(path, option, "the file is not writable", "fix its mode or choose another path")


def check_dir(path: Path, option: str, fix: str = "give a directory path") -> None:
    """BadInput unless `path` is, or can be created as, a directory that takes new files."""
    if path.exists() and not path.is_dir():
        raise _bad(path, option, "it exists and is not a directory", fix)
    if path.is_dir():
        _probe(path, path, option, make_dir=False)
    else:
        _probe_ancestor(path, option)


def write_text(path: Path, text: str, option: str) -> None:
    """Write `path` whole (atomically, creating missing directories); an OSError becomes BadInput."""
    with writing(path, option):
        write_atomic(path, text)


@contextmanager
def writing(path: Path, option: str) -> Iterator[None]:
    """Turn an OSError while writing under `path` into BadInput: checks cannot foresee all
    (a directory removed meanwhile, a full disk)."""
    try:
        yield
    except OSError as exc:
        why = exc.strerror or str(exc)
        failed = Path(exc.filename) if exc.filename else path
        # Name the file that failed inside a directory target, not write_atomic's temp file.
        if failed != path and not failed.name.startswith(f".{path.name}."):
            why = f"{failed}: {why}"
        raise _bad(path, option, why, _fix(option)) from None


def _probe_ancestor(path: Path, option: str) -> None:
    # The nearest existing ancestor decides whether the missing directories can be made.
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise _bad(path, option, f"{ancestor} is not a directory", _fix(option))
    _probe(path, ancestor, option, make_dir=ancestor != path.parent)


def _probe(path: Path, directory: Path, option: str, make_dir: bool) -> None:
    # A real probe, not os.access: root passes os.access yet cannot create files in /proc or on
    # a read-only mount. A directory is probed when missing directories will have to be made.
    try:
        if make_dir:
            os.rmdir(tempfile.mkdtemp(prefix=f".{path.name}.", dir=directory))
        else:
            fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
            os.close(fd)
            os.unlink(probe)
    except OSError as exc:
        entry = "directory" if make_dir else "file"
        why = f"creating a {entry} in {directory} failed: {exc.strerror or exc}"
        raise _bad(path, option, why, _fix(option)) from None


def _fix(option: str) -> str:
    return f"choose another {option} path in a directory you can write"


def _bad(path: Path, option: str, why: str, fix: str) -> BadInput:
    return BadInput(f"{option} {path}: cannot write", why, fix)

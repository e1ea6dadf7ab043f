"""Output paths of `render -o` and `review -o`: checked before the work, write errors as one line."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from appliance.errors import BadInput

FIX = "choose an -o path in a directory you can write, or omit -o to print to stdout"


def check_file(path: Path) -> None:
    """Refuse, before any work is done, an -o file that plainly cannot be written."""
    if path.is_dir():
        raise BadInput(f"cannot write {path}", "it is a directory, a file path is needed", FIX)
    _check_parent(path)


def check_dir(path: Path) -> None:
    """Refuse, before any work is done, an -o directory that plainly cannot be created or filled."""
    if path.exists() and not path.is_dir():
        raise BadInput(f"cannot write to directory {path}", "it exists and is not a directory",
                       "give a directory, or a path ending in .yaml for one multi-document file")
    _check_parent(path)


def _check_parent(path: Path) -> None:
    # The nearest existing ancestor decides whether the missing directories can be made.
    ancestor = path.absolute().parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise BadInput(f"cannot write {path}", f"{ancestor} is not a directory", FIX)
    try:
        # A real probe, not os.access: root passes os.access yet cannot write /proc or a
        # read-only mount. TemporaryFile leaves nothing behind.
        with tempfile.TemporaryFile(dir=ancestor):
            pass
    except OSError as exc:
        why = f"cannot create files in {ancestor} ({exc.strerror or exc})"
        raise BadInput(f"cannot write {path}", why, FIX) from None


@contextmanager
def writing(path: Path) -> Iterator[None]:
    """Turn an OSError while writing `path` into BadInput (exit 2): checks cannot foresee all
    (a read-only file system, /proc, a full disk)."""
    try:
        yield
    except OSError as exc:
        raise BadInput(f"cannot write {exc.filename or path}", exc.strerror or str(exc), FIX) from None


def write_text(path: Path, text: str) -> None:
    """Write `text` to `path`, making missing parent directories; errors as BadInput."""
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

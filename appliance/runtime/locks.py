"""Cross-process locks: one per stack name, serialising up/down and every change of its state."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

from appliance import paths


@contextmanager
def stack_lock(name: str) -> Iterator[None]:
    """Serialise up/down/state changes of one stack name across processes.

    The lock file is removed by `down` (so nothing of a stack is left behind); a waiter that
    then holds a lock on the removed file notices the inode changed and locks the new file.
    """
    lock_dir = paths.stacks_dir()
    lock_dir.mkdir(parents=True, exist_ok=True)
    lock_path = lock_dir / f".{name}.lock"
    while True:
        handle = open(lock_path, "a")
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            same = os.fstat(handle.fileno()).st_ino == os.stat(lock_path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        handle.close()
    try:
        yield
    finally:
        handle.close()


def remove_stack_lock(name: str) -> None:
    """Called with the lock held, as the last step of `down`."""
    (paths.stacks_dir() / f".{name}.lock").unlink(missing_ok=True)

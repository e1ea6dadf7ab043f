"""The stub model server: serve a stub artifact over KServe v1 and v2 REST (`python -m stubs.server`).

The kserve parts live in stubs.server.kserve_model and are imported on first use, so that the
command line can answer --help, bad arguments and unloadable artifacts without paying for kserve.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stubs.server.kserve_model import LoopbackModelServer, StubModel, serve

__all__ = ["LoopbackModelServer", "StubModel", "serve"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from stubs.server import kserve_model

        return getattr(kserve_model, name)
    raise AttributeError(f"module 'stubs.server' has no attribute {name!r}")

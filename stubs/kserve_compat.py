"""Import kserve without letting it read this process's command line.

kserve.model_server parses sys.argv with its own argparse parser at import time, so
`python -m stubs.server --help` would print kserve's help and exit. Hiding our arguments
during that one import keeps kserve's defaults and leaves our command line to us.
"""

from __future__ import annotations

import sys

_saved_argv, sys.argv = sys.argv, sys.argv[:1]
try:
    import kserve
    from kserve import errors
    from kserve.model_server import FASTAPI_APP_IMPORT_STRING, ModelServer
    from kserve.protocol.dataplane import DataPlane
    from kserve.protocol.infer_type import InferOutput, InferRequest, InferResponse
    from kserve.protocol.rest.server import RESTServer
    from kserve.protocol.rest.v2_datamodels import InferenceRequest
    from kserve.utils.numpy_codec import to_np_dtype
finally:
    sys.argv = _saved_argv

__all__ = [
    "FASTAPI_APP_IMPORT_STRING",
    "DataPlane",
    "InferOutput",
    "InferRequest",
    "InferResponse",
    "InferenceRequest",
    "ModelServer",
    "RESTServer",
    "errors",
    "kserve",
    "to_np_dtype",
]

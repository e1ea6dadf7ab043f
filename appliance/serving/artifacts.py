"""Model artifacts every target serves: read one from the object store (or a path) and learn its version."""

from __future__ import annotations

import json
from typing import Any

from appliance.errors import BadInput
from appliance.objectstore import ObjectStore
from appliance.serving.records import ModelRef


def read_bytes(store: ObjectStore, uri: str) -> bytes:
    """An artifact's bytes from the stack's object store (s3://) or a local path, errors naming it."""
    from stubs import uri as uris
    from stubs.errors import StubError

    try:
        if uris.is_s3(uri):
            bucket, key = uris.split_s3(uri)
            response = store.client().get_object(bucket, key)
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()
        return uris.local_path(uri).read_bytes()
    except StubError as exc:
        raise BadInput(f"cannot read model {uri}", exc.message,
                       "use s3://bucket/key or a local path") from exc
    except Exception as exc:  # S3Error, OSError, transport errors: all mean "cannot read"
        why = f"{getattr(exc, 'code', '') or type(exc).__name__}: {getattr(exc, 'message', '') or exc}"
        raise BadInput(f"cannot read model {uri}", why.splitlines()[0][:300],
                       "check the URI (appliance env; aws s3 ls) or upload the artifact") from exc


def describe(store: ObjectStore, uri: str) -> ModelRef:
    """The model's declared version; refuses what is not a stub model artifact before starting anything."""
    from stubs import model as stub_model
    from stubs.errors import StubError

    data = read_bytes(store, uri)
    try:
        artifact = stub_model.validate(json.loads(data), uri)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadInput(f"{uri} is not a model artifact", f"not JSON ({exc})",
                       "create one with 'python -m stubs.model create'") from exc
    except StubError as exc:
        raise BadInput(f"{uri} is not a valid model artifact", exc.message,
                       "create one with 'python -m stubs.model create'") from exc
    return ModelRef(uri, str(artifact["version"]))


def registry(store: ObjectStore) -> Any:
    """The model registry in the stack's object store (what `serve sync` follows)."""
    from appliance.gates.registry import Registry

    return Registry(store)

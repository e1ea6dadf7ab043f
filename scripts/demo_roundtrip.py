"""Demo step: a put/get round trip through the stack's object store with the minio client."""

from __future__ import annotations

import hashlib
import io
import sys

from appliance.targets.local.target import LocalTarget


def main(name: str) -> int:
    store = LocalTarget().stack(name).object_store
    client = store.client()
    payload = b"hello from the appliance demo\n" * 1000
    client.put_object(store.bucket, "demo/hello.txt", io.BytesIO(payload), len(payload))
    echoed = client.get_object(store.bucket, "demo/hello.txt").read()
    digest = hashlib.sha256(payload).hexdigest()[:16]
    if echoed != payload:
        print("✗ object store round trip: content differs", file=sys.stderr)
        return 1
    client.remove_object(store.bucket, "demo/hello.txt")
    print(f"✓ object store round trip: {len(payload)} bytes, sha256 {digest}…", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "demo"))

"""An object store in memory for the fast tier: what Argo's wait container writes into (`put`, as
fake_kfp's archive) and what the pipelines engine reads through (log_archive.ObjectReader: `read`,
`keys` in S3's sorted order). Every read and listing is recorded for assertions."""

from __future__ import annotations

from collections.abc import Iterator

from appliance.targets.cluster.log_archive import ArchiveUnreadable


class MemoryObjects:
    def __init__(self, refuse: str = "") -> None:
        self.objects: dict[tuple[str, str], bytes] = {}
        self.reads: list[str] = []  # s3://bucket/key of every read
        self.listed: list[str] = []  # s3://bucket/prefix of every listing
        self.refuse = refuse  # non-empty: every read and listing fails with this (e.g. AccessDenied)

    def put(self, bucket: str, key: str, data: bytes) -> None:
        self.objects[(bucket, key)] = bytes(data)

    def read(self, bucket: str, key: str) -> bytes | None:
        self.reads.append(f"s3://{bucket}/{key}")
        if self.refuse:
            raise ArchiveUnreadable(self.refuse)
        return self.objects.get((bucket, key))

    def keys(self, bucket: str, prefix: str) -> Iterator[str]:
        self.listed.append(f"s3://{bucket}/{prefix}")
        if self.refuse:
            raise ArchiveUnreadable(self.refuse)
        yield from sorted(k for b, k in self.objects if b == bucket and k.startswith(prefix))

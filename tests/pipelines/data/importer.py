"""Importers of the stack's object store, as the docs recommend for input artifacts: a constant
s3:// URI (one object) and a minio:// URI given as a pipeline parameter (a folder of objects)."""

from kfp import dsl
from kfp.dsl import Dataset, Input


@dsl.component(base_image="python:3.11")
def read(data: Input[Dataset]) -> str:
    import os

    if not os.path.isdir(data.path):
        with open(data.path) as handle:
            return handle.read()
    found = []
    for root, _, names in os.walk(data.path):
        for name in names:
            with open(os.path.join(root, name)) as handle:
                found.append(f"{os.path.relpath(os.path.join(root, name), data.path)}={handle.read()}")
    return f"{','.join(sorted(found))} rows={data.metadata['rows']!r}"


@dsl.pipeline(name="importer")
def importer(folder: str = "minio://mlpipeline/fidelity/folder") -> None:
    one = dsl.importer(artifact_uri="s3://mlpipeline/fidelity/data.txt", artifact_class=Dataset)
    read(data=one.output)
    many = dsl.importer(artifact_uri=folder, artifact_class=Dataset, metadata={"rows": 2})
    read(data=many.output)

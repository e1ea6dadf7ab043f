"""The local pipelines engine: kfp.local in this interpreter, with the stack's object store."""

"""appliance: a local-first ML platform appliance and conformance harness."""

__version__ = "0.1.0"

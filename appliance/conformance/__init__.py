"""The conformance runner: runs the shipped pytest suite against a stack and reports per area."""

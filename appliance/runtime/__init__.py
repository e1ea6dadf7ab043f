"""Runtime seams: run-dir state and processes."""

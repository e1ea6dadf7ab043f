"""The shipped conformance suite: a pytest plugin, its fixtures, and one test module per area."""

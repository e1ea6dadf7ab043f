"""The local tuning engine: Katib Experiment semantics with trials as local process groups."""

"""Promotion gates: a versioned policy, metrics files, a pure decision, and the model registry."""

"""Versioned, strictly decoded configuration documents (profiles)."""

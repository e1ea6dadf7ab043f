"""Cluster machinery shared by the kind and existing-cluster targets: API seam, apply, readiness."""

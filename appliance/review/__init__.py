"""Offline security review of Kubernetes manifests and profiles (`appliance review`)."""

from appliance.review.engine import Options, known_rules, review
from appliance.review.model import Finding, Inventory, Report, Severity

__all__ = ["Finding", "Inventory", "Options", "Report", "Severity", "known_rules", "review"]

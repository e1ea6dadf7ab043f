"""The suite's per-target time budgets: what each target gets, and that a cluster's match the
cluster engines' own defaults (kind.md §7.4), so the suite never cuts a run the engine would let finish."""

from __future__ import annotations

from appliance.pipelines.interface import DEFAULT_TIMEOUT as PIPELINE_DEFAULT
from appliance.targets.cluster import tuning
from conformance.budgets import Budget, budget_for


def test_each_target_has_its_budget_and_an_unknown_one_the_most_patient() -> None:
    assert budget_for("local") == Budget(pipeline_run=600.0, experiment=600.0)
    assert budget_for("kind") == budget_for("kube") == Budget(pipeline_run=1200.0, experiment=1800.0)
    assert budget_for("nomad") == Budget(pipeline_run=1200.0, experiment=1800.0)


def test_cluster_budgets_are_the_cluster_engines_defaults() -> None:
    assert budget_for("kind").pipeline_run == PIPELINE_DEFAULT
    assert budget_for("kind").experiment == tuning.DEFAULT_TIMEOUT

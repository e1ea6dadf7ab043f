"""Algorithms: Katib's search space on Optuna, the grid traps, seeded and reproducible suggestions."""

from __future__ import annotations

from typing import Any

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from appliance.targets.local.tuning import limits
from appliance.tuning import algorithms
from appliance.tuning import experiment as experiments
from appliance.tuning.algorithms import Suggester, SuggestionFailed
from appliance.tuning.model import Parameter

SPACE = [
    {"name": "i", "parameterType": "int", "feasibleSpace": {"min": "2", "max": "10", "step": "4"}},
    {"name": "li", "parameterType": "int",
     "feasibleSpace": {"min": "-3", "max": "100", "distribution": "logUniform"}},
    {"name": "d", "parameterType": "double", "feasibleSpace": {"min": "0", "max": "1", "step": "0.25"}},
    {"name": "ld", "parameterType": "double",
     "feasibleSpace": {"min": "0", "max": "0.1", "distribution": "logUniform"}},
    {"name": "c", "parameterType": "categorical", "feasibleSpace": {"list": ["sgd", "adam"]}},
    {"name": "k", "parameterType": "discrete", "feasibleSpace": {"list": ["16", "32"]}},
]
ARGS = ["--print=accuracy=${trialParameters.d}", *(f"${{trialParameters.{p['name']}}}" for p in SPACE[:2]),
        *(f"${{trialParameters.{p['name']}}}" for p in SPACE[3:])]


def experiment(kit: Any, algorithm: str, settings: dict[str, str] | None = None,
               parameters: list[dict[str, Any]] | None = None, **spec: Any) -> Any:
    algorithm_spec = {"algorithmName": algorithm, "algorithmSettings": [
        {"name": k, "value": v} for k, v in (settings or {}).items()]}
    if parameters is None:
        return experiments.parse(kit.manifest(parameters=SPACE, args=ARGS, algorithm=algorithm_spec,
                                              **spec))
    args = [f"--print=accuracy=${{trialParameters.{parameters[0]['name']}}}",
            *(f"${{trialParameters.{p['name']}}}" for p in parameters[1:])]
    return experiments.parse(kit.manifest(parameters=parameters, args=args,
                                          algorithm=algorithm_spec, **spec))


def test_search_space_follows_katib_optuna_service(kit: Any) -> None:
    space = algorithms.distributions(experiment(kit, "random").parameters)
    assert space == {
        "i": IntDistribution(2, 10, step=4),
        "li": IntDistribution(1, 100, log=True),          # logUniform: low raised to 1
        "d": FloatDistribution(0.0, 1.0, step=0.25),
        "ld": FloatDistribution(1e-10, 0.1, log=True),   # logUniform: low raised to 1e-10
        "c": CategoricalDistribution(["sgd", "adam"]),
        "k": CategoricalDistribution(["16", "32"]),      # discrete is a categorical choice
    }


def test_assignments_are_strings_in_spec_order_and_in_range(kit: Any) -> None:
    suggester = Suggester(experiment(kit, "random", {"random_state": "5"}))
    for _ in range(30):
        _, assignments = suggester.ask()
        values = dict(assignments)
        assert list(values) == [p["name"] for p in SPACE]
        assert int(values["i"]) in (2, 6, 10)
        assert 1 <= int(values["li"]) <= 100
        assert float(values["d"]) in (0.0, 0.25, 0.5, 0.75, 1.0)
        assert 1e-10 <= float(values["ld"]) <= 0.1
        assert values["c"] in ("sgd", "adam") and values["k"] in ("16", "32")


def test_grid_points_are_katibs_arange_including_its_float_noise() -> None:
    parameters = [Parameter("lr", "double", "0.1", "0.3", "0.1"), Parameter("n", "int", "1", "5", "2"),
                  Parameter("opt", "categorical", values=("a", "b"))]
    assert algorithms.grid_values(parameters) == {
        "lr": [0.1, 0.2, 0.30000000000000004],
        "n": [1, 3, 5],
        "opt": ["a", "b"],
    }
    assert algorithms.grid_size(parameters) == 18
    assert algorithms.format_value(0.30000000000000004) == "0.30000000000000004"


def test_grid_visits_every_point_once_then_reissues(kit: Any) -> None:
    parameters = [
        {"name": "lr", "parameterType": "double",
         "feasibleSpace": {"min": "0.1", "max": "0.3", "step": "0.1"}},
        {"name": "n", "parameterType": "int", "feasibleSpace": {"min": "1", "max": "2"}},
    ]
    suggester = Suggester(experiment(kit, "grid", {"random_state": "3"}, parameters, maxTrialCount=6))
    asked = [suggester.ask() for _ in range(6)]
    points = {tuple(v for _, v in assignments) for _, assignments in asked}
    assert points == {(lr, n) for lr in ("0.1", "0.2", "0.30000000000000004") for n in ("1", "2")}
    for number, assignments in asked:
        suggester.tell(number, dict(assignments)["lr"])  # the last tell makes Optuna call stop()
    # Exhausted: Optuna quietly re-issues a point already used (Katib validation prevents
    # maxTrialCount > grid size, but a MetricsUnavailable replacement can still ask again).
    _, again = suggester.ask()
    assert tuple(v for _, v in again) in points


@pytest.mark.parametrize("algorithm", limits.LOCAL_ALGORITHMS)
def test_a_fixed_random_state_gives_the_same_suggestions(kit: Any, algorithm: str) -> None:
    parameters = None
    if algorithm == "grid":
        parameters = [SPACE[0], SPACE[2], SPACE[4]]

    def sequence() -> list[tuple[tuple[str, str], ...]]:
        suggester = Suggester(experiment(kit, algorithm, {"random_state": "11"}, parameters,
                                         maxTrialCount=8))
        out = []
        for _ in range(4):  # asks in pairs, telling between them, like a parallel experiment
            first, second = suggester.ask(), suggester.ask()
            for number, assignments in (first, second):
                suggester.tell(number, str(float(dict(assignments)["d"]) + 0.1))
                out.append(assignments)
        return out

    assert sequence() == sequence()


def test_samplers_match_the_reference_mapping(kit: Any) -> None:
    def built(name: str, settings: dict[str, str] | None = None) -> optuna.samplers.BaseSampler:
        parameters = [SPACE[0], SPACE[2], SPACE[4]] if name == "grid" else None
        return algorithms.sampler(experiment(kit, name, settings, parameters, maxTrialCount=3,
                                             parallelTrialCount=3))

    assert isinstance(built("random"), optuna.samplers.RandomSampler)
    assert isinstance(built("grid"), optuna.samplers.GridSampler)
    assert isinstance(built("cmaes"), optuna.samplers.CmaEsSampler)
    sobol = built("sobol")
    assert isinstance(sobol, optuna.samplers.QMCSampler) and sobol._qmc_type == "sobol"
    tpe = built("tpe", {"gamma": "0.5", "n_EI_candidates": "7", "prior_weight": "2"})
    assert isinstance(tpe, optuna.samplers.TPESampler)
    # hyperopt's setup: the first request (parallelTrialCount) is random, then TPE.
    assert tpe._n_startup_trials == 3 and tpe._n_ei_candidates == 7
    assert tpe._parzen_estimator_parameters.prior_weight == 2.0
    assert tpe._gamma(100) == 5  # ceil(0.5 * sqrt(100))
    assert tpe._constant_liar
    mv = built("multivariate-tpe", {"n_startup_trials": "4"})
    assert isinstance(mv, optuna.samplers.TPESampler) and mv._multivariate and mv._n_startup_trials == 4


def test_non_numeric_objective_fails_the_suggestion_service(kit: Any) -> None:
    suggester = Suggester(experiment(kit, "random"))
    number, _ = suggester.ask()
    with pytest.raises(SuggestionFailed, match="could not convert objective value 'n/a' to float"):
        suggester.tell(number, "n/a")

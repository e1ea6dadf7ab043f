"""Katib algorithm names mapped to Optuna samplers, with each Katib service's setting validation."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np
import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from appliance.tuning.model import DOUBLE, INT, MAXIMIZE, Experiment, Parameter

# The `suggestions` list of the default katib-config (katib-standalone v0.19.0): any other name is
# rejected by Katib's validating webhook.
KATIB_ALGORITHMS = (
    "random",
    "tpe",
    "grid",
    "hyperband",
    "bayesianoptimization",
    "cmaes",
    "sobol",
    "multivariate-tpe",
    "enas",
    "darts",
    "pbt",
)
DISTRIBUTIONS = ("uniform", "logUniform", "normal", "logNormal", "unknown")

# hyperopt's TPE defaults (Katib routes `tpe` to its hyperopt service).
HYPEROPT_GAMMA = 0.25
HYPEROPT_LINEAR_FORGETTING = 25


def _int(value: str) -> int:
    return int(value)


def _float(value: str) -> float:
    return float(value)


def check_space(
    algorithm: str, parameters: Sequence[Parameter], max_trial_count: int | None
) -> list[str]:
    """What the service Katib routes `algorithm` to requires of the search space."""
    problems = []
    if algorithm == "cmaes":
        numeric = sum(1 for p in parameters if p.numeric)
        if numeric < 2:
            problems.append(
                f"spec.algorithm.algorithmName: cmaes only supports two or more dimensional "
                f"continuous search space (found {numeric} int/double "
                f"parameter{'s' if numeric != 1 else ''})"
            )
    if algorithm == "grid":
        problems += _check_grid(parameters, max_trial_count)
    return problems


def check_setting(algorithm: str, name: str, value: str) -> tuple[str, str]:
    """One setting: (problem, note). Rules follow the Katib service that serves the algorithm;
    algorithms whose service is not modelled here (bayesianoptimization, hyperband, ...) get none."""
    rules: dict[str, tuple[Callable[[str], Any], Callable[[Any], bool], str]]
    if algorithm == "random":  # hyperopt service
        rules = {"random_state": (_int, lambda v: v >= 0, "must be an integer >= 0")}
    elif algorithm == "tpe":  # hyperopt service
        rules = {
            "gamma": (_float, lambda v: 0 < v < 1, "must be a number in the range (0, 1)"),
            "prior_weight": (_float, lambda v: v > 0, "must be a number > 0"),
            "n_EI_candidates": (_int, lambda v: v > 0, "must be an integer > 0"),
            "random_state": (_int, lambda v: v >= 0, "must be an integer >= 0"),
        }
    elif algorithm == "multivariate-tpe":  # optuna service
        rules = {
            key: (_int, lambda v: v >= 0, "must be an integer >= 0")
            for key in ("n_startup_trials", "n_ei_candidates", "random_state")
        }
    elif algorithm == "grid":  # optuna service
        rules = {"random_state": (_int, lambda v: v >= 0, "must be an integer >= 0")}
    elif algorithm == "cmaes":  # goptuna service: reads three settings, ignores the rest
        if name == "restart_strategy":
            if value not in ("ipop", "bipop", "none"):
                return f"invalid restart_strategy: {value!r} (use ipop, bipop or none)", ""
            return "", ""
        rules = {
            "random_state": (_int, lambda v: True, "must be an integer"),
            "sigma": (_float, lambda v: v > 0, "must be a number > 0"),
        }
        if name not in rules:
            return "", f"setting {name!r} is ignored by Katib's cmaes service"
    elif algorithm == "sobol":  # goptuna service reads no settings
        if name == "random_state":
            try:
                _int(value)
            except ValueError:
                return f"failed to validate {name}({value}): must be an integer", ""
            return "", "sobol is deterministic; random_state only seeds categorical parameters"
        return "", f"setting {name!r} is ignored by Katib's sobol service"
    else:
        return "", ""
    if name not in rules:
        return f"unknown setting {name} for algorithm {algorithm}", ""
    convert, accept, requirement = rules[name]
    try:
        parsed = convert(value)
    except ValueError:
        return f"failed to validate {name}({value}): {requirement}", ""
    if not accept(parsed):
        return f"{name} {requirement} (got {value})", ""
    return "", ""


MAX_GRID_POINTS = 1_000_000  # a grid larger than this is never run to the end on a laptop


def _check_grid(parameters: Sequence[Parameter], max_trial_count: int | None) -> list[str]:
    problems = []
    for index, parameter in enumerate(parameters):
        if parameter.type == DOUBLE and not parameter.step:
            problems.append(
                f"spec.parameters[{index}].feasibleSpace.step: grid needs a step for double "
                f"parameter {parameter.name!r} (Katib: 'For discrete search space, all parameters "
                "must include step')"
            )
    if problems:
        return problems
    # Count before listing: a tiny step (1e-300) would otherwise ask numpy for 1e300 points.
    total = 1
    for index, parameter in enumerate(parameters):
        points = _grid_points(parameter)
        total *= points
        if points > MAX_GRID_POINTS or total > MAX_GRID_POINTS:
            problems.append(
                f"spec.parameters[{index}].feasibleSpace.step: the grid would have more than "
                f"{MAX_GRID_POINTS} points; use a larger step or a narrower range"
            )
            return problems
    count = grid_size(parameters)
    if max_trial_count is not None and max_trial_count > count:
        problems.append(
            f"spec.maxTrialCount: {max_trial_count} > all possible search combinations: {count} "
            "(grid cannot run more trials than grid points)"
        )
    return problems


def _grid_points(parameter: Parameter) -> int:
    """Points of one parameter's grid axis, computed without listing them (an upper bound for
    doubles, where the last point may be dropped)."""
    if parameter.type == INT:
        step = int(parameter.step) if parameter.step else 1
        return max(0, (int(parameter.max) - int(parameter.min)) // step + 1)
    if parameter.type == DOUBLE:
        span = (float(parameter.max) - float(parameter.min)) / float(parameter.step)
        return int(span) + 2 if math.isfinite(span) and span < 1e18 else 10**18
    return len(parameter.values)


def grid_values(parameters: Sequence[Parameter]) -> dict[str, list[Any]]:
    """Katib's grid: int range(min, max+1, step); double numpy arange, last point dropped if > max."""
    combos: dict[str, list[Any]] = {}
    for parameter in parameters:
        if parameter.type == INT:
            step = int(parameter.step) if parameter.step else 1
            combos[parameter.name] = list(range(int(parameter.min), int(parameter.max) + 1, step))
        elif parameter.type == DOUBLE:
            low, high, step_f = float(parameter.min), float(parameter.max), float(parameter.step)
            points = np.arange(low, high + step_f, step_f)
            if len(points) and points[-1] > high:
                points = points[:-1]
            # Python floats: the value substituted is repr(), e.g. 0.30000000000000004 as in Katib.
            combos[parameter.name] = [float(v) for v in points]
        else:
            combos[parameter.name] = list(parameter.values)
    return combos


def grid_size(parameters: Sequence[Parameter]) -> int:
    return math.prod(len(values) for values in grid_values(parameters).values())


def distributions(parameters: Sequence[Parameter]) -> dict[str, BaseDistribution]:
    """Katib's Optuna search space (pkg/suggestion/v1beta1/optuna/base_service.py)."""
    space: dict[str, BaseDistribution] = {}
    for parameter in parameters:
        log = parameter.distribution == "logUniform"
        if parameter.type == INT:
            low, high = int(parameter.min), int(parameter.max)
            if log:
                space[parameter.name] = IntDistribution(max(1, low), high, log=True, step=1)
            else:
                step = int(parameter.step) if parameter.step else 1
                space[parameter.name] = IntDistribution(low, high, step=step)
        elif parameter.type == DOUBLE:
            low_f, high_f = float(parameter.min), float(parameter.max)
            if log:
                space[parameter.name] = FloatDistribution(max(1e-10, low_f), high_f, log=True)
            else:
                step_f = float(parameter.step) if parameter.step else None
                with warnings.catch_warnings():
                    # Optuna narrows `high` to a multiple of step and warns; Katib does the same.
                    warnings.simplefilter("ignore")
                    space[parameter.name] = FloatDistribution(low_f, high_f, step=step_f)
        else:
            space[parameter.name] = CategoricalDistribution(list(parameter.values))
    return space


def _hyperopt_gamma(n: int, fraction: float) -> int:
    """hyperopt's split of 'good' trials: ceil(gamma * sqrt(n)), capped by linear forgetting."""
    return min(int(math.ceil(fraction * math.sqrt(n))), HYPEROPT_LINEAR_FORGETTING)


def sampler(experiment: Experiment) -> optuna.samplers.BaseSampler:
    """The Optuna sampler for the experiment's algorithm, configured from its settings."""
    algorithm = experiment.algorithm
    name = algorithm.name
    seed_text = algorithm.setting("random_state")
    seed = int(seed_text) if seed_text is not None else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ExperimentalWarning for multivariate and friends
        if name == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        if name == "tpe":
            gamma = float(algorithm.setting("gamma") or HYPEROPT_GAMMA)
            return optuna.samplers.TPESampler(
                seed=seed,
                # Katib's hyperopt service sets n_startup_jobs to the size of the first request.
                n_startup_trials=experiment.parallel_trial_count,
                n_ei_candidates=int(algorithm.setting("n_EI_candidates") or 24),
                prior_weight=float(algorithm.setting("prior_weight") or 1.0),
                gamma=partial(_hyperopt_gamma, fraction=gamma),
                constant_liar=True,
            )
        if name == "multivariate-tpe":
            return optuna.samplers.TPESampler(
                seed=seed,
                n_startup_trials=int(algorithm.setting("n_startup_trials") or 10),
                n_ei_candidates=int(algorithm.setting("n_ei_candidates") or 24),
                multivariate=True,
                constant_liar=True,
            )
        if name == "cmaes":
            sigma = algorithm.setting("sigma")
            return optuna.samplers.CmaEsSampler(
                seed=seed,
                sigma0=float(sigma) if sigma is not None else None,
                n_startup_trials=0,  # goptuna's CMA-ES starts sampling from the first trial
                warn_independent_sampling=False,
            )
        if name == "sobol":
            return optuna.samplers.QMCSampler(
                qmc_type="sobol", scramble=False, seed=seed, warn_independent_sampling=False
            )
        if name == "grid":
            return optuna.samplers.GridSampler(grid_values(experiment.parameters), seed=seed)
    raise ValueError(f"algorithm {name!r} has no local sampler")  # validation prevents this


def format_value(value: Any) -> str:
    """Assignments travel as strings: ints as digits, floats as Python repr, categories as is."""
    if isinstance(value, (bool, np.bool_)):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return str(value)


class SuggestionFailed(Exception):
    """The suggestion service could not produce or absorb a trial (Katib: 'Suggestion has failed')."""


class Suggester:
    """Katib's Optuna suggestion service in-process: ask with fixed distributions, tell by number."""

    def __init__(self, experiment: Experiment) -> None:
        optuna.logging.set_verbosity(optuna.logging.ERROR)
        self._parameters = experiment.parameters
        self._space = distributions(experiment.parameters)
        direction = (
            optuna.study.StudyDirection.MAXIMIZE
            if experiment.objective.type == MAXIMIZE
            else optuna.study.StudyDirection.MINIMIZE
        )
        self._study = optuna.create_study(sampler=sampler(experiment), direction=direction)

    def ask(self) -> tuple[int, tuple[tuple[str, str], ...]]:
        """A new suggestion: its Optuna trial number and the assignments, in spec order."""
        try:
            with warnings.catch_warnings():
                # GridSampler warns when a grid value sits past `high` (Katib's arange does that)
                # and when it re-issues points after the grid is exhausted; both are expected.
                warnings.simplefilter("ignore")
                trial = self._study.ask(fixed_distributions=self._space)
        except Exception as exc:  # any sampler error is a suggestion failure, as in Katib
            raise SuggestionFailed(f"{type(exc).__name__}: {exc}") from exc
        assignments = tuple(
            (p.name, format_value(trial.params[p.name])) for p in self._parameters
        )
        return trial.number, assignments

    def tell(self, number: int, value: str) -> None:
        """Feed back a Succeeded/EarlyStopped trial; a non-numeric value fails the service."""
        try:
            numeric = float(value)
        except ValueError as exc:
            raise SuggestionFailed(f"could not convert objective value {value!r} to float") from exc
        try:
            self._study.tell(number, numeric)
        except RuntimeError as exc:
            # GridSampler calls Study.stop() when the last grid point completes; outside
            # study.optimize that raises, but the trial is already recorded as COMPLETE.
            if "Study.stop" not in str(exc):
                raise SuggestionFailed(str(exc)) from exc

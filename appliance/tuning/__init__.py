"""Katib Experiment semantics run locally: parse, suggest with Optuna, run trials, report status."""

from appliance.tuning.engine import ExperimentResult, Progress, TuningEngine
from appliance.tuning.experiment import load, parse
from appliance.tuning.model import Experiment

__all__ = ["Experiment", "ExperimentResult", "Progress", "TuningEngine", "load", "parse"]

"""Katib Experiment semantics every target shares: parsing with Katib's defaulting and validation,
suggestion algorithms, metrics collection, early stopping, status, and the engine interface."""

from appliance.tuning.experiment import load, parse
from appliance.tuning.interface import TuningEngine
from appliance.tuning.model import Experiment
from appliance.tuning.result import ExperimentResult, Progress

__all__ = ["Experiment", "ExperimentResult", "Progress", "TuningEngine", "load", "parse"]

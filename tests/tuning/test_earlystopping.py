"""medianstop: its real defaults, its *mean* threshold, and the sidecar's start-step check."""

from __future__ import annotations

import pytest

from appliance.tuning import earlystopping, metrics
from appliance.tuning.earlystopping import MedianStop, RuleWatcher, StopRule
from appliance.tuning.metrics import MetricLog
from appliance.tuning.model import Algorithm, MetricStrategy, Objective, Setting

MAXIMIZE = Objective("maximize", "accuracy", strategies=(MetricStrategy("accuracy", "max"),))
MINIMIZE = Objective("minimize", "loss", strategies=(MetricStrategy("loss", "min"),))


def logs(*values: str, name: str = "accuracy") -> list[MetricLog]:
    return [MetricLog(name, v) for v in values]


def test_settings_validation() -> None:
    spec = Algorithm("medianstop", (Setting("min_trials_required", "0"), Setting("start_step", "0"),
                                    Setting("start_step", "x"), Setting("patience", "3")))
    base = "spec.earlyStopping.algorithmSettings"
    assert earlystopping.validate(spec) == [
        f"{base}[0]: min_trials_required must be greater than zero (>0) (got '0')",
        f"{base}[1]: start_step must be greater or equal than one (>=1) (got '0')",
        f"{base}[2]: start_step must be greater or equal than one (>=1) (got 'x')",
        f"{base}[3]: unknown setting patience for algorithm medianstop",
    ]
    assert earlystopping.validate(Algorithm("asha")) == [
        "spec.earlyStopping.algorithmName: unknown early stopping algorithm 'asha' (katib-config lists "
        "medianstop)"]


def test_defaults_are_three_trials_and_four_steps() -> None:
    median = MedianStop(Algorithm("medianstop"), MAXIMIZE)
    assert (median.min_trials_required, median.start_step) == (3, 4)
    median.record_succeeded("a", logs("0.1", "0.2", "0.3", "0.4", "0.99"))
    median.record_succeeded("b", logs("0.5", "0.5", "0.5", "0.5"))
    assert median.rules() == []  # two succeeded trials: not enough yet
    median.record_succeeded("c", logs("0.9"))
    # Averages of the first 4 values: 0.25, 0.5 and 0.9 (only one value); the rule is their MEAN
    # (0.55), not their median (0.5).
    (rule,) = median.rules()
    assert rule == StopRule("accuracy", str((0.25 + 0.5 + 0.9) / 3), "less", 4)
    assert float(rule.value) == pytest.approx(0.55)
    median.record_succeeded("a", logs("1", "1", "1", "1"))  # a trial is recorded once
    assert median.rules() == [rule]


def test_minimize_compares_greater_and_uses_time_order() -> None:
    median = MedianStop(Algorithm("medianstop", (Setting("min_trials_required", "1"),
                                                 Setting("start_step", "2"))), MINIMIZE)
    late = metrics.parse_text(["2024-01-01T00:00:09Z loss=9", "2024-01-01T00:00:01Z loss=1",
                               "2024-01-01T00:00:02Z loss=2"], ["loss"])
    median.record_succeeded("a", late)
    assert median.rules() == [StopRule("loss", "1.5", "greater", 2)]  # the two earliest: 1 and 2


def test_the_rule_is_checked_only_at_start_step_against_the_best_so_far() -> None:
    rule = StopRule("accuracy", "0.5", "less", 3)
    watcher = RuleWatcher([rule], MAXIMIZE, metrics.compile_filters([]))
    # Reports 1 and 2 only count down; report 3 compares the best so far (0.6) with 0.5: kept.
    assert [watcher.feed_line(f"accuracy={v}") for v in ("0.6", "0.1", "0.2")] == [False] * 3
    # Katib never checks the rule again once the count has passed zero, however bad it gets.
    assert [watcher.feed_line(f"accuracy={v}") for v in ("0.0", "0.0")] == [False, False]

    watcher = RuleWatcher([rule], MAXIMIZE, metrics.compile_filters([]))
    reports = ((1, "0.3"), (2, "0.4"))
    assert [watcher.feed_line(f"epoch={e} accuracy={v}") for e, v in reports] == [False, False]
    assert watcher.feed_line("no metric here") is False
    assert watcher.feed_line("epoch=3 accuracy=0.45") is True  # best 0.45 < 0.5 at report 3
    assert watcher.stopped


def test_greater_for_minimize_and_json_values() -> None:
    rule = StopRule("loss", "0.5", "greater", 1)
    watcher = RuleWatcher([rule], MINIMIZE, json_format=True)
    assert watcher.feed_line('{"loss": 0.9}') is False  # numbers are not metrics in JSON
    assert watcher.feed_line('not json') is False
    assert watcher.feed_line('{"loss": "0.9"}') is True


def test_no_rules_never_stop() -> None:
    watcher = RuleWatcher([], MAXIMIZE, metrics.compile_filters([]))
    assert not watcher.active and watcher.feed_line("accuracy=0") is False

"""The human report of a finished Experiment: its outcome, the best trial and one line per trial."""

from __future__ import annotations

from appliance.tuning.result import ExperimentResult


def summary(result: ExperimentResult) -> str:
    """A human report: the outcome, the best trial and one line per trial."""
    exp = result.experiment
    status = result.status
    condition = result.condition
    counts = [
        f"{status.get(key, 0)} {label}"
        for key, label in (("trialsSucceeded", "succeeded"), ("trialsFailed", "failed"),
                           ("trialsEarlyStopped", "early-stopped"),
                           ("trialMetricsUnavailable", "metrics unavailable"))
        if status.get(key)
    ]
    lines = [
        f"experiment {exp.name}: {condition.get('type')} ({condition.get('reason')}), "
        f"{status.get('trials', 0)} trials" + (f": {', '.join(counts)}" if counts else "")
    ]
    best = result.best
    if best.get("bestTrialName"):
        values = " ".join(f"{a['name']}={a['value']}" for a in best["parameterAssignments"])
        observed = " ".join(
            f"{m['name']}={m['latest']}" for m in best["observation"].get("metrics", [])
        )
        lines.append(f"best trial {best['bestTrialName']}: {observed} with {values}")
    names = [p.name for p in exp.parameters]
    header = ["TRIAL", "STATUS", *names, exp.objective.metric]
    rows = [header]
    for trial in result.trials:
        assignments = {a["name"]: a["value"] for a in trial["spec"]["parameterAssignments"]}
        terminal = [c for c in trial["status"]["conditions"] if c["status"] == "True"]
        state = terminal[-1]["type"] if terminal else "Pending"
        objective = ""
        for metric in trial["status"].get("observation", {}).get("metrics", []):
            if metric["name"] == exp.objective.metric:
                objective = metric["latest"]
        rows.append([trial["metadata"]["name"], state, *(assignments.get(n, "") for n in names),
                     objective])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    for trial in result.trials:
        for condition_item in trial["status"]["conditions"]:
            if condition_item["type"] == "Failed" and condition_item["status"] == "True":
                lines.append(f"{trial['metadata']['name']}: {condition_item['reason']}: "
                             f"{condition_item['message']}")
    return "\n".join(lines)



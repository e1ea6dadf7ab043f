"""The trial template: Katib's textual ${trialParameters.x} substitution and the Job's local process."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from appliance.tuning.model import Experiment, TrialParameter

PLACEHOLDER = re.compile(r"\$\{trialParameters\..+?\}")
META_REFERENCE = re.compile(r"\$\{trialSpec\.(.+?)\}")
META_INDEX = re.compile(r"(.+)\[(.+)]")
META_KEYS = ("Name", "Namespace", "Kind", "APIVersion", "Labels", "Annotations")

# The batch Job success/failure conditions Katib's mutating webhook fills in (GJSON).
JOB_SUCCESS_CONDITION = 'status.conditions.#(type=="Complete")#|#(status=="True")#'
JOB_FAILURE_CONDITION = 'status.conditions.#(type=="Failed")#|#(status=="True")#'
# ... and for Kubeflow training jobs (TFJob, PyTorchJob, ...).
KUBEFLOW_JOB_SUCCESS_CONDITION = 'status.conditions.#(type=="Succeeded")#|#(status=="True")#'
KUBEFLOW_JOB_FAILURE_CONDITION = JOB_FAILURE_CONDITION


class TemplateError(Exception):
    """The template could not be rendered for one trial (Katib cannot create that trial)."""


def placeholder(name: str) -> str:
    return "${trialParameters." + name + "}"


def template_text(trial_spec: Mapping[str, Any]) -> str:
    """The template serialised the way Katib does before substituting: compact JSON."""
    return json.dumps(trial_spec, separators=(",", ":"), ensure_ascii=False)


def meta_key(reference: str) -> tuple[str, str] | None:
    """('Labels', 'key') for '${trialSpec.Labels[key]}', ('Name', '') for '${trialSpec.Name}'."""
    match = META_REFERENCE.search(reference)
    if not match:
        return None
    key, index = match.group(1), ""
    if key not in META_KEYS:
        sub = META_INDEX.search(key)
        if not sub or sub.group(1) not in ("Labels", "Annotations"):
            return None
        key, index = sub.group(1), sub.group(2)
    return key, index


def meta_value(
    key: str, index: str, trial_spec: Mapping[str, Any], trial_name: str, namespace: str
) -> str | None:
    metadata = trial_spec.get("metadata") or {}
    if key == "Name":
        return trial_name
    if key == "Namespace":
        return namespace
    if key == "Kind":
        return str(trial_spec.get("kind", ""))
    if key == "APIVersion":
        return str(trial_spec.get("apiVersion", ""))
    values = metadata.get("labels" if key == "Labels" else "annotations") or {}
    value = values.get(index)
    return None if value is None else str(value)


def render(
    experiment: Experiment, assignments: Sequence[tuple[str, str]], trial_name: str
) -> dict[str, Any]:
    """The trial's run spec: placeholders replaced as raw text in the JSON, then name/namespace set."""
    return render_spec(
        experiment.trial_spec,
        experiment.trial_parameters,
        assignments,
        trial_name,
        experiment.namespace,
    )


def render_spec(
    trial_spec: Mapping[str, Any],
    trial_parameters: Sequence[TrialParameter],
    assignments: Sequence[tuple[str, str]],
    trial_name: str,
    namespace: str,
) -> dict[str, Any]:
    values = dict(assignments)
    replacements: dict[str, str] = {}
    non_meta = 0
    for parameter in trial_parameters:
        meta = meta_key(parameter.reference)
        if meta is None:
            if parameter.reference not in values:
                raise TemplateError(
                    f"unable to find parameter {parameter.reference!r} in the assignments"
                )
            replacements[parameter.name] = values[parameter.reference]
            non_meta += 1
            continue
        value = meta_value(meta[0], meta[1], trial_spec, trial_name, namespace)
        if value is None:
            raise TemplateError(f"illegal reference of trial metadata: {parameter.reference}")
        replacements[parameter.name] = value
    if non_meta != len(assignments):
        raise TemplateError(
            f"number of assignments {len(assignments)} != number of non-meta trialParameters "
            f"{non_meta}"
        )
    text = template_text(trial_spec)
    for name, value in replacements.items():
        text = text.replace(placeholder(name), value)
    try:
        rendered = json.loads(text)
    except json.JSONDecodeError as exc:
        # Katib substitutes raw text into JSON: a value with a quote or backslash breaks it.
        raise TemplateError(f"the substituted template is not valid JSON: {exc.msg}") from exc
    metadata = rendered.setdefault("metadata", {})
    metadata["name"] = trial_name
    metadata["namespace"] = namespace
    return dict(rendered)


@dataclass(frozen=True)
class ProcessSpec:
    """What the local target runs for a trial: the primary container of the Job's pod template."""

    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    working_dir: str = ""
    backoff_limit: int = 6  # Kubernetes' default for a Job
    active_deadline_seconds: int | None = None
    container: Mapping[str, Any] = field(default_factory=dict)


def expand(text: str, mapping: Mapping[str, str]) -> str:
    """Kubernetes $(VAR) expansion: defined names replaced, $$ escapes, unknown references kept."""
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "$" and i + 1 < len(text):
            following = text[i + 1]
            if following == "$":
                out.append("$")
                i += 2
                continue
            if following == "(":
                close = text.find(")", i + 2)
                if close != -1:
                    name = text[i + 2 : close]
                    out.append(mapping[name] if name in mapping else text[i : close + 1])
                    i = close + 1
                    continue
        out.append(char)
        i += 1
    return "".join(out)


def primary_container(job: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    pod = ((job.get("spec") or {}).get("template") or {}).get("spec") or {}
    for container in pod.get("containers") or []:
        if isinstance(container, Mapping) and container.get("name") == name:
            return container
    return None


def process_spec(run_spec: Mapping[str, Any], primary: str) -> ProcessSpec:
    """The primary container's command+args and env, expanded the way the kubelet does."""
    container = primary_container(run_spec, primary)
    if container is None:
        raise TemplateError(f"no container named {primary!r} in the trial's Job")
    env: dict[str, str] = {}
    for entry in container.get("env") or []:
        env[str(entry["name"])] = expand(str(entry.get("value", "")), env)
    argv = [expand(str(a), env) for a in (container.get("command") or [])]
    argv += [expand(str(a), env) for a in (container.get("args") or [])]
    job_spec = run_spec.get("spec") or {}
    backoff = job_spec.get("backoffLimit")
    deadline = job_spec.get("activeDeadlineSeconds")
    return ProcessSpec(
        argv=tuple(argv),
        env=tuple(env.items()),
        working_dir=str(container.get("workingDir") or ""),
        backoff_limit=6 if backoff is None else int(backoff),
        active_deadline_seconds=None if deadline is None else int(deadline),
        container=container,
    )

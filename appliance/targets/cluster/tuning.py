"""Tuning on a cluster: Katib v1beta1 Experiments created in the workload namespace and watched to
their end, with the same live progress and the same Katib-shaped result as the local engine.

Admission, before anything reaches the cluster: Katib's own validation (shared with every target;
none of the local target's refusals), then what this cluster cannot run: `spec.earlyStopping`
(Katib v0.19.0 gives its container no securityContext, which the workload namespace's Pod
Security `restricted` refuses: profiles/catalog.yaml, docs/profiles.md) and algorithms that
`katib-config` does not enable. Containers that run the stub trainer (`python -m stubs.train`)
run on the stack's stubs image with IfNotPresent, the restricted security context and the object
store's `AWS_*` from the workload Secret; every other container goes as written.
"""

from __future__ import annotations

import copy
import dataclasses
import shlex
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from appliance import safe_yaml
from appliance.errors import BadInput, MissingPrerequisite
from appliance.k8s.data import as_dict, as_list, conditions
from appliance.targets.cluster.apply import ApplyFailed, apply_admitted
from appliance.targets.cluster.client import ApiError, KubeClient, ObjRef
from appliance.targets.cluster.diagnosis import Diagnosis, condition_lines, event_lines
from appliance.targets.cluster.readiness import NotReady
from appliance.targets.cluster.settings import WORKLOAD_NAMESPACE, of_stack
from appliance.targets.cluster.wait import Clock, SystemClock, TimedOut, wait_for
from appliance.targets.cluster.workloads import RESTRICTED_CONTAINER, s3_env
from appliance.tuning import experiment as experiments
from appliance.tuning import metrics
from appliance.tuning.model import API_VERSION, Experiment
from appliance.tuning.result import ExperimentResult, Progress
from appliance.tuning.status import (
    EARLY_STOPPED,
    FAILED,
    KILLED,
    LABEL_EXPERIMENT,
    METRICS_UNAVAILABLE,
    PENDING,
    RUNNING,
    SUCCEEDED,
)

if TYPE_CHECKING:
    from appliance.stack import Stack

Obj = dict[str, Any]

KATIB_NAMESPACE = "katib"
KATIB_CONFIG = "katib-config"
KATIB_CONFIG_KEY = "katib-config.yaml"
POLL_SECONDS = 5.0
DEFAULT_TIMEOUT = 30 * 60.0
CREATE_TIMEOUT = 120.0  # Katib's webhooks serve once its controller wrote their certificate
DELETE_TIMEOUT = 120.0
STUB_TRAINER = ("-m", "stubs.train")
EARLY_STOPPING_WHY = (
    "Katib v0.19.0 gives the early-stopping container no securityContext, and the workload "
    "namespace enforces Pod Security restricted, so the experiment's suggestion pod would be refused "
    "(FailedCreate) and no trial would ever run (docs/profiles.md, kubeflow/katib#2613)")
# The status counters and the trial state each one counts (Katib's experiment status).
COUNTERS = {
    "trialsSucceeded": SUCCEEDED, "trialsFailed": FAILED, "trialsKilled": KILLED,
    "trialsEarlyStopped": EARLY_STOPPED, "trialMetricsUnavailable": METRICS_UNAVAILABLE,
    "trialsRunning": RUNNING, "trialsPending": PENDING,
}
TRIAL_STATES = (KILLED, FAILED, SUCCEEDED, EARLY_STOPPED, RUNNING, METRICS_UNAVAILABLE)


# --- katib-config ------------------------------------------------------------------------------------


def enabled_algorithms(client: KubeClient) -> tuple[str, ...]:
    """The suggestion algorithms the cluster's katib-config enables (runtime.suggestions)."""
    config_map = client.get(ObjRef("v1", "ConfigMap", KATIB_CONFIG, KATIB_NAMESPACE))
    if config_map is None:
        raise MissingPrerequisite(
            "Katib is not installed on this cluster",
            f"ConfigMap {KATIB_NAMESPACE}/{KATIB_CONFIG} not found",
            "start a stack whose profile includes tuning (e.g. --profile standard)")
    text = as_dict(config_map.get("data")).get(KATIB_CONFIG_KEY)
    try:
        # Bounded: on a kube target anyone with edit rights in `katib` writes this ConfigMap.
        config = safe_yaml.load(text, f"ConfigMap {KATIB_NAMESPACE}/{KATIB_CONFIG}") \
            if isinstance(text, str) else None
    except yaml.YAMLError as exc:
        config = None
        detail = f"{KATIB_CONFIG_KEY} is not YAML ({str(exc).splitlines()[0]})"
    except BadInput as exc:
        config = None
        detail = f"{KATIB_CONFIG_KEY} is refused: {exc.why}"
    else:
        detail = f"no {KATIB_CONFIG_KEY} key holding a KatibConfig"
    runtime = as_dict(as_dict(config).get("runtime"))
    suggestions = as_list(runtime.get("suggestions")) if config is not None else None
    if suggestions is None:
        raise MissingPrerequisite(
            f"ConfigMap {KATIB_NAMESPACE}/{KATIB_CONFIG} cannot be read", detail,
            "render and apply the profile again ('appliance up')")
    return tuple(str(as_dict(s).get("algorithmName")) for s in suggestions if as_dict(s).get("algorithmName"))


# --- preparing the manifest --------------------------------------------------------------------------


def _tokens(container: Mapping[str, Any]) -> list[str]:
    """The container's command and args as words (a `sh -c "python -m ..."` string split too)."""
    words: list[str] = []
    for item in [*as_list(container.get("command")), *as_list(container.get("args"))]:
        text = str(item)
        try:
            words += shlex.split(text) if any(c.isspace() for c in text) else [text]
        except ValueError:
            words.append(text)
    return words


def runs_stub_trainer(container: Mapping[str, Any]) -> bool:
    words = _tokens(container)
    return any(tuple(words[i:i + 2]) == STUB_TRAINER for i in range(len(words) - 1))


def _containers(node: Any) -> Iterator[dict[str, Any]]:
    """Every container of every pod template in a trial spec (Job, or a training job's replicas)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("containers", "initContainers") and isinstance(value, list):
                yield from (c for c in value if isinstance(c, dict))
            else:
                yield from _containers(value)
    elif isinstance(node, list):
        for item in node:
            yield from _containers(item)


def prepare(document: Obj, namespace: str, stubs_image: str) -> tuple[Obj, list[str]]:
    """The manifest to apply: in `namespace`, stub-trainer containers on the stubs image. Returns
    it and notes saying what changed."""
    out = copy.deepcopy(document)
    notes = []
    asked = out["metadata"].get("namespace")
    if asked not in (None, experiments.DEFAULT_NAMESPACE, namespace):
        notes.append(f"metadata.namespace {asked} -> {namespace} (the stack's workload namespace: its "
                     "network policies let trials reach the object store)")
    out["metadata"]["namespace"] = namespace
    trial_spec = as_dict(as_dict(out["spec"].get("trialTemplate")).get("trialSpec"))
    for container in _containers(trial_spec):
        if not runs_stub_trainer(container):
            continue
        name = container.get("name")
        if container.get("image") != stubs_image:
            notes.append(f"container {name}: image {container.get('image')} -> {stubs_image} "
                         "(it runs the stub trainer)")
        container["image"] = stubs_image
        container["imagePullPolicy"] = "IfNotPresent"
        context = container.setdefault("securityContext", {})
        for key, value in RESTRICTED_CONTAINER.items():
            context.setdefault(key, copy.deepcopy(value))
        env = container.setdefault("env", [])
        have = {as_dict(e).get("name") for e in env}
        env += [item for item in s3_env() if item["name"] not in have]
    return out, notes


# --- progress and result -----------------------------------------------------------------------------


def condition_of(obj: Obj) -> str:
    """The Experiment's state as a word: Succeeded or Failed once over, else the newest true one."""
    listed = [as_dict(c) for c in as_list(as_dict(obj.get("status")).get("conditions"))]
    true = [str(c.get("type")) for c in listed if c.get("status") == "True"]
    for final in (SUCCEEDED, FAILED):
        if final in true:
            return final
    return true[-1] if true else "Pending"


def progress_of(exp: Experiment, obj: Obj) -> Progress:
    """The local engine's progress snapshot, read from the Experiment's status."""
    status = as_dict(obj.get("status"))
    count = {state: int(status.get(field) or 0) for field, state in COUNTERS.items()}
    best = as_dict(status.get("currentOptimalTrial"))
    best_name = str(best.get("bestTrialName") or "")
    observed = as_list(as_dict(best.get("observation")).get("metrics"))
    return Progress(
        experiment=exp.name,
        condition=condition_of(obj),
        trials=int(status.get("trials") or 0),
        done=sum(count[s] for s in (SUCCEEDED, FAILED, KILLED, EARLY_STOPPED, METRICS_UNAVAILABLE)),
        running=count[RUNNING] + count[PENDING],
        succeeded=count[SUCCEEDED],
        failed=count[FAILED],
        early_stopped=count[EARLY_STOPPED],
        metrics_unavailable=count[METRICS_UNAVAILABLE],
        best_trial=best_name,
        best_value=metrics.objective_value(observed, exp.objective) if best_name and observed else "",
        metric=exp.objective.metric,
    )


def clean(obj: Obj) -> Obj:
    """An object as `kubectl get -o yaml` shows it, minus managedFields."""
    meta = {k: v for k, v in as_dict(obj.get("metadata")).items() if k != "managedFields"}
    return {**obj, "metadata": meta}


def trial_state(trial: Obj) -> tuple[str, str]:
    """(state, "reason: message") of a Trial from its conditions, in Katib's priority."""
    found = conditions(trial)
    for state in TRIAL_STATES:
        cond = found.get(state)
        if cond is not None and cond.get("status") == "True":
            detail = ": ".join(str(x) for x in (cond.get("reason"), cond.get("message")) if x)
            return state, detail
    return PENDING, ""


# --- the engine --------------------------------------------------------------------------------------


@dataclasses.dataclass
class ClusterTuningEngine:
    """A TuningEngine (appliance/tuning/interface.py) over Katib on a cluster."""

    client: KubeClient
    clock: Clock
    stubs_image: str
    namespace: str = WORKLOAD_NAMESPACE
    timeout: float = DEFAULT_TIMEOUT
    interval: float = POLL_SECONDS
    create_timeout: float = CREATE_TIMEOUT
    delete_timeout: float = DELETE_TIMEOUT

    def admit(self, experiment: Experiment | Mapping[str, Any] | str | Path) -> Experiment:
        """Katib's validation, then this cluster's refusals; the Experiment as it will be applied."""
        if isinstance(experiment, Experiment):
            data, source = experiment.document(), f"experiment {experiment.name}"
        elif isinstance(experiment, Mapping):
            name = as_dict(experiment.get("metadata")).get("name")
            data, source = dict(experiment), f"experiment {name}" if isinstance(name, str) else "<experiment>"
        else:
            data, source = experiments.read(experiment), str(experiment)
        exp = experiments.validate(data, source).result()
        if exp.early_stopping is not None:
            raise BadInput(
                f"{source}: spec.earlyStopping ({exp.early_stopping.name}) cannot run on this cluster",
                EARLY_STOPPING_WHY,
                "remove spec.earlyStopping, or run the experiment on the local target")
        enabled = enabled_algorithms(self.client)
        if exp.algorithm.name not in enabled:
            raise BadInput(
                f"{source}: spec.algorithm.algorithmName: {exp.algorithm.name!r} is not enabled in "
                "this cluster's Katib",
                f"katib-config (ConfigMap {KATIB_NAMESPACE}/{KATIB_CONFIG}) enables "
                f"{', '.join(enabled) or 'no algorithm'}",
                "use one of those, or add a suggestion for it to katib-config")
        document, notes = prepare(exp.document(), self.namespace, self.stubs_image)
        prepared = experiments.validate(document, source).result()
        return dataclasses.replace(prepared, notes=(*notes, *prepared.notes))

    def run(
        self,
        experiment: Experiment | Mapping[str, Any] | str | Path,
        progress: Callable[[Progress], None] | None = None,
        *,
        timeout: float | None = None,
    ) -> ExperimentResult:
        exp = self.admit(experiment)
        ref = ObjRef(API_VERSION, "Experiment", exp.name, exp.namespace)
        self._remove_previous(ref)
        self._create(exp)
        try:
            found = self._wait(exp, ref, progress, self.timeout if timeout is None else timeout)
        except KeyboardInterrupt:
            # As the local engine stops its trials: the Experiment goes, and its Trials with it.
            self.client.delete(ref)
            raise
        return ExperimentResult(experiment=exp, document=clean(found),
                                trials=[clean(t) for t in self._trials(exp)])

    # -- steps ---------------------------------------------------------------------------------------

    def _remove_previous(self, ref: ObjRef) -> None:
        """A rerun replaces the Experiment of the same name, as the local engine replaces its work
        dir (Katib keeps one object per name and refuses most spec changes)."""
        if not self.client.delete(ref):
            return

        def gone() -> str | None:
            return None if self.client.get(ref) is None else f"{ref} is still being deleted"

        wait_for(gone, what=f"the previous {ref} to be deleted", timeout=self.delete_timeout,
                 interval=self.interval, clock=self.clock)

    def _create(self, exp: Experiment) -> None:
        try:
            apply_admitted(self.client, exp.document(), self.clock, timeout=self.create_timeout,
                           interval=self.interval)
        except ApplyFailed as exc:
            if "denied the request" in exc.error.message:
                raise BadInput(f"Katib refused experiment {exp.name}", exc.error.message,
                               experiments.KATIB_FIX) from None
            raise

    def _trials(self, exp: Experiment) -> list[Obj]:
        found = self.client.list(API_VERSION, "Trial", exp.namespace, {LABEL_EXPERIMENT: exp.name})
        return sorted(found, key=lambda t: str(as_dict(t.get("metadata")).get("name")))

    def _wait(self, exp: Experiment, ref: ObjRef, progress: Callable[[Progress], None] | None,
              timeout: float) -> Obj:
        last: list[Progress | None] = [None]
        current: list[Obj] = [{}]

        def finished() -> str | None:
            obj = self.client.get(ref)
            if obj is None:
                return f"{ref} is gone (deleted by someone else?)"
            current[0] = obj
            snapshot = progress_of(exp, obj)
            if progress is not None and snapshot != last[0]:
                progress(snapshot)
            last[0] = snapshot
            if snapshot.condition in (SUCCEEDED, FAILED):
                return None
            return (f"experiment {exp.name}: {snapshot.condition}, {snapshot.done} of "
                    f"{snapshot.trials} trials done, {snapshot.running} running")

        try:
            wait_for(finished, what=f"experiment {exp.name}", timeout=timeout,
                     interval=self.interval, clock=self.clock)
        except TimedOut as exc:
            diagnosis = self._diagnose(exp, current[0], exc.waiting)
            # As on Ctrl-C and on the local target: nothing keeps running behind the user's back.
            self.client.delete(ref)
            raise NotReady(
                f"experiment {exp.name} did not finish in {timeout:.0f}s; it was deleted with its "
                "trials (a larger --timeout gives it longer)", [diagnosis]) from None
        return current[0]

    def _diagnose(self, exp: Experiment, obj: Obj, waiting: str) -> Diagnosis:
        """The Experiment's conditions, each Trial's state and the warnings about them (a trial's
        Job refused by Pod Security shows up here, as a FailedCreate event)."""
        trials = self._trials(exp)
        lines = []
        names = {exp.name}
        for trial in trials:
            name = str(as_dict(trial.get("metadata")).get("name"))
            names.add(name)
            state, detail = trial_state(trial)
            lines.append(f"trial {name}: {state}" + (f" ({detail})" if detail else ""))
        try:
            events = [e for e in self.client.events(exp.namespace)
                      if any(str(as_dict(e.get("involvedObject")).get("name")).startswith(n) for n in names)]
        except ApiError as error:
            events, lines = [], [*lines, f"(events unavailable: {error.message})"]
        return Diagnosis(f"Experiment {exp.namespace}/{exp.name}", waiting,
                         conditions=condition_lines(obj), pods=tuple(lines), events=event_lines(events))


def engine(stack: Stack, client: KubeClient | None = None, clock: Clock | None = None) -> ClusterTuningEngine:
    """The factory a kind/kube target declares (`Engines(tuning=engine)`): settings from the
    stack's state, the client from its kubeconfig; tests pass a client and a clock."""
    from appliance.targets.cluster.official import OfficialClient

    settings = of_stack(stack.name, stack.run_dir)
    return ClusterTuningEngine(
        client=client or OfficialClient.from_kubeconfig(settings.kubeconfig, settings.context,
                                                      stack.run_dir / "discovery-cache.json"),
        clock=clock or SystemClock(),
        stubs_image=settings.stubs_image,
        namespace=settings.workload_namespace,
    )

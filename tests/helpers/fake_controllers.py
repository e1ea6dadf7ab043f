"""Controllers the engine tests plug into FakeCluster (kind.md §7.5 item 6), and a fake forwarder.

- FakeKatib: Katib's Experiment controller. Created on the first tick, Running on the next, then
  trials as Katib makes them (parallelTrialCount at a time, replacements as trials end, no new
  trial once the experiment is over), suggestions from the same Optuna samplers the local engine
  uses, and each trial's outcome computed from the stub trainer's known accuracy function
  (stubs/train.py) over the trial's rendered command: exact, deterministic results. A trial's Job
  is created and its pod checked against the namespace's Pod Security level; a refused pod
  leaves the trial Running with a FailedCreate event on the Job, as on a cluster.
- FakeKServe: KServe's InferenceService controller in Standard mode: a predictor Deployment
  `<name>-predictor` (with the storage-initializer init container that KServe's pod webhook
  injects: the ClusterStorageContainer's container, the S3 env from the ServiceAccount's Secret)
  and a Service, rolled by FakeCluster's Deployment controller (surge 1, none unavailable: the
  old pod terminates after the new one is Ready), and the InferenceService status propagated
  from the Deployment's Available condition one tick later, as KServe's reconciler does.
- FakeForwards: the Forwards seam (appliance/targets/cluster/serving.py) routing to the oldest
  Ready, non-terminating pod behind a Service; `served_version` reads the model version that pod
  serves (the strictest choice while old and new pods are both Ready).

Time is FakeCluster's virtual clock; nothing here sleeps, spawns or opens a port.
"""

from __future__ import annotations

import argparse
import base64
import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from fake_cluster import FakeCluster, psa_message

from appliance.serving.endpoint import Endpoint
from appliance.targets.cluster.client import ObjRef
from appliance.targets.cluster.workloads import workload_objects
from appliance.targets.local.tuning.engine import trial_name
from appliance.tuning import experiment as experiments
from appliance.tuning import metrics, template
from appliance.tuning.algorithms import Suggester, SuggestionFailed
from appliance.tuning.model import UNAVAILABLE, Experiment
from appliance.tuning.status import (
    CREATED_REASON,
    FAILED,
    FAILED_REASON,
    MESSAGES,
    METRICS_UNAVAILABLE,
    RUNNING,
    RUNNING_REASON,
    SUCCEEDED,
    SUGGESTION_FAILED_MESSAGE,
    Conditions,
    TrialRecord,
    decide,
    experiment_status,
    summarize,
)
from stubs import train

Obj = dict[str, Any]
WORKLOADS = "appliance-workloads"
KATIB_API = "kubeflow.org/v1beta1"
ISVC_API = "serving.kserve.io/v1beta1"
KATIB_MANAGER = "katib-controller"
KSERVE_MANAGER = "kserve-controller"
KATIB_IMAGES = {
    "random": "ghcr.io/kubeflow/katib/suggestion-hyperopt:v0.19.0",
    "tpe": "ghcr.io/kubeflow/katib/suggestion-hyperopt:v0.19.0",
    "grid": "ghcr.io/kubeflow/katib/suggestion-optuna:v0.19.0",
    "cmaes": "ghcr.io/kubeflow/katib/suggestion-goptuna:v0.19.0",
}
RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "v1.32",
}
# The workload users' keys (object_store.WORKLOAD_USERS) as the bring-up puts them in Secrets.
TUNING_KEYS = ("appliance-tuning", "tuning-secret-key")
SERVING_KEYS = ("appliance-serving", "serving-secret-key")


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _all(cluster: FakeCluster, group: str, kind: str) -> list[Obj]:
    """Stored objects of a kind, read as a controller's informer would (not recorded in `calls`)."""
    return [obj for (g, k, _ns, _n), obj in sorted(cluster._objects.items()) if (g, k) == (group, kind)]


def _find(cluster: FakeCluster, group: str, kind: str, ns: str, name: str) -> Obj | None:
    return cluster._objects.get((group, kind, ns, name))


def crd(group: str, version: str, kind: str, plural: str, scope: str = "Namespaced") -> Obj:
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {"group": group, "scope": scope,
                 "names": {"kind": kind, "plural": plural, "singular": kind.lower(),
                           "listKind": f"{kind}List"},
                 "versions": [{"name": version, "served": True, "storage": True,
                               "subresources": {"status": {}},
                               "schema": {"openAPIV3Schema": {
                                   "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]},
    }


def namespace(name: str, labels: dict[str, str]) -> Obj:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": dict(labels)}}


def katib_config(algorithms: tuple[str, ...]) -> Obj:
    """ConfigMap katib/katib-config in the rendered bundle's format (a KatibConfig document)."""
    config = {
        "apiVersion": "config.kubeflow.org/v1beta1", "kind": "KatibConfig",
        "init": {"certGenerator": {"enable": True},
                 "controller": {"webhookPort": 8443, "trialResources": ["Job.v1.batch"],
                                "injectSecurityContext": True}},
        "runtime": {
            "metricsCollectors": [{"kind": "StdOut",
                                   "image": "ghcr.io/kubeflow/katib/file-metrics-collector:v0.19.0"}],
            "suggestions": [{"algorithmName": a, "image": KATIB_IMAGES.get(a, f"suggestion-{a}:v0.19.0")}
                            for a in algorithms],
            "earlyStoppings": [{"algorithmName": "medianstop",
                                "image": "ghcr.io/kubeflow/katib/earlystopping-medianstop:v0.19.0"}],
        },
    }
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "katib-config", "namespace": "katib"},
            "data": {"katib-config.yaml": yaml.safe_dump(config, sort_keys=False)}}


def _controller(name: str, ns: str, image: str) -> list[Obj]:
    """A controller Deployment and its webhook Service (restricted, small)."""
    container = {"name": "manager", "image": image, "imagePullPolicy": "IfNotPresent",
                 "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
                 "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                                     "runAsNonRoot": True, "runAsUser": 65532,
                                     "seccompProfile": {"type": "RuntimeDefault"}}}
    return [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns},
         "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                  "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
         "spec": {"selector": {"app": name},
                  "ports": [{"name": "webhook", "port": 443, "targetPort": 8443}]}},
    ]


def _webhook(config: str, hook: str, service: str, ns: str, group: str, version: str, plural: str) -> Obj:
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": config},
            "webhooks": [{"name": hook, "admissionReviewVersions": ["v1"], "sideEffects": "None",
                          "failurePolicy": "Fail",
                          "clientConfig": {"service": {"name": service, "namespace": ns,
                                                       "path": f"/validate-{plural}"}},
                          "rules": [{"apiGroups": [group], "apiVersions": [version],
                                     "operations": ["CREATE", "UPDATE"], "resources": [plural]}]}]}


def install_workloads(cluster: FakeCluster) -> None:
    """The workload namespace as the bundle renders it, with the S3 Secrets and ServiceAccount."""
    labels = {**RESTRICTED, "app.kubernetes.io/managed-by": "appliance",
              "katib.kubeflow.org/metrics-collector-injection": "enabled"}
    cluster.apply([namespace(WORKLOADS, labels)])
    cluster.apply(workload_objects(TUNING_KEYS, SERVING_KEYS, namespace=WORKLOADS))


def _established(cluster: FakeCluster, names: list[str]) -> bool:
    for name in names:
        found = cluster.get(ObjRef("apiextensions.k8s.io/v1", "CustomResourceDefinition", name))
        conditions = _l(_d(_d(found).get("status")).get("conditions"))
        if not any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions):
            return False
    return True


def install_katib(cluster: FakeCluster, algorithms: tuple[str, ...] = ("random", "tpe", "grid"), *,
                  webhook: bool = True, ready: bool = True, trial_seconds: float = 10.0) -> FakeKatib:
    """Katib: CRDs, katib-config and (with `webhook`) the controller whose validating webhook
    refuses Experiments until it serves with its certificate. `ready` waits until it does."""
    crds = [crd("kubeflow.org", "v1beta1", "Experiment", "experiments"),
            crd("kubeflow.org", "v1beta1", "Trial", "trials")]
    cluster.apply([namespace("katib", RESTRICTED), *crds, katib_config(algorithms)])
    if webhook:
        cluster.apply(_controller("katib-controller", "katib",
                                  "ghcr.io/kubeflow/katib/katib-controller:v0.19.0"))
        cluster.apply([_webhook("katib.kubeflow.org", "validator.experiment.katib.kubeflow.org",
                                "katib-controller", "katib", "kubeflow.org", "v1beta1", "experiments")])
        cluster.ca_injectors["katib/katib-controller"] = ["katib.kubeflow.org"]
    katib = FakeKatib(trial_seconds=trial_seconds)
    cluster.controllers.append(katib)
    cluster.run_until(lambda: _established(cluster, [c["metadata"]["name"] for c in crds]))
    if webhook and ready:
        cluster.run_until(lambda: cluster._webhook_refusal(
            {"apiVersion": KATIB_API, "kind": "Experiment", "metadata": {"namespace": WORKLOADS}},
            "experiments", "CREATE") is None)
    return katib


def storage_container() -> Obj:
    """ClusterStorageContainer/default as the catalog patches it (restricted, small)."""
    return {"apiVersion": "serving.kserve.io/v1alpha1", "kind": "ClusterStorageContainer",
            "metadata": {"name": "default"},
            "spec": {"container": {"name": "storage-initializer",
                                   "image": "kserve/storage-initializer:v0.20.0",
                                   "imagePullPolicy": "IfNotPresent",
                                   "resources": {"requests": {"cpu": "50m", "memory": "128Mi"},
                                                 "limits": {"cpu": "500m", "memory": "512Mi"}},
                                   "securityContext": {"allowPrivilegeEscalation": False,
                                                       "capabilities": {"drop": ["ALL"]},
                                                       "runAsNonRoot": True,
                                                       "seccompProfile": {"type": "RuntimeDefault"}}},
                     "supportedUriFormats": [{"prefix": "s3://"}], "workloadType": "initContainer"}}


def install_kserve(cluster: FakeCluster, *, webhook: bool = True, ready: bool = True) -> FakeKServe:
    """KServe: CRDs, the ClusterStorageContainer and (with `webhook`) the controller whose
    validating webhook refuses InferenceServices until it serves."""
    crds = [crd("serving.kserve.io", "v1beta1", "InferenceService", "inferenceservices"),
            crd("serving.kserve.io", "v1alpha1", "ClusterStorageContainer", "clusterstoragecontainers",
                "Cluster")]
    cluster.apply([namespace("kserve", RESTRICTED), *crds])
    cluster.run_until(lambda: _established(cluster, [c["metadata"]["name"] for c in crds]))
    cluster.apply([storage_container()])
    if webhook:
        objects = _controller("kserve-webhook-server-service", "kserve", "kserve/kserve-controller:v0.20.0")
        cluster.apply(objects)
        config = _webhook("inferenceservice.serving.kserve.io",
                          "inferenceservice.kserve-webhook-server.validator", "kserve-webhook-server-service",
                          "kserve", "serving.kserve.io", "v1beta1", "inferenceservices")
        config["webhooks"][0]["clientConfig"]["caBundle"] = "Y2E="  # KServe's CA comes with the install
        cluster.apply([config])
    kserve = FakeKServe()
    cluster.controllers.append(kserve)
    if webhook and ready:
        cluster.run_until(lambda: cluster._webhook_refusal(
            {"apiVersion": ISVC_API, "kind": "InferenceService", "metadata": {"namespace": WORKLOADS}},
            "inferenceservices", "CREATE") is None)
    return kserve


# --- Katib -------------------------------------------------------------------------------------------


def run_stub_trainer(argv: tuple[str, ...]) -> tuple[str, bool]:
    """What `python -m stubs.train ARGS` prints on stdout and whether it exits 0, computed from the
    trainer's own functions (no process: the dataset is not read)."""
    words = list(argv)
    if "stubs.train" not in words:
        return "", False
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--lr", type=float)
    parser.add_argument("--depth", type=int)
    parser.add_argument("--epochs", type=int, default=train.DEFAULT_EPOCHS)
    parser.add_argument("--fail-after-epoch", type=int, default=None)
    try:
        args, _ = parser.parse_known_args(words[words.index("stubs.train") + 1:])
        rows = train.epoch_metrics(args.lr, args.depth, args.epochs)
    except (SystemExit, train.StubError, TypeError):
        return "", False
    lines = []
    for epoch, accuracy, loss in rows:
        if args.fail_after_epoch == 0:
            break
        lines.append(train.format_metrics(epoch, accuracy, loss))
        if args.fail_after_epoch == epoch:
            break
    return "\n".join(lines) + "\n", args.fail_after_epoch is None


def _condition(kind: str, status: str, reason: str, message: str, now: str) -> dict[str, str]:
    return {"type": kind, "status": status, "reason": reason, "message": message,
            "lastUpdateTime": now, "lastTransitionTime": now}


def _set(items: list[dict[str, str]], kind: str, status: str, reason: str, message: str, now: str) -> None:
    for item in items:
        if item["type"] == kind:
            if item["status"] != status:
                item["lastTransitionTime"] = now
            item.update(status=status, reason=reason, message=message, lastUpdateTime=now)
            return
    items.append(_condition(kind, status, reason, message, now))


@dataclass
class _Trial:
    record: TrialRecord
    started: float
    blocked: str = ""  # the Pod Security refusal of its pod, if any


@dataclass
class _Run:
    exp: Experiment
    suggester: Suggester
    start: str
    conditions: list[dict[str, str]] = field(default_factory=list)
    trials: list[_Trial] = field(default_factory=list)
    tells: list[tuple[int, str]] = field(default_factory=list)
    completion: str = ""
    running: bool = False


# Runs a trial's primary container: (namespace, the container as template.process_spec gives it)
# -> (its output, whether it exited 0). The integration tier runs it as a process.
Trainer = Callable[[str, template.ProcessSpec], tuple[str, bool]]


@dataclass
class FakeKatib:
    """Katib's Experiment and Trial controllers for Job trials that run the stub trainer."""

    trial_seconds: float = 10.0
    runs: dict[str, _Run] = field(default_factory=dict)  # experiment uid -> state
    # None: the stub trainer's output is computed from its functions (nothing runs, nothing is
    # written to the object store).
    trainer: Trainer | None = None

    def __call__(self, cluster: FakeCluster) -> None:
        experiment_objects = _all(cluster, "kubeflow.org", "Experiment")
        for stored in experiment_objects:
            uid = stored["metadata"]["uid"]
            run = self.runs.get(uid)
            now = cluster._timestamp()
            if run is None:
                exp = experiments.parse(copy.deepcopy(stored), "fake-katib")
                run = self.runs[uid] = _Run(exp, Suggester(exp), now)
                _set(run.conditions, "Created", "True", CREATED_REASON, MESSAGES[CREATED_REASON], now)
                stored["status"] = {"startTime": now, "conditions": copy.deepcopy(run.conditions)}
                continue
            self._reconcile(cluster, run, stored, now)
        uids = {o["metadata"]["uid"] for o in experiment_objects}
        for uid in [u for u in self.runs if u not in uids]:
            del self.runs[uid]

    def _reconcile(self, cluster: FakeCluster, run: _Run, stored: Obj, now: str) -> None:
        exp = run.exp
        for trial in run.trials:
            if not trial.record.completed and not trial.blocked and \
                    cluster.now - trial.started >= self.trial_seconds:
                self._finish(run, trial, now)
        summary = summarize([t.record for t in run.trials], exp)
        if not run.completion:
            decision = decide(summary, exp)
            if decision is None:
                _set(run.conditions, RUNNING, "True", RUNNING_REASON, MESSAGES[RUNNING_REASON], now)
                self._create(cluster, run, stored, summary, now)
            else:
                kind, reason, message = decision
                self._complete(run, kind, reason, message, now)
        summary = summarize([t.record for t in run.trials], exp)
        status = experiment_status(Conditions(), summary, run.start, run.completion)
        status["lastReconcileTime"] = now
        status["conditions"] = copy.deepcopy(run.conditions)
        stored["status"] = status
        for trial in run.trials:
            obj = _find(cluster, "kubeflow.org", "Trial", exp.namespace, trial.record.name)
            if obj is not None:
                obj["status"] = trial.record.to_dict(exp)["status"]

    def _complete(self, run: _Run, kind: str, reason: str, message: str, now: str) -> None:
        if not any(c["type"] == RUNNING for c in run.conditions):
            _set(run.conditions, RUNNING, "True", RUNNING_REASON, MESSAGES[RUNNING_REASON], now)
        running = next(c for c in run.conditions if c["type"] == RUNNING)
        _set(run.conditions, RUNNING, "False", running["reason"], running["message"], now)
        _set(run.conditions, kind, "True", reason, message, now)
        run.completion = now

    def _create(self, cluster: FakeCluster, run: _Run, exp_obj: Obj, summary: Any, now: str) -> None:
        """Katib's ReconcileTrials: keep min(parallel, maxTrialCount - ended) trials active."""
        exp = run.exp
        ended = sum(summary.count(s) for s in (SUCCEEDED, FAILED, "Killed", "EarlyStopped"))
        required = exp.parallel_trial_count
        if exp.max_trial_count is not None:
            required = min(required, exp.max_trial_count - ended)
        for _ in range(max(0, required - summary.active)):
            try:
                while run.tells:
                    run.suggester.tell(*run.tells.pop(0))
                number, assignments = run.suggester.ask()
            except SuggestionFailed:
                self._complete(run, FAILED, FAILED_REASON, SUGGESTION_FAILED_MESSAGE, now)
                return
            self._start(cluster, run, exp_obj, number, assignments, now)

    def _start(self, cluster: FakeCluster, run: _Run, exp_obj: Obj, number: int,
               assignments: tuple[tuple[str, str], ...], now: str) -> None:
        exp = run.exp
        name = trial_name(exp.name, len(run.trials), {t.record.name for t in run.trials})
        run_spec = template.render(exp, assignments, name)
        conditions = Conditions()
        conditions.items = [_condition("Created", "True", "TrialCreated", "Trial is created", now),
                            _condition(RUNNING, "True", "TrialRunning", "Trial is running", now)]
        record = TrialRecord(name, len(run.trials), assignments, run_spec, suggestion=number,
                             conditions=conditions, start_time=now)
        owner = {"apiVersion": KATIB_API, "kind": "Experiment", "name": exp.name,
                 "uid": exp_obj["metadata"]["uid"], "controller": True}
        trial_obj = record.to_dict(exp)
        trial_obj.pop("status")
        trial_obj["metadata"]["ownerReferences"] = [owner]
        created = cluster._apply(trial_obj, KATIB_MANAGER, force=True)
        job = {"apiVersion": "batch/v1", "kind": "Job",
               "metadata": {"name": name, "namespace": exp.namespace,
                            "labels": {"katib.kubeflow.org/trial": name},
                            "ownerReferences": [{"apiVersion": KATIB_API, "kind": "Trial", "name": name,
                                                 "uid": created["metadata"]["uid"], "controller": True}]},
               "spec": run_spec.get("spec", {})}
        job_obj = cluster._apply(job, KATIB_MANAGER, force=True)
        trial = _Trial(record, cluster.now)
        ns_obj = _d(_find(cluster, "", "Namespace", "", exp.namespace))
        ns_labels = _d(_d(ns_obj.get("metadata")).get("labels"))
        level = ns_labels.get("pod-security.kubernetes.io/enforce")
        if level in ("baseline", "restricted"):
            pod = {"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": f"{name}-pod", "namespace": exp.namespace},
                   "spec": _d(_d(_d(run_spec.get("spec")).get("template")).get("spec"))}
            version = str(ns_labels.get("pod-security.kubernetes.io/enforce-version") or "latest")
            refusal = psa_message(pod, level, version)
            if refusal:
                trial.blocked = refusal
                cluster.event(job_obj, "FailedCreate", f"Error creating: {refusal}")
        run.trials.append(trial)

    def _finish(self, run: _Run, trial: _Trial, now: str) -> None:
        """The trial's Job ended: its outcome is the stub trainer's on the rendered command."""
        exp, record = run.exp, trial.record
        spec = template.process_spec(record.run_spec, exp.primary_container)
        stdout, ok = self.trainer(exp.namespace, spec) if self.trainer else run_stub_trainer(spec.argv)
        items = record.conditions.items
        running = next(c for c in items if c["type"] == RUNNING)
        _set(items, RUNNING, "False", running["reason"], running["message"], now)
        record.completion_time = now
        if not ok:
            _set(items, FAILED, "True", "TrialFailed. Job reason: BackoffLimitExceeded",
                 "Trial has failed. Job message: Job has reached the specified backoff limit", now)
            return
        record.logs = metrics.collect(stdout, exp.collector, exp.objective.metric_names)
        record.observation = metrics.observation(record.logs, exp.objective)
        if metrics.observation_available(record.observation, exp.objective):
            _set(items, SUCCEEDED, "True", "TrialSucceeded", "Trial has succeeded", now)
            value = record.objective_value(exp)
            if value != UNAVAILABLE:
                run.tells.append((record.suggestion, value))
        else:
            _set(items, METRICS_UNAVAILABLE, "True", "MetricsUnavailable", "Metrics are not available", now)


# --- KServe ------------------------------------------------------------------------------------------


def _secret_env(cluster: FakeCluster, ns: str, account: str) -> list[Obj]:
    """KServe's credential builder (pkg/credentials/s3): the ServiceAccount's S3 Secret as env."""
    sa = _find(cluster, "", "ServiceAccount", ns, account)
    for ref in _l(_d(sa).get("secrets")):
        secret = _find(cluster, "", "Secret", ns, str(_d(ref).get("name")))
        annotations = _d(_d(_d(secret).get("metadata")).get("annotations"))
        endpoint = annotations.get("serving.kserve.io/s3-endpoint")
        if secret is None or endpoint is None:
            continue
        name = secret["metadata"]["name"]
        https = annotations.get("serving.kserve.io/s3-usehttps")
        env = [{"name": key, "valueFrom": {"secretKeyRef": {"name": name, "key": key}}}
               for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")]
        if https is not None:
            env.append({"name": "S3_USE_HTTPS", "value": https})
        env += [{"name": "S3_ENDPOINT", "value": endpoint},
                {"name": "AWS_ENDPOINT_URL", "value": f"{'http' if https == '0' else 'https'}://{endpoint}"}]
        if "serving.kserve.io/s3-verifyssl" in annotations:
            env.append({"name": "S3_VERIFY_SSL", "value": annotations["serving.kserve.io/s3-verifyssl"]})
        if "serving.kserve.io/s3-region" in annotations:
            env.append({"name": "AWS_DEFAULT_REGION", "value": annotations["serving.kserve.io/s3-region"]})
        return env
    return []


@dataclass
class FakeKServe:
    """KServe's InferenceService reconciler in Standard (raw Deployment) mode, custom predictors."""

    def __call__(self, cluster: FakeCluster) -> None:
        for isvc in _all(cluster, "serving.kserve.io", "InferenceService"):
            self._reconcile(cluster, isvc)

    def _reconcile(self, cluster: FakeCluster, isvc: Obj) -> None:
        meta = isvc["metadata"]
        name, ns = meta["name"], meta["namespace"]
        # Status first, from the Deployment as the previous tick left it (KServe lags one reconcile).
        dep = _find(cluster, "apps", "Deployment", ns, f"{name}-predictor")
        isvc["status"] = self._status(isvc, dep)
        deployment, service = self._predictor(cluster, isvc)
        cluster._apply(deployment, KSERVE_MANAGER, force=True)
        cluster._apply(service, KSERVE_MANAGER, force=True)

    def _predictor(self, cluster: FakeCluster, isvc: Obj) -> tuple[Obj, Obj]:
        meta = isvc["metadata"]
        name, ns = meta["name"], meta["namespace"]
        predictor = _d(_d(isvc.get("spec")).get("predictor"))
        containers = copy.deepcopy(_l(predictor.get("containers")))
        if len(containers) == 1:
            containers[0]["name"] = "kserve-container"
        main = next(c for c in containers if c.get("name") == "kserve-container")
        uri = next((e.get("value") for e in _l(main.get("env")) if e.get("name") == "STORAGE_URI"), None)
        account = str(predictor.get("serviceAccountName") or "default")
        spec: Obj = {"serviceAccountName": account, "containers": containers}
        annotations = {"serving.kserve.io/deploymentMode": "Standard"}
        if uri:
            found = _find(cluster, "serving.kserve.io", "ClusterStorageContainer", "", "default")
            init = copy.deepcopy(_d(_d(found).get("spec")).get("container")) or {
                "name": "storage-initializer", "image": "kserve/storage-initializer:v0.20.0"}
            init["args"] = [uri, "/mnt/models"]
            init["env"] = _secret_env(cluster, ns, account)
            init["volumeMounts"] = [{"name": "kserve-provision-location", "mountPath": "/mnt/models"}]
            main.setdefault("volumeMounts", []).append(
                {"name": "kserve-provision-location", "mountPath": "/mnt/models", "readOnly": True})
            spec["initContainers"] = [init]
            spec["volumes"] = [{"name": "kserve-provision-location", "emptyDir": {}}]
            annotations["internal.serving.kserve.io/storage-initializer-sourceuri"] = uri
        app = f"isvc.{name}-predictor"
        labels = {"app": app, "serving.kserve.io/inferenceservice": name, "component": "predictor"}
        owner = [{"apiVersion": ISVC_API, "kind": "InferenceService", "name": name,
                  "uid": meta["uid"], "controller": True}]
        strategy = predictor.get("deploymentStrategy") or {
            "type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}
        deployment = {
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": f"{name}-predictor", "namespace": ns, "labels": dict(labels),
                         "ownerReferences": owner},
            "spec": {"replicas": int(predictor.get("minReplicas") or 1),
                     "selector": {"matchLabels": {"app": app}}, "strategy": copy.deepcopy(strategy),
                     "template": {"metadata": {"labels": labels, "annotations": annotations}, "spec": spec}},
        }
        service = {
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": f"{name}-predictor", "namespace": ns, "labels": dict(labels),
                         "ownerReferences": copy.deepcopy(owner)},
            "spec": {"selector": {"app": app}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
        }
        return deployment, service

    @staticmethod
    def _status(isvc: Obj, deployment: Obj | None) -> Obj:
        meta = isvc["metadata"]
        name, ns = meta["name"], meta["namespace"]
        available = next((c for c in _l(_d(_d(deployment).get("status")).get("conditions"))
                          if c.get("type") == "Available"), None)
        if available is None:
            predictor = {"type": "PredictorReady", "status": "Unknown", "reason": "PredictorNotReady",
                         "message": "the predictor Deployment has no status yet"}
        else:
            predictor = {"type": "PredictorReady", "status": available["status"]}
            if available["status"] != "True":
                predictor |= {"reason": available.get("reason", ""), "message": available.get("message", "")}
        ready = {**predictor, "type": "Ready"}
        host = f"{name}-predictor.{ns}.svc.cluster.local"
        return {
            "observedGeneration": meta["generation"],
            "conditions": [{"type": "IngressReady", "status": "True"}, predictor, ready,
                           {"type": "Stopped", "status": "False", "severity": "Info"}],
            "url": f"http://{name}-{ns}.example.com",
            "address": {"url": f"http://{host}"},
            "components": {"predictor": {"url": f"http://{name}-predictor-{ns}.example.com"}},
            "deploymentMode": "Standard",
        }


# --- the forwarder -----------------------------------------------------------------------------------


@dataclass
class FakeForwards:
    """Forwards (serving.py) over the fake cluster: each forward has a fixed port and reaches the
    oldest Ready, non-terminating pod behind its Service."""

    cluster: FakeCluster
    versions: Mapping[str, str] = field(default_factory=dict)  # model URI -> version it declares
    first_port: int = 41000
    ports: dict[str, int] = field(default_factory=dict)
    targets: dict[str, tuple[str, str, int]] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)

    def ensure(self, name: str, namespace: str, service: str, port: int) -> int:
        if name not in self.ports:
            self.ports[name] = self.first_port + len(self.ports) + len(self.removed)
        self.targets[name] = (namespace, service, port)
        return self.ports[name]

    def remove(self, name: str) -> None:
        if self.ports.pop(name, None) is not None:
            self.removed.append(name)
        self.targets.pop(name, None)

    def pod(self, name: str) -> Obj | None:
        """The pod a new connection to forward `name` reaches, or None (connection refused)."""
        namespace, service_name, _ = self.targets[name]
        service = _find(self.cluster, "", "Service", namespace, service_name)
        if service is None:
            return None
        selector = _d(_d(service.get("spec")).get("selector"))
        pods = [p for p in _all(self.cluster, "", "Pod")
                if p["metadata"]["namespace"] == namespace
                and all(_d(p["metadata"].get("labels")).get(k) == v for k, v in selector.items())
                and not p["metadata"].get("deletionTimestamp") and self.cluster._pod_ready(p)]
        pods.sort(key=lambda p: (p["metadata"]["creationTimestamp"], p["metadata"]["uid"]))
        return pods[0] if pods else None

    def served_version(self, endpoint: Endpoint) -> str | None:
        """The ServedVersion seam: the version of the model the reached pod serves."""
        port = int(endpoint.url.rsplit(":", 1)[1])
        name = next(n for n, p in self.ports.items() if p == port)
        pod = self.pod(name)
        if pod is None:
            return None
        container = next(c for c in pod["spec"]["containers"] if c["name"] == "kserve-container")
        uri = next(e["value"] for e in container["env"] if e["name"] == "STORAGE_URI")
        return self.versions.get(uri)


def secret_value(cluster: FakeCluster, name: str, key: str, namespace: str = WORKLOADS) -> str:
    secret = cluster.get(ObjRef("v1", "Secret", name, namespace))
    return base64.b64decode(_d(_d(secret).get("data"))[key]).decode()

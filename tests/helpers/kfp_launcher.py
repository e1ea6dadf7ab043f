"""A FakeKfp whose tasks really run, for the integration tier: at run creation the submitted
pipeline is executed as KFP's driver and launcher would execute it, task by task, and what each
task did becomes its TaskScript (fake_kfp.py then plays the run out: states, pods, logs).

What the driver does here: parameters resolved from the pipeline's arguments and defaults, the
parent DAG's inputs, upstream tasks' outputs and constants (`{{$.pipeline_job_uuid}}` is the run
id); `triggerPolicy.condition` evaluated on the task's resolved inputs (KFP's CEL subset the SDK
emits: comparisons, `!`, `&&`, `||`); ParallelFor over a list, its outputs collected per
iteration (dsl.Collected); a sub-DAG's outputs from its tasks. What the launcher does: the
executor input built with kfp.local's own helpers (kfp.local.executor_input_utils and
placeholder_utils; output files under a local task root), and the executor's container command
run as a process (pod_processes.py) with the pod's environment: its env, the platform spec's
`secretAsEnv` keys from the cluster's Secret, in-cluster addresses routed to the local servers.
The task's log is the process output; its outputs are what the cluster compile's report wrapper
printed (the marked line, parsed here; fake_kfp.py prints it again in the pod log).

Like Argo, execution is sequential in FakeKfp's own order and stops at the first failing task.
Input artifacts are not supported (no conformance pipeline consumes one): a task that needs one
is refused loudly rather than run without it.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fake_cluster import FakeCluster
from fake_kfp import FakeKfp, TaskScript, _Run, _topological
from google.protobuf import json_format
from kfp.local import executor_input_utils, placeholder_utils
from kfp.pipeline_spec import pipeline_spec_pb2
from pod_processes import PodNetwork

from appliance.targets.cluster.pipeline_ir import OUTPUT_MARKER

_CEL_INPUT = re.compile(r"inputs\.parameter_values\['([^']+)'\]")
Scripts = dict[tuple[str, tuple[int, ...]], TaskScript]


class TaskFailed(Exception):
    """A task exited non-zero: Argo schedules nothing after it."""


class ExecutingKfp(FakeKfp):
    """FakeKfp over a FakeCluster whose runs execute their tasks for real (see the module doc)."""

    def __init__(self, cluster: FakeCluster, network: PodNetwork, work: Path,
                 namespace: str = "kubeflow") -> None:
        super().__init__(script=self._scripted, cluster=cluster, namespace=namespace)
        self.network = network
        self.work = work
        self._scripts: Scripts = {}

    def _scripted(self, name: str, indices: tuple[int, ...]) -> TaskScript:
        # Tasks after a failure never run (FakeKfp omits them): they have no script.
        return self._scripts.get((name, indices), TaskScript(log="(not run: an earlier task failed)"))

    def _plan(self, run: _Run) -> list[Any]:
        self._scripts = _Execution(self, run).scripts()
        return super()._plan(run)


class _Execution:
    def __init__(self, kfp: ExecutingKfp, run: _Run) -> None:
        self.kfp = kfp
        self.run = run
        self.spec = run.pipeline_spec
        self.proto = json_format.ParseDict(self.spec, pipeline_spec_pb2.PipelineSpec(),
                                           ignore_unknown_fields=True)
        self.executors = self.spec["deploymentSpec"]["executors"]
        self.configs = ((run.platform.get("platforms") or {}).get("kubernetes") or {}).get(
            "deploymentSpec", {}).get("executors", {})
        self.found: Scripts = {}

    def scripts(self) -> Scripts:
        root = self.spec["root"]
        scope = {name: d["defaultValue"] for name, d in
                 ((root.get("inputDefinitions") or {}).get("parameters") or {}).items()
                 if "defaultValue" in d}
        scope.update(self.run.parameters)
        try:
            self._dag(root["dag"], scope, (), skipped=False)
        except TaskFailed:
            pass
        return self.found

    def _dag(self, dag: Mapping[str, Any], scope: Mapping[str, Any], indices: tuple[int, ...],
             skipped: bool) -> dict[str, Any]:
        """Run a DAG's tasks; returns its outputs (name -> value)."""
        outputs: dict[str, dict[str, Any]] = {}
        tasks = dag.get("tasks", {})
        for name in _topological(tasks):
            task = tasks[name]
            component = self.spec["components"][task["componentRef"]["name"]]
            inputs = {} if skipped else self._inputs(task, scope, outputs)
            skip = skipped or not _holds(task.get("triggerPolicy", {}).get("condition", ""), inputs)
            if "dag" not in component:
                if skip:
                    self.found[(name, indices)] = TaskScript(skip=True)
                    continue
                outputs[name] = self._execute(name, task, component, inputs, indices)
                continue
            iterator = task.get("parameterIterator")
            if iterator is None:
                outputs[name] = self._dag(component["dag"], inputs, indices, skip)
                continue
            items = iterator.get("items", {})
            listed = json.loads(items["raw"]) if "raw" in items else inputs.get(items["inputParameter"], [])
            collected: dict[str, list[Any]] = {}
            for index, item in enumerate(listed or []):
                inner = {**inputs, iterator["itemInput"]: item} if iterator.get("itemInput") else inputs
                for key, value in self._dag(component["dag"], inner, (*indices, index), skip).items():
                    collected.setdefault(key, []).append(value)
            outputs[name] = dict(collected)
        found: dict[str, Any] = {}
        for key, parameter in ((dag.get("outputs") or {}).get("parameters") or {}).items():
            source = parameter.get("valueFromParameter")
            if source and source["outputParameterKey"] in outputs.get(source["producerSubtask"], {}):
                found[key] = outputs[source["producerSubtask"]][source["outputParameterKey"]]
        return found

    def _inputs(self, task: Mapping[str, Any], scope: Mapping[str, Any],
                outputs: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        if (task.get("inputs") or {}).get("artifacts"):
            raise AssertionError(f"fake launcher: task {task['taskInfo']['name']} takes input "
                                 "artifacts, which it does not pass")
        resolved: dict[str, Any] = {}
        for key, value in ((task.get("inputs") or {}).get("parameters") or {}).items():
            if "componentInputParameter" in value:
                resolved[key] = scope.get(value["componentInputParameter"])
            elif "taskOutputParameter" in value:
                source = value["taskOutputParameter"]
                resolved[key] = outputs.get(source["producerTask"], {}).get(source["outputParameterKey"])
            elif "runtimeValue" in value:
                constant = value["runtimeValue"].get("constant")
                resolved[key] = self.run.run_id if constant == "{{$.pipeline_job_uuid}}" else constant
            else:
                raise AssertionError(f"fake launcher: input {key} of {task['taskInfo']['name']}: "
                                     f"unsupported source {sorted(value)}")
        return resolved

    def _execute(self, name: str, task: Mapping[str, Any], component: Mapping[str, Any],
                 inputs: dict[str, Any], indices: tuple[int, ...]) -> dict[str, Any]:
        label = component["executorLabel"]
        container = self.executors[label]["container"]
        proto = self.proto.components[task["componentRef"]["name"]]
        task_root = self.kfp.work / self.run.run_id / "/".join([*map(str, indices), name])
        executor_input = executor_input_utils.executor_input_to_dict(
            executor_input_utils.construct_executor_input(proto, inputs, str(task_root / "outputs"),
                                                          block_input_artifact=True), proto)
        argv = placeholder_utils.replace_placeholders(
            [*container.get("command", []), *container.get("args", [])], executor_input,
            pipeline_resource_name=self.run.workflow, task_resource_name=name,
            pipeline_root=str(self.kfp.work / self.run.run_id), unique_pipeline_id=self.run.run_id)
        (task_root / "outputs").mkdir(parents=True, exist_ok=True)
        code, output = self.kfp.network.run(argv, self._env(label, container), task_root / "pod")
        lines, reported = [], None
        for line in output.splitlines():
            if line.startswith(OUTPUT_MARKER):
                reported = json.loads(line[len(OUTPUT_MARKER):])
            else:
                lines.append(line)
        log = "\n".join(lines)
        if code != 0:
            self.found[(name, indices)] = TaskScript(log=log, fail=True)
            raise TaskFailed(name)
        reported = reported or {}
        values = dict(reported.get("parameterValues") or {})
        self.found[(name, indices)] = TaskScript(log=log, outputs=values,
                                                 artifacts=reported.get("artifacts") or {})
        return values

    def _env(self, label: str, container: Mapping[str, Any]) -> dict[str, str]:
        """The executor pod's environment (what fake_kfp.py puts on its pod, resolved)."""
        entries = [dict(item) for item in container.get("env", [])]
        for secret in (self.configs.get(label) or {}).get("secretAsEnv", []):
            for pair in secret.get("keyToEnv", []):
                entries.append({"name": pair["envVar"], "valueFrom": {"secretKeyRef": {
                    "name": secret["secretName"], "key": pair["secretKey"]}}})
        return self.kfp.network.env(self.kfp.namespace, entries)


def _holds(condition: str, inputs: Mapping[str, Any]) -> bool:
    """A trigger condition (the CEL the KFP SDK emits) on the task's resolved inputs."""
    if not condition:
        return True
    text = _CEL_INPUT.sub(lambda m: repr(inputs[m.group(1)]), condition)
    text = re.sub(r"!(?!=)", " not ", text).replace("&&", " and ").replace("||", " or ")
    text = re.sub(r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", text))
    return bool(_evaluate(ast.parse(text.strip(), mode="eval").body))


_COMPARE = {ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b, ast.Lt: lambda a, b: a < b,
            ast.LtE: lambda a, b: a <= b, ast.Gt: lambda a, b: a > b, ast.GtE: lambda a, b: a >= b}


def _evaluate(node: ast.AST) -> Any:
    """Literals, comparisons, not/and/or: nothing else is evaluated."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return not _evaluate(node.operand)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_evaluate(node.operand)
    if isinstance(node, ast.BoolOp):
        values = [_evaluate(v) for v in node.values]
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE:
        return _COMPARE[type(node.ops[0])](_evaluate(node.left), _evaluate(node.comparators[0]))
    raise AssertionError(f"fake launcher: cannot evaluate condition part {ast.dump(node)}")

"""Load a KFP v2 pipeline: a @dsl.pipeline function from a .py file, or a compiled IR YAML."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from appliance import safe_yaml
from appliance.errors import BadInput, MissingPrerequisite

PYTHON_SUFFIXES = (".py",)
YAML_SUFFIXES = (".yaml", ".yml", ".json")
FIX = ("pass a .py file with a @dsl.pipeline or @dsl.component function (FILE.py or FILE.py:NAME) "
       "or a compiled IR YAML")

# The spec's ParameterTypeEnum names, shortened to what users write in docs and errors.
PARAMETER_TYPES = {
    "NUMBER_INTEGER": "integer",
    "NUMBER_DOUBLE": "double",
    "STRING": "string",
    "BOOLEAN": "boolean",
    "LIST": "list",
    "STRUCT": "struct",
    "TASK_FINAL_STATUS": "task-final-status",
}


@dataclass(frozen=True)
class Parameter:
    """A pipeline input parameter: its type, and its default when it has one."""

    name: str
    type: str
    default: Any = None
    has_default: bool = False
    optional: bool = False

    @property
    def required(self) -> bool:
        return not (self.has_default or self.optional)


@dataclass(frozen=True)
class Pipeline:
    """A loaded pipeline: its compiled spec, where it came from, and its input parameters."""

    name: str
    source: str
    spec: pipeline_spec_pb2.PipelineSpec
    parameters: dict[str, Parameter]
    input_artifacts: tuple[str, ...] = ()


def load(reference: str | Path) -> Pipeline:
    """`FILE.py`, `FILE.py:NAME` or `FILE.yaml`; every failure is a BadInput (exit 2)."""
    text = str(reference)
    selected = None
    path = Path(text)
    if not path.exists() and ":" in path.name:
        stem, _, selected = text.rpartition(":")
        path = Path(stem)
    if not path.is_file():
        raise BadInput(f"pipeline file {path} not found", "", FIX)
    if path.suffix in PYTHON_SUFFIXES:
        return from_python(path, selected)
    if selected is not None:
        raise BadInput(f"{path}: ':{selected}' selects a function, only for .py files", "", FIX)
    if path.suffix in YAML_SUFFIXES:
        return from_yaml(path)
    raise BadInput(f"{path}: unsupported pipeline file type {path.suffix!r}", "", FIX)


def from_python(path: Path, selected: str | None = None) -> Pipeline:
    """The file's @dsl.pipeline; a file that defines only a component runs it as a one-task
    pipeline with the component's parameters and outputs, as kfp.local runs a called component."""
    from kfp.dsl.base_component import BaseComponent
    from kfp.dsl.graph_component import GraphComponent

    module = _import(path)
    pipelines: dict[str, GraphComponent] = {}
    components: dict[str, BaseComponent] = {}
    for attribute, value in vars(module).items():
        if not isinstance(value, BaseComponent):
            continue
        # What the file imports from elsewhere (to reuse or nest it) is not its own, unless
        # selected by name.
        if not (_defined_in(value, module) or selected == attribute):
            continue
        if isinstance(value, GraphComponent):
            pipelines[attribute] = value
        else:
            components[attribute] = value
    if selected is not None:
        chosen = pipelines.get(selected) or components.get(selected)
        if chosen is None:
            raise BadInput(f"{path} has no pipeline or component named {selected!r}",
                           _found(pipelines, components), FIX)
    elif len(pipelines) == 1:
        chosen = next(iter(pipelines.values()))
    elif pipelines:
        names = sorted(pipelines)
        raise BadInput(f"{path} defines several pipelines: {', '.join(names)}", "",
                       f"pick one, e.g. {path}:{names[0]}")
    elif len(components) == 1:
        chosen = next(iter(components.values()))
    elif components:
        names = sorted(components)
        raise BadInput(f"{path} defines no pipeline and several components: {', '.join(names)}",
                       "", f"pick the component to run as a one-task pipeline, e.g. {path}:{names[0]}")
    else:
        raise BadInput(f"{path} defines no pipeline",
                       "no module-level @dsl.pipeline or @dsl.component function",
                       "decorate the pipeline function with @dsl.pipeline")
    if chosen.platform_spec.platforms:
        _refuse_platform(path)
    # A component's pipeline_spec is kfp's own one-task pipeline around it: the root takes the
    # component's inputs and returns its outputs.
    return from_spec(chosen.pipeline_spec, str(path))


def _defined_in(component: Any, module: Any) -> bool:
    function = getattr(component, "pipeline_func", None) or getattr(component, "python_func", None)
    return getattr(function, "__module__", None) == module.__name__


def _found(pipelines: dict[str, Any], components: dict[str, Any]) -> str:
    return (f"pipelines in it: {', '.join(sorted(pipelines)) or 'none'}; "
            f"components: {', '.join(sorted(components)) or 'none'}")


def _import(path: Path) -> Any:
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    name = f"_appliance_pipeline_{path.stem.replace('-', '_')}_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise BadInput(f"cannot import {path}", "not a Python module", FIX)
    module = importlib.util.module_from_spec(spec)
    # The file's directory is importable while it loads, as when running `python FILE.py`.
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)
    sys.modules[name] = module
    # Module-level argparse would otherwise parse appliance's own argv and exit on it.
    saved_argv = sys.argv
    sys.argv = [str(path)]
    try:
        with warnings.catch_warnings():
            # kfp's notice about its future default base image concerns cluster images, not
            # the local run; it would repeat once per component on every `appliance run`.
            warnings.filterwarnings("ignore", message="The default base_image", category=FutureWarning)
            spec.loader.exec_module(module)
    except SystemExit as exc:
        # Left alone, sys.exit(0) in the file would end `appliance run` with rc 0 and nothing run.
        sys.modules.pop(name, None)
        raise BadInput(f"cannot load pipeline {path}", f"it exited at import (code {exc.code!r})",
                       "guard the script part with `if __name__ == \"__main__\":`") from exc
    except Exception as exc:
        sys.modules.pop(name, None)
        raise BadInput(f"cannot load pipeline file {path}", _where(exc, path),
                       "fix the error in the file; run it with python to see the traceback"
                       ) from exc
    finally:
        sys.argv = saved_argv
        if sys.path and sys.path[0] == folder:
            sys.path.pop(0)
    return module


def _where(exc: Exception, path: Path) -> str:
    """The exception and the last line of the user's file it went through."""
    line = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename).resolve() == path.resolve():
            line = f" (line {frame.lineno})"
    if isinstance(exc, SyntaxError) and exc.lineno:
        line = f" (line {exc.lineno})"
    message = " ".join(str(exc).split()) or "(no message)"
    return f"{type(exc).__name__}: {message}{line}"


def from_yaml(path: Path) -> Pipeline:
    try:
        documents = [d for d in safe_yaml.load_all(path.read_text(encoding="utf-8"), str(path)) if d]
    except yaml.YAMLError as exc:
        raise BadInput(f"{path} is not valid YAML", " ".join(str(exc).split()), FIX) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read {path}", str(exc), FIX) from exc
    first = documents[0] if documents else None
    if not isinstance(first, dict) or "root" not in first or "pipelineInfo" not in first:
        raise BadInput(f"{path} is not a compiled KFP pipeline",
                       "an IR YAML has pipelineInfo, root, components and deploymentSpec",
                       "compile it with kfp.compiler.Compiler().compile(pipeline, 'p.yaml')")
    for extra in documents[1:]:
        if isinstance(extra, dict) and extra.get("platforms"):
            _refuse_platform(path)
    spec = pipeline_spec_pb2.PipelineSpec()
    try:
        json_format.ParseDict(first, spec)
    except json_format.ParseError as exc:
        raise BadInput(f"{path} is not a valid KFP pipeline spec", str(exc).splitlines()[0],
                       "recompile it with the kfp SDK") from exc
    return from_spec(spec, str(path))


def from_spec(spec: pipeline_spec_pb2.PipelineSpec, source: str) -> Pipeline:
    if spec.root.WhichOneof("implementation") != "dag":
        raise BadInput(f"{source} has no pipeline DAG", "root has no dag", FIX)
    _check_executors(spec, source)
    inputs = spec.root.input_definitions
    parameters = {}
    for name, definition in inputs.parameters.items():
        kind = pipeline_spec_pb2.ParameterType.ParameterTypeEnum.Name(definition.parameter_type)
        has_default = definition.HasField("default_value")
        default = json_format.MessageToDict(definition.default_value) if has_default else None
        if kind == "NUMBER_INTEGER" and isinstance(default, float) and default.is_integer():
            default = int(default)
        parameters[name] = Parameter(
            name, PARAMETER_TYPES.get(kind, kind.lower()), default, has_default,
            definition.is_optional,
        )
    return Pipeline(
        name=spec.pipeline_info.name,
        source=source,
        spec=spec,
        parameters=parameters,
        input_artifacts=tuple(sorted(inputs.artifacts)),
    )


def _check_executors(spec: pipeline_spec_pb2.PipelineSpec, source: str) -> None:
    """Every component's executor label names an entry of deploymentSpec.executors; checked
    here so a hand-edited YAML fails as bad input, not as a KeyError deep in the runner."""
    deployment = json_format.MessageToDict(spec.deployment_spec)
    executors = deployment.get("executors") if isinstance(deployment, dict) else None
    known = set(executors) if isinstance(executors, dict) else set()
    missing = sorted({component.executor_label for component in spec.components.values()
                      if component.WhichOneof("implementation") == "executor_label"
                      and component.executor_label not in known})
    if missing:
        users = sorted(name for name, component in spec.components.items()
                       if component.executor_label in missing)
        raise BadInput(f"{source}: deploymentSpec.executors has no {', '.join(missing)}",
                       f"used by {', '.join(users)}",
                       "recompile the pipeline with the kfp SDK instead of editing the YAML")


def _refuse_platform(path: Path) -> None:
    raise MissingPrerequisite(
        f"{path} uses Kubernetes platform features (kfp-kubernetes)",
        "secrets, volumes and node settings cannot be honoured by the local target",
        "run it on a cluster target, or remove the kubernetes.* task settings",
    )

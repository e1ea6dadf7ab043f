"""Loading pipelines, typing their arguments and localizing their specs (no execution)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from google.protobuf import json_format
from kfp import compiler

from appliance.errors import BadInput, InvalidDocument, MissingPrerequisite
from appliance.pipelines import arguments, loader
from appliance.targets.local.pipelines import imports
from appliance.targets.local.pipelines.localize import localize, pip_requirements, requirement_problem

DATA = Path(__file__).parent / "data"


def test_python_and_yaml_give_the_same_pipeline(tmp_path: Path) -> None:
    from_py = loader.load(DATA / "linear.py")
    assert from_py.name == "linear"
    assert {n: (p.type, p.default, p.required) for n, p in from_py.parameters.items()} == {
        "a": ("integer", None, True),
        "scale": ("double", 0.5, False),
        "label": ("string", "x", False),
        "flag": ("boolean", False, False),
        "items": ("list", [1, 2], False),
        "extra": ("struct", {"k": 1}, False),
    }
    compiled = tmp_path / "linear.yaml"
    module = loader._import(DATA / "linear.py")
    compiler.Compiler().compile(module.linear, str(compiled))
    from_yaml = loader.load(compiled)
    assert from_yaml.parameters == from_py.parameters
    assert from_yaml.spec == from_py.spec


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("missing.py", r"pipeline file .*missing.py not found"),
        ("two.py", r"two.py defines several pipelines: first, second"),
        ("two.py:third", r"two.py has no pipeline or component named 'third'"),
        ("components_only.py", r"components_only.py defines no pipeline and several components: "
                               r"count, write"),
        ("empty.py", r"empty.py defines no pipeline"),
        ("broken.py", r"cannot load pipeline file .*broken.py"),
        ("linear.txt", r"linear.txt: unsupported pipeline file type '.txt'"),
    ],
)
def test_bad_pipeline_files(reference: str, message: str, tmp_path: Path) -> None:
    (tmp_path / "linear.txt").write_text("x")
    (tmp_path / "empty.py").write_text("from kfp import dsl\n")
    base = tmp_path if reference.startswith(("linear.txt", "empty")) else DATA
    with pytest.raises(BadInput, match=message) as caught:
        loader.load(str(base / reference))
    assert caught.value.exit_code == 2


def test_load_error_names_the_exception_and_line() -> None:
    with pytest.raises(BadInput) as caught:
        loader.load(DATA / "broken.py")
    assert caught.value.why == "ZeroDivisionError: division by zero (line 3)"
    with pytest.raises(BadInput) as caught:
        loader.load(f"{DATA / 'two.py'}:third")
    assert caught.value.why == "pipelines in it: first, second; components: one"


def test_a_file_with_only_a_component_is_a_one_task_pipeline() -> None:
    # As kfp.local runs a component called directly: the root takes the component's typed
    # parameters (defaults included) and returns its outputs.
    pipeline = loader.load(DATA / "add_numbers.py")
    assert pipeline.name == "add-numbers"
    assert {n: (p.type, p.default, p.required) for n, p in pipeline.parameters.items()} == {
        "a": ("integer", None, True), "b": ("integer", 2, False), "note": ("string", "sum", False)}
    assert list(pipeline.spec.root.dag.tasks) == ["add-numbers"]
    assert sorted(pipeline.spec.root.output_definitions.parameters) == ["text", "total"]
    assert loader.load(f"{DATA / 'add_numbers.py'}:add_numbers").spec == pipeline.spec
    write = loader.load(f"{DATA / 'components_only.py'}:write")
    assert (write.name, list(write.parameters)) == ("write", ["text"])
    assert list(write.spec.root.output_definitions.artifacts) == ["data"]
    # A pipeline file's components (its own or imported) never replace its pipeline.
    assert loader.load(DATA / "linear.py").name == "linear"
    assert loader.load(f"{DATA / 'two.py'}:one").name == "one"


def test_select_one_of_several() -> None:
    assert loader.load(f"{DATA / 'two.py'}:second").name == "second"


def test_yaml_that_is_not_a_pipeline(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("apiVersion: v1\nkind: ConfigMap\n")
    with pytest.raises(BadInput, match=r"p.yaml is not a compiled KFP pipeline"):
        loader.load(path)
    path.write_text("pipelineInfo: {name: x}\nroot: {dag: {tasks: {}}}\nbogus: 1\n")
    with pytest.raises(BadInput, match=r"p.yaml is not a valid KFP pipeline spec"):
        loader.load(path)
    path.write_text("root: [unclosed\n")
    with pytest.raises(BadInput, match=r"p.yaml is not valid YAML"):
        loader.load(path)


def test_arguments_from_the_command_line_are_typed() -> None:
    pipeline = loader.load(DATA / "linear.py")
    given = arguments.parse_pairs(["a=4", "scale=2", "label=a=b", "flag=true", "items=[3, 4]",
                                   'extra={"z": 0}'])
    assert arguments.check(pipeline, given, text=True) == {
        "a": 4, "scale": 2.0, "label": "a=b", "flag": True, "items": [3, 4], "extra": {"z": 0}
    }


def test_every_argument_problem_is_reported() -> None:
    pipeline = loader.load(DATA / "linear.py")
    with pytest.raises(InvalidDocument) as caught:
        arguments.check(pipeline, {"scale": "high", "flag": "maybe", "items": "{}",
                                   "extra": "[1", "nope": "1"}, text=True)
    assert caught.value.problems == [
        "nope: unknown parameter (parameters: a, extra, flag, items, label, scale)",
        "a: required integer parameter is missing",
        "extra: expected a JSON struct, got '[1'",
        "flag: expected true or false, got 'maybe'",
        "items: expected a list, got dict {}",
        "scale: expected a number, got 'high'",
    ]
    assert caught.value.source == "arguments of pipeline 'linear'"
    with pytest.raises(InvalidDocument) as caught:
        arguments.check(pipeline, {"a": 1.5, "flag": 1})
    assert caught.value.problems == [
        "a: expected an integer, got float 1.5",
        "flag: expected a boolean, got int 1",
    ]
    with pytest.raises(InvalidDocument) as caught:
        arguments.parse_pairs(["a", "b=1", "b=2", "=3"])
    assert caught.value.problems == [
        "--param 'a': expected NAME=VALUE",
        "--param b: given more than once",
        "--param '=3': expected NAME=VALUE",
    ]


def test_localize_drops_satisfied_installs_and_injects_env() -> None:
    pipeline = loader.load(DATA / "failing.py")
    original = json_format.MessageToDict(pipeline.spec.deployment_spec)["executors"]
    assert original["exec-ok"]["container"]["command"][:2] == ["sh", "-c"]
    done = localize(pipeline.spec, env={"AWS_ENDPOINT_URL": "http://127.0.0.1:1"}, retries=2)
    executors = json_format.MessageToDict(done.spec.deployment_spec)["executors"]
    for name in ("exec-ok", "exec-boom"):
        container = executors[name]["container"]
        assert container["command"] == original[name]["container"]["command"][3:]
        assert container["command"][:2] == ["sh", "-ec"]
        assert container["env"] == [{"name": "AWS_ENDPOINT_URL", "value": "http://127.0.0.1:1"}]
    assert [t.retry_policy.max_retry_count for t in done.spec.root.dag.tasks.values()] == [2, 2, 2]
    assert done.warnings == ()
    # The input spec is untouched.
    assert json_format.MessageToDict(pipeline.spec.deployment_spec)["executors"] == original


def test_localize_refuses_what_cannot_run_here() -> None:
    pipeline = loader.load(DATA / "unrunnable.py")
    with pytest.raises(MissingPrerequisite) as caught:
        localize(pipeline.spec)
    assert caught.value.why == (
        "task needy: no-such-package-appliance is not installed; "
        "task shell: a container component (image alpine); the local target runs only "
        "lightweight Python components"
    )
    assert caught.value.fix == ("install the packages into the appliance's Python "
                                "(pip install ...); run it on a cluster target")
    assert caught.value.exit_code == 3


def test_a_containerized_python_component_is_not_called_a_container_component(
        tmp_path: Path) -> None:
    path = tmp_path / "built.py"
    path.write_text(
        "from kfp import dsl\n\n\n"
        "@dsl.component(base_image='python:3.11', target_image='registry.example/adder:1')\n"
        "def add(a: int) -> int:\n    return a + 1\n")
    with pytest.raises(MissingPrerequisite) as caught:
        localize(loader.load(path).spec)
    assert caught.value.render() == (
        "pipeline 'add' cannot run on the local target: task add: a containerized Python "
        "component (image registry.example/adder:1) keeps its code in the image (fix: run it on "
        "a cluster target, or make it a lightweight component (@dsl.component without "
        "target_image))")


def test_requirements() -> None:
    script = ("python3 -m pip install --quiet --no-warn-script-location 'pyyaml>=5' "
              "--index-url https://x/simple --trusted-host x 'requests'  &&  python3 -m pip "
              "install --quiet 'kfp==2.0.0' '--no-deps' 'typing-extensions>=3.7.4,<5; "
              "python_version<\"3.9\"' && \"$0\" \"$@\"")
    assert pip_requirements(script) == [
        "pyyaml>=5", "requests", "kfp==2.0.0", 'typing-extensions>=3.7.4,<5; python_version<"3.9"'
    ]
    versions = {"pyyaml": "6.0", "kfp": "2.17.3"}.get
    assert requirement_problem("pyyaml>=5", versions) == (None, None)
    assert requirement_problem("pyyaml>=7", versions) == (
        "pyyaml 6.0 is installed but 'pyyaml>=7' is required", None)
    assert requirement_problem("kfp==2.0.0", versions) == (
        None, "tasks asked for kfp==2.0.0; running them with the installed kfp 2.17.3")
    assert requirement_problem("kfp==1.8.22", versions) == (
        "kfp 2.17.3 is installed but 'kfp==1.8.22' is required", None)
    assert requirement_problem("git+https://example.com/x.git", versions)[0] == (
        "'git+https://example.com/x.git' is not a plain requirement (URLs and paths are not "
        "installed)")
    assert requirement_problem('x>=1; python_version<"3"', versions) == (None, None)


def test_condition_on_a_named_output_is_renamed_for_kfp_local() -> None:
    pipeline = loader.load(DATA / "named.py")
    (before,) = [t.trigger_policy.condition for t in pipeline.spec.root.dag.tasks.values()
                 if t.trigger_policy.condition]
    assert before == "inputs.parameter_values['pipelinechannel--decide-go'] == true"
    done = localize(pipeline.spec)
    (after,) = [t.trigger_policy.condition for t in done.spec.root.dag.tasks.values()
                if t.trigger_policy.condition]
    assert after == "inputs.parameter_values['pipelinechannel--decide--go'] == true"


def test_platform_features_and_input_artifacts_are_refused(tmp_path: Path) -> None:
    compiled = tmp_path / "linear.yaml"
    compiler.Compiler().compile(loader._import(DATA / "linear.py").linear, str(compiled))
    with_platform = tmp_path / "platform.yaml"
    with_platform.write_text(compiled.read_text() + "---\nplatforms:\n  kubernetes:\n"
                             "    deploymentSpec: {executors: {}}\n")
    with pytest.raises(MissingPrerequisite, match=r"uses Kubernetes platform features") as caught:
        loader.load(with_platform)
    assert caught.value.fix == "run it on a cluster target, or remove the kubernetes.* task settings"
    takes_artifact = tmp_path / "takes_artifact.py"
    takes_artifact.write_text(
        "from kfp import dsl\nfrom kfp.dsl import Dataset, Input\n\n\n"
        "@dsl.component(base_image='python:3.11')\n"
        "def size(data: Input[Dataset]) -> int:\n    return 1\n\n\n"
        "@dsl.pipeline(name='takes-artifact')\n"
        "def takes(data: Input[Dataset]) -> None:\n    size(data=data)\n")
    pipeline = loader.load(takes_artifact)
    assert pipeline.input_artifacts == ("data",)
    with pytest.raises(MissingPrerequisite, match=r"takes input artifacts \(data\)"):
        arguments.check(pipeline, {})


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("raise SystemExit\n", "None"),
        ("import sys\nsys.exit(0)\n", "0"),
        ("import sys\nsys.exit(3)\n", "3"),
        ("import sys\nsys.exit('bye')\n", "'bye'"),
        # argparse sees [FILE] only, so a required option fails with its usual exit code 2.
        ("import argparse\np = argparse.ArgumentParser()\np.add_argument('--needed', "
         "required=True)\np.parse_args()\n", "2"),
    ],
)
def test_a_file_that_exits_at_import_is_bad_input(tmp_path: Path, body: str, code: str) -> None:
    path = tmp_path / "exits.py"
    path.write_text(body)
    with pytest.raises(BadInput) as raised:
        loader.load(path)
    assert raised.value.render() == (
        f"cannot load pipeline {path}: it exited at import (code {code}) "
        "(fix: guard the script part with `if __name__ == \"__main__\":`)")


def test_module_level_argparse_sees_only_the_file(tmp_path: Path) -> None:
    path = tmp_path / "parses.py"
    path.write_text((DATA / "linear.py").read_text()
                    + "\nimport argparse\nimport sys\nSEEN = list(sys.argv)\n"
                      "ARGS = argparse.ArgumentParser().parse_args()\n")
    import sys
    before = list(sys.argv)
    assert loader.load(path).name == "linear"
    assert loader._import(path).SEEN == [str(path)]
    assert sys.argv == before


def test_a_missing_executor_is_bad_input(tmp_path: Path) -> None:
    compiled = tmp_path / "linear.yaml"
    compiler.Compiler().compile(loader._import(DATA / "linear.py").linear, str(compiled))
    document = yaml.safe_load(compiled.read_text())
    document["deploymentSpec"]["executors"] = {
        k: v for k, v in document["deploymentSpec"]["executors"].items() if k != "exec-add"}
    compiled.write_text(yaml.safe_dump(document))
    with pytest.raises(BadInput) as raised:
        loader.load(compiled)
    assert raised.value.render() == (
        f"{compiled}: deploymentSpec.executors has no exec-add: used by comp-add "
        "(fix: recompile the pipeline with the kfp SDK instead of editing the YAML)")
    document["deploymentSpec"]["executors"] = {}
    compiled.write_text(yaml.safe_dump(document))
    with pytest.raises(BadInput) as raised:
        loader.load(compiled)
    assert raised.value.what == (f"{compiled}: deploymentSpec.executors has no exec-add, "
                                 "exec-add-2, exec-describe")
    assert raised.value.why == "used by comp-add, comp-add-2, comp-describe"


def test_placeholders_kfp_local_cannot_resolve_are_refused() -> None:
    with pytest.raises(MissingPrerequisite) as caught:
        localize(loader.load(DATA / "placeholders.py").spec)
    assert caught.value.why == (
        "task echo-2: dsl.PIPELINE_JOB_RESOURCE_NAME_PLACEHOLDER ({{$.pipeline_job_resource_name}}) "
        "cannot be resolved by kfp.local; task echo-3: "
        "dsl.PIPELINE_JOB_CREATE_TIME_UTC_PLACEHOLDER ({{$.pipeline_job_create_time_utc}}), "
        "dsl.PIPELINE_JOB_RESOURCE_NAME_PLACEHOLDER ({{$.pipeline_job_resource_name}}) cannot be "
        "resolved by kfp.local")
    # What kfp.local resolves passes: the job id and name, every {{$.inputs...}} of executors.
    assert localize(loader.load(DATA / "job_id.py").spec).warnings == ()
    resolvable = loader.load(DATA / "placeholders.py").spec
    for name in ("echo-2", "echo-3"):
        del resolvable.root.dag.tasks[name]
    assert localize(resolvable).warnings == ()


def test_importers_of_the_store_are_found_and_pointed_at_local_copies(tmp_path: Path) -> None:
    spec = loader.load(DATA / "importer.py").spec
    found, notes = imports.store_imports(spec, {})
    assert (found, notes) == ([
        imports.Import("importer", "s3://mlpipeline/fidelity/data.txt", "mlpipeline",
                       "fidelity/data.txt"),
        imports.Import("importer-2", "minio://mlpipeline/fidelity/folder", "mlpipeline",
                       "fidelity/folder"),
    ], [])
    given, _ = imports.store_imports(spec, {"folder": "/local/folder"})
    assert [item.task for item in given] == ["importer"]  # a local path is left alone
    copies = {"s3://mlpipeline/fidelity/data.txt": "/i/data.txt",
              "minio://mlpipeline/fidelity/folder": "/i/folder"}
    local = imports.with_local_copies(spec, found, copies)
    executors = json_format.MessageToDict(local.deployment_spec)["executors"]
    assert executors["exec-importer"]["importer"]["artifactUri"] == {"constant": "/i/data.txt"}
    assert executors["exec-importer-2"]["importer"]["artifactUri"] == {"runtimeParameter": "uri"}
    assert {name: json_format.MessageToDict(task.inputs.parameters["uri"])
            for name, task in local.root.dag.tasks.items() if name.startswith("importer")} == {
        "importer": {"runtimeValue": {"constant": "/i/data.txt"}},
        "importer-2": {"runtimeValue": {"constant": "/i/folder"}},
    }
    assert imports.store_imports(local, {}) == ([], [])
    # An importer that runs after other tasks may import what they write: it is left to the run.
    after = tmp_path / "after.py"
    after.write_text(
        "from kfp import dsl\nfrom kfp.dsl import Dataset\n\n\n"
        "@dsl.component(base_image='python:3.11')\ndef write() -> None:\n    pass\n\n\n"
        "@dsl.pipeline(name='after')\ndef after() -> None:\n"
        "    dsl.importer(artifact_uri='s3://mlpipeline/x', artifact_class=Dataset).after(write())\n")
    assert imports.store_imports(loader.load(after).spec, {}) == ([], [
        "task importer imports s3://mlpipeline/x after other tasks, so it is not fetched before "
        "the run: a task reading its path will not find it"])

"""The cluster compile: every executor of the shipped reference pipelines gets the stubs image, no
per-task pip install (exactly kfp's install_kfp_package=False), the object store's env and Secret,
IfNotPresent and the submission's pod metadata; other images and container components as written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from kfp.client import client as kfp_client
from kfp.dsl import component_factory

from appliance.pipelines import loader
from appliance.targets.cluster import pipeline_ir as ir
from conformance.pipelines import components as reference_components

REFERENCE = Path(__file__).resolve().parents[3] / "conformance" / "pipelines"
PIPELINES = ("train_gate_promote", "failing_step", "fan_out", "condition")
STUBS = "appliance-stubs:dev"
PROFILE = ir.ClusterProfile(STUBS)
IN_CLUSTER = "http://minio.object-store.svc.cluster.local:9000"
# What kfp-kubernetes 2.17.3 writes for use_secret_as_env(task, "appliance-s3-pipelines",
# {"accesskey": "AWS_ACCESS_KEY_ID", "secretkey": "AWS_SECRET_ACCESS_KEY"}),
# set_image_pull_policy(task, "IfNotPresent"), add_pod_label(...) and add_pod_annotation(...):
# compiled once with that package and copied here. It is not a dependency: it pins requests and
# urllib3 exactly, for five fields of JSON.
KFP_KUBERNETES = {
    "imagePullPolicy": "IfNotPresent",
    "podMetadata": {"annotations": {"appliance.dev/tasks": "TASK"},
                    "labels": {"appliance.dev/submission": "abc123"}},
    "secretAsEnv": [{
        "keyToEnv": [{"envVar": "AWS_ACCESS_KEY_ID", "secretKey": "accesskey"},
                     {"envVar": "AWS_SECRET_ACCESS_KEY", "secretKey": "secretkey"}],
        "optional": False,
        "secretName": "appliance-s3-pipelines",
        "secretNameParameter": {"runtimeValue": {"constant": "appliance-s3-pipelines"}},
    }],
}


def executors(spec: Any) -> dict[str, dict[str, Any]]:
    return json_format.MessageToDict(spec.deployment_spec)["executors"]


def kubernetes(compiled: ir.ClusterPipeline) -> dict[str, Any]:
    platform = json_format.MessageToDict(compiled.platform)
    return platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]


def test_the_base_images_rewritten_are_kfps_default_and_the_reference_components() -> None:
    assert component_factory._DEFAULT_BASE_IMAGE in ir.STUBS_BASE_IMAGES
    assert reference_components.BASE_IMAGE in ir.STUBS_BASE_IMAGES
    assert IN_CLUSTER == ir.IN_CLUSTER_ENDPOINT
    # Argo substitutes "{{...}}" in templates and sh single-quotes the Python: neither may occur.
    assert "{{" not in ir.REPORT_SCRIPT and "'" not in ir.REPORT_SCRIPT.split("'", 1)[1].rsplit("'", 1)[0]


@pytest.mark.parametrize("name", PIPELINES)
def test_every_reference_executor_runs_on_the_stubs_image_as_expected(name: str) -> None:
    pipeline = loader.load(REFERENCE / f"{name}.py")
    compiled = ir.for_cluster(pipeline.spec, PROFILE, "abc123")
    before, after = executors(pipeline.spec), executors(compiled.spec)
    users = ir.executor_users(pipeline.spec)
    assert sorted(after) == sorted(before) and after
    for label, executor in after.items():
        original = before[label]["container"]
        container = executor["container"]
        assert original["image"] == "python:3.11"
        assert container["image"] == STUBS
        # The kfp preamble (sh -c "pip install kfp==... && $0 $@") is gone, the report wrapper
        # stands in its place, the program itself is untouched.
        assert original["command"][:2] == ["sh", "-c"] and "pip install" in original["command"][2]
        assert container["command"] == ["sh", "-c", ir.REPORT_SCRIPT, *original["command"][3:]]
        assert container["command"][3:5] == ["sh", "-ec"]
        assert container["args"] == original["args"]
        assert container["env"] == [
            {"name": "AWS_ENDPOINT_URL", "value": IN_CLUSTER},
            {"name": "AWS_ENDPOINT_URL_S3", "value": IN_CLUSTER},
            {"name": "AWS_DEFAULT_REGION", "value": "us-east-1"},
            {"name": "AWS_REGION", "value": "us-east-1"},
        ]
        expected = json.loads(json.dumps(KFP_KUBERNETES).replace("TASK", ",".join(users[label])))
        assert kubernetes(compiled)[label] == expected
    assert sorted(kubernetes(compiled)) == sorted(after)
    assert compiled.warnings == ()
    assert compiled.reporting == set(ir.task_places(pipeline.spec))
    # Caching is off on every task of every DAG (the SDK's submit-time switch reaches only root).
    dags = [compiled.spec.root.dag] + [c.dag for c in compiled.spec.components.values()
                                       if c.WhichOneof("implementation") == "dag"]
    assert all(not t.caching_options.enable_cache for d in dags for t in d.tasks.values())
    # The input spec is not modified.
    assert executors(pipeline.spec) == before


def test_the_document_is_what_kfp_client_submits(tmp_path: Path) -> None:
    compiled = ir.for_cluster(loader.load(REFERENCE / "fan_out.py").spec, PROFILE, "abc123")
    package = tmp_path / "p.yaml"
    package.write_text(compiled.document())
    doc = kfp_client._extract_pipeline_yaml(str(package))
    assert doc.pipeline_spec == compiled.spec
    assert doc.platform_spec == compiled.platform
    assert set(doc.to_dict()) == {"pipeline_spec", "platform_spec"}


def component_module(tmp_path: Path, body: str) -> Path:
    path = tmp_path / f"pipe_{abs(hash(body))}.py"
    path.write_text(textwrap.dedent(body))
    return path


def test_dropping_the_preamble_is_exactly_install_kfp_package_false(tmp_path: Path) -> None:
    source = component_module(tmp_path, """
        from kfp import dsl

        def add(a: int, b: int) -> int:
            return a + b

        default = dsl.component(add)
        without = dsl.component(add, install_kfp_package=False)

        @dsl.pipeline(name="both")
        def both() -> None:
            default(a=1, b=2)
            without(a=3, b=4)
    """)
    spec = loader.load(source).spec
    compiled = ir.for_cluster(spec, PROFILE, "s1")
    before, after = executors(spec), executors(compiled.spec)
    assert before["exec-add"]["container"]["command"][3:] == before["exec-add-2"]["container"]["command"]
    for label in ("exec-add", "exec-add-2"):
        assert after[label]["container"]["command"] == [
            "sh", "-c", ir.REPORT_SCRIPT, *before["exec-add-2"]["container"]["command"]]
        assert after[label]["container"]["image"] == STUBS


def test_other_images_extra_packages_and_container_components_stay_as_written(tmp_path: Path) -> None:
    source = component_module(tmp_path, """
        from kfp import dsl

        @dsl.component(base_image="python:3.11", packages_to_install=["numpy"])
        def needs_numpy() -> int:
            return 1

        @dsl.component(base_image="ghcr.io/example/custom:1.0")
        def custom() -> int:
            return 2

        @dsl.container_component
        def echo():
            return dsl.ContainerSpec(image="busybox:1.36", command=["echo"], args=["hi"])

        @dsl.pipeline(name="mixed")
        def mixed() -> None:
            needs_numpy()
            custom()
            echo()
    """)
    spec = loader.load(source).spec
    compiled = ir.for_cluster(spec, PROFILE, "s1", retries=3, caching=True)
    before, after = executors(spec), executors(compiled.spec)
    # Extra packages: the preamble stays (the pod needs an index); the image is still the stubs one.
    numpy = after["exec-needs-numpy"]["container"]
    assert numpy["image"] == STUBS
    assert numpy["command"] == ["sh", "-c", ir.REPORT_SCRIPT,
                                *before["exec-needs-numpy"]["container"]["command"]]
    # Another image: untouched but for the report wrapper (lightweight, so it has python3 and kfp).
    custom = after["exec-custom"]["container"]
    assert custom["image"] == "ghcr.io/example/custom:1.0"
    assert custom["command"] == ["sh", "-c", ir.REPORT_SCRIPT, *before["exec-custom"]["container"]["command"]]
    # A container component: image, command and args as written; it still sees the object store.
    echo = after["exec-echo"]["container"]
    assert (echo["image"], echo["command"], echo["args"]) == ("busybox:1.36", ["echo"], ["hi"])
    assert [e["name"] for e in echo["env"]] == ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
                                                "AWS_DEFAULT_REGION", "AWS_REGION"]
    assert sorted(kubernetes(compiled)) == ["exec-custom", "exec-echo", "exec-needs-numpy"]
    assert compiled.reporting == {"needs-numpy", "custom"}
    assert compiled.warnings == (
        "task custom runs on ghcr.io/example/custom:1.0 and installs kfp==2.17.3, "
        "typing-extensions>=3.7.4,<5; python_version<\"3.9\" when it starts: its pod needs a "
        "package index reachable from the cluster",
        "task needs-numpy installs numpy, kfp==2.17.3, typing-extensions>=3.7.4,<5; "
        "python_version<\"3.9\" when it starts: its pod needs a package index reachable from the "
        "cluster",
    )
    assert {t: compiled.spec.root.dag.tasks[t].retry_policy.max_retry_count
            for t in compiled.spec.root.dag.tasks} == {"needs-numpy": 3, "custom": 3, "echo": 3}
    assert all(t.caching_options.enable_cache for t in compiled.spec.root.dag.tasks.values())


def test_loop_places_and_pipeline_outputs() -> None:
    fan_out = loader.load(REFERENCE / "fan_out.py").spec
    assert ir.task_places(fan_out) == {"score-lr": ir.TaskPlace("score-lr", ("for-loop-1",)),
                                       "pick-best": ir.TaskPlace("pick-best", ())}
    assert ir.pipeline_outputs(fan_out) == {"Output": ("pick-best", "Output")}
    condition = loader.load(REFERENCE / "condition.py").spec
    assert {n: p.loops for n, p in ir.task_places(condition).items()} == {
        "score-lr": (), "read-accuracy": (), "report": (), "report-2": (), "report-3": ()}


@pytest.mark.integration
def test_the_report_wrapper_runs_kfps_executor_and_prints_its_output(tmp_path: Path) -> None:
    """The rewritten command, run by sh with this interpreter's kfp (as the stubs image runs it):
    the task's own output first, then one marked line with kfp's executor output."""
    pipeline = loader.load(REFERENCE / "fan_out.py")
    container = executors(ir.for_cluster(pipeline.spec, PROFILE, "s1").spec)["exec-score-lr"]["container"]
    output_file = tmp_path / "outputs" / "output_metadata.json"
    executor_input = {"inputs": {"parameterValues": {"lr": 0.01, "depth": 6}},
                      "outputs": {"parameters": {"Output": {"outputFile": str(tmp_path / "Output")}},
                                  "outputFile": str(output_file)}}
    args = [json.dumps(executor_input) if a == "{{$}}" else a for a in container["args"]]
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}",
           "PYTHONPATH": str(REFERENCE.parents[1])}
    done = subprocess.run([*container["command"], *args], capture_output=True, text=True, env=env,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "lr=0.01 depth=6 accuracy=0.95" in lines
    assert lines[-1] == ir.OUTPUT_MARKER + json.dumps(
        {"parameterValues": {"Output": '{"accuracy": 0.95, "depth": 6, "lr": 0.01}'}},
        sort_keys=True, separators=(",", ":"))
    failing = subprocess.run([*container["command"], *[a.replace("score_lr", "missing") for a in args]],
                             capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
    assert failing.returncode != 0
    assert ir.OUTPUT_MARKER not in failing.stdout

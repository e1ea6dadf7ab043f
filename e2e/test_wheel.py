"""The product as users install it: `python -m build`'s sdist and wheel hold exactly the product, and
the wheel, installed into a fresh venv and run outside the checkout, does what the README shows."""

from __future__ import annotations

import email.parser
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from checkout import REPO_ROOT, upstream_dir

import appliance
from appliance.runtime import process

pytestmark = pytest.mark.integration

# What a copy of the checkout leaves behind before building: a stale *.egg-info/SOURCES.txt left
# by an editable install would add the files it lists to the sdist.
NOT_SOURCES = shutil.ignore_patterns(".git", ".venv", ".bench-venv*", "*.egg-info", "build", "dist",
                                     "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", "reports")
PACKAGES = ("appliance", "stubs", "conformance")
DIST_INFO = {"METADATA", "WHEEL", "RECORD", "entry_points.txt", "top_level.txt", "licenses/LICENSE"}
EGG_INFO = {"PKG-INFO", "SOURCES.txt", "dependency_links.txt", "entry_points.txt", "requires.txt",
            "top_level.txt"}


def product_sources() -> set[str]:
    """The files the product needs, as the checkout lays them out: every module of the three
    packages, the data they read (suite config, reference experiments and policy), and profiles/."""
    files = set()
    for package in PACKAGES:
        for path in (REPO_ROOT / package).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and (
                    path.suffix == ".py" or (package == "conformance" and path.suffix in (".yaml", ".ini"))):
                files.add(path.relative_to(REPO_ROOT).as_posix())
    for path in (REPO_ROOT / "profiles").rglob("*"):
        if path.is_file() and path.suffix in (".py", ".yaml"):
            files.add(path.relative_to(REPO_ROOT).as_posix())
    return files


def in_wheel(source: str) -> str:
    # profiles/ is installed as the package appliance.profiles (pyproject.toml's package-dir).
    return f"appliance/{source}" if source.startswith("profiles/") else source


@dataclass(frozen=True)
class Installed:
    """The built distributions and a fresh venv with the wheel installed (nothing else from here)."""

    sdist: Path
    wheel: Path
    venv: Path

    def env(self, home: Path) -> dict[str, str]:
        """A user's environment: the venv first on PATH, no development settings, state under `home`."""
        path = [p for p in os.environ["PATH"].split(os.pathsep) if p and not p.startswith(str(REPO_ROOT))]
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("APPLIANCE_", "PYTHON", "PYTEST_", "VIRTUAL_ENV"))}
        env.update(PATH=os.pathsep.join([str(self.venv / "bin"), *path]), NO_COLOR="1",
                   APPLIANCE_HOME=str(home / "state"), APPLIANCE_CACHE=str(home / "cache"))
        return env


def _build_and_install(root: Path) -> Installed:
    source = root / "source"
    shutil.copytree(REPO_ROOT, source, ignore=NOT_SOURCES)
    dist = root / "dist"
    built = subprocess.run([sys.executable, "-m", "build", "--outdir", str(dist), str(source)],
                           capture_output=True, text=True, timeout=900)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    [sdist], [wheel] = sorted(dist.glob("*.tar.gz")), sorted(dist.glob("*.whl"))
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    # An honest install: the wheel and its dependencies from the index, nothing from the checkout.
    pip = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                          "--disable-pip-version-check", str(wheel)],
                         capture_output=True, text=True, timeout=1800, cwd=root)
    assert pip.returncode == 0, pip.stdout[-3000:] + pip.stderr[-3000:]
    return Installed(sdist, wheel, venv)


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """Built and installed once per run: xdist workers share it through a lock in their common
    temp dir (the base temp itself when there are no workers)."""
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "wheel-e2e"
    root.mkdir(exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        record = root / "installed.json"
        if record.is_file():
            return Installed(**{k: Path(v) for k, v in json.loads(record.read_text()).items()})
        for partial in ("source", "dist", "venv"):
            shutil.rmtree(root / partial, ignore_errors=True)  # a worker that failed before
        done = _build_and_install(root)
        record.write_text(json.dumps({k: str(v) for k, v in vars(done).items()}))
        return done


def test_sdist_and_wheel_hold_exactly_the_product(installed: Installed) -> None:
    version = appliance.__version__
    sources = product_sources()
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
        metadata = email.parser.Parser().parsestr(
            wheel.read(f"appliance-{version}.dist-info/METADATA").decode())
    assert names == {in_wheel(s) for s in sources} | {f"appliance-{version}.dist-info/{n}" for n in DIST_INFO}
    assert {"appliance/profiles/standard.yaml", "appliance/profiles/components/serving.yaml"} <= names
    with tarfile.open(installed.sdist) as sdist:
        members = {m.name.split("/", 1)[1] for m in sdist.getmembers() if m.isfile()}
    build_files = {"PKG-INFO", "README.md", "LICENSE", "pyproject.toml", "setup.py", "setup.cfg"}
    assert members == sources | build_files | {f"appliance.egg-info/{n}" for n in EGG_INFO}

    assert (metadata["Name"], metadata["Version"]) == ("appliance", version)
    assert (metadata["License-Expression"], metadata["License-File"]) == ("Apache-2.0", "LICENSE")
    assert metadata["Requires-Python"] == ">=3.11"
    assert {"Programming Language :: Python :: 3.11", "Programming Language :: Python :: 3.12",
            "Programming Language :: Python :: 3.13"} <= set(metadata.get_all("Classifier"))
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert metadata.get_payload() == (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def test_the_installed_wheel_runs_the_product_outside_the_checkout(installed: Installed,
                                                                    tmp_path: Path) -> None:
    env = installed.env(tmp_path)
    user = tmp_path / "user"  # the user's own folder, nowhere near the checkout
    user.mkdir()

    def run(*argv: str, extra: dict[str, str] | None = None, timeout: float = 600) -> str:
        done = subprocess.run(list(argv), cwd=user, env={**env, **(extra or {})}, capture_output=True,
                              text=True, timeout=timeout)
        assert done.returncode == 0, (f"{' '.join(argv)} -> {done.returncode}\n"
                                      f"{done.stdout[-2000:]}{done.stderr[-3000:]}")
        return done.stdout

    site = Path(run("python", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").strip())
    assert site.is_relative_to(installed.venv)
    where = run("python", "-c", "import appliance, conformance, stubs; "
                                "print(appliance.__file__, conformance.__file__, stubs.__file__)").split()
    assert [Path(w).parent.parent for w in where] == [site] * 3
    assert run("appliance", "--version") == f"appliance, version {appliance.__version__}\n"

    run("appliance", "up")
    stack_dir = tmp_path / "state" / "stacks" / "default"
    try:
        status = json.loads(run("appliance", "status", "--json"))
        assert (status["up"], status["healthy"], status["profile"]) == (True, True, "standard")
        exports = dict(line.removeprefix("export ").split("=", 1)
                       for line in run("appliance", "env").splitlines())
        assert exports["AWS_ENDPOINT_URL"] == status["components"][0]["endpoint"]
        store = {key: value.strip("'") for key, value in exports.items()}

        # Tuning: the shipped reference experiment, on the dataset it expects, reaches the optimum.
        run("python", "-m", "stubs.dataset", "--name", "train", "--rows", "1000", "--seed", "7",
            "--out", "s3://mlpipeline/stub-data/train.csv", extra=store)
        grid = run("python", "-c",
                   "from conformance import experiments; print(experiments.path('grid'))").strip()
        assert Path(grid) == site / "conformance" / "experiments" / "grid.yaml"
        experiment = json.loads(run("appliance", "-q", "tune", grid, "--json"))
        best = experiment["status"]["currentOptimalTrial"]
        assert experiment["status"]["conditions"][-1]["reason"] == "ExperimentGoalReached"
        assert {a["name"]: a["value"] for a in best["parameterAssignments"]} == {"lr": "0.01", "depth": "6"}
        assert experiment["status"]["trialsSucceeded"] == 7

        # Pipelines: the shipped fan-out pipeline runs its tasks in the venv's Python.
        fan_out = str(site / "conformance" / "pipelines" / "fan_out.py")
        pipeline = json.loads(run("appliance", "-q", "run", fan_out, "--json"))
        assert pipeline["state"] == "SUCCEEDED"
        assert pipeline["outputs"] == {"Output": '{"accuracy": 0.95, "depth": 6, "lr": 0.01}'}

        # Serving: a stub model made by `python -m stubs.model`, as docs/serving.md shows it.
        uri = "s3://mlpipeline/models/iris/1.json"
        assert run("python", "-m", "stubs.model", "create", "--name", "iris", "--version", "1",
                   "--accuracy", "0.8", "--out", uri, extra=store) == f"{uri}\n"
        run("appliance", "-q", "serve", "deploy", "iris", "--model-uri", uri)
        predicted = run("appliance", "serve", "predict", "iris", "--json",
                        '{"instances": [[0.5, 0.2, 0.1, 0.1], [-0.5, 1.2, 0.3, 0.85]]}')
        assert json.loads(predicted) == {"predictions": [1, 1]}

        # The pytest plugin and fixtures on a user's own test (docs/conformance.md's example).
        doc = (REPO_ROOT / "docs" / "conformance.md").read_text(encoding="utf-8")
        for block in doc.split("```python\n")[1:]:
            text = block.split("```", 1)[0]
            (user / text.splitlines()[0].removeprefix("# ")).write_text(text)
        assert sorted(p.name for p in user.glob("*.py")) == ["my_pipeline.py", "test_my_pipeline.py"]
        plugin = run("python", "-m", "pytest", "-p", "conformance.plugin", "--stack", "default",
                     "test_my_pipeline.py")
        assert "1 passed" in plugin

        # The shipped suite, every area, against the running stack.
        run("appliance", "-q", "conformance", "--report", str(user / "conformance.json"), timeout=900)
        report = json.loads((user / "conformance.json").read_text())
        assert sorted(report["areas"]) == ["object-store", "pipelines", "promotion", "serving", "tuning"]
        assert all(a["failed"] == a["skipped"] == 0 for a in report["areas"].values())
        assert sum(a["passed"] for a in report["areas"].values()) == 14
    finally:
        run("appliance", "down")
    assert not stack_dir.exists()
    assert [p for p in map(int, filter(str.isdigit, os.listdir("/proc")))
            if str(stack_dir) in process.cmdline(p)] == []


def test_the_installed_wheel_renders_and_reviews_from_a_fetched_cache(installed: Installed,
                                                                       tmp_path: Path) -> None:
    upstream = upstream_dir()
    if not (upstream / "SOURCES.md").is_file():
        if os.environ.get("APPLIANCE_REQUIRE_SHARED") == "1":
            pytest.fail(f"APPLIANCE_REQUIRE_SHARED=1 but {upstream} holds no upstream manifests",
                        pytrace=False)
        pytest.skip(f"upstream manifests not found at {upstream} (set APPLIANCE_UPSTREAM)")
    env = installed.env(tmp_path)

    def appliance_cli(python: Path, *argv: str,
                      environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(python), "-m", "appliance", *argv], cwd=tmp_path, env=environment,
                              capture_output=True, text=True, timeout=600)

    venv_python = installed.venv / "bin" / "python"
    fetched = appliance_cli(venv_python, "fetch", "--profile", "standard", "--from", str(upstream),
                            environment=env)
    assert fetched.returncode == 0, fetched.stderr
    cached = sorted((tmp_path / "cache").iterdir())
    assert cached and all(p.read_bytes() == (upstream / p.name).read_bytes() for p in cached)
    rendered = appliance_cli(venv_python, "render", "--profile", "standard", environment=env)
    reviewed = appliance_cli(venv_python, "review", "--profile", "standard", "--format", "json",
                             environment=env)
    assert (rendered.returncode, reviewed.returncode) == (0, 0), rendered.stderr + reviewed.stderr
    # The installed wheel renders and reviews exactly what the checkout does from the same files.
    checkout_env = {**os.environ, "APPLIANCE_CACHE": str(upstream)}
    assert rendered.stdout == appliance_cli(Path(sys.executable), "render", "--profile", "standard",
                                            environment=checkout_env).stdout
    assert reviewed.stdout == appliance_cli(Path(sys.executable), "review", "--profile", "standard",
                                            "--format", "json", environment=checkout_env).stdout
    summary = json.loads(reviewed.stdout)["summary"]
    assert summary["critical"] == summary["high"] == 0

"""Before the first trial: can the trial's command start on this machine?

Upstream Katib examples run a script that lives in their image (`python3 /opt/mxnet-mnist/mnist.py`).
The local target runs the command here without the image, so every such trial would fail to start,
be retried up to its backoff limit, and the experiment would fail only after minutes. This check
refuses it at once instead (exit 2). It looks at what is known before a trial exists: the program
(on PATH, or as a path) and the script an interpreter is given as its first operand. A part that
holds a `${trialParameters.x}` placeholder is only known per trial and is not checked; a trial that
starts and then fails keeps Katib's semantics.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from appliance.targets.local.tuning.runner import trial_environment
from appliance.tuning import template
from appliance.tuning.model import Experiment

PYTHON = re.compile(r"^python[0-9.]*$")
SHELLS = ("sh", "bash", "dash", "zsh", "ksh")
PYTHON_OPTIONS_WITH_VALUE = "WX"  # -W arg, -X opt
SHELL_OPTIONS_WITH_VALUE = ("-o", "+o", "-O", "+O", "--rcfile", "--init-file")
CONTAINERS = "spec.trialTemplate.trialSpec.spec.template.spec.containers"
# The two ways out.
FIX = ("give the container a command that exists on this machine (e.g. your own copy of the "
       "script, with workingDir set for a relative path), or run the Experiment on a cluster with "
       "Katib, where the image is pulled")


def primary(experiment: Experiment) -> tuple[str, Mapping[str, Any]] | None:
    """The primary container of the trial's Job and its field path."""
    pod = ((experiment.trial_spec.get("spec") or {}).get("template") or {}).get("spec") or {}
    for index, container in enumerate(pod.get("containers") or []):
        if isinstance(container, Mapping) and container.get("name") == experiment.primary_container:
            return f"{CONTAINERS}[{index}]", container
    return None


def problems(experiment: Experiment, env: Mapping[str, str] | None = None) -> list[str]:
    """Why the trial command cannot start here (empty when it can, or cannot be known yet);
    `env` is the environment trials start from (default: what the local engine gives them)."""
    found = primary(experiment)
    if found is None:
        return []
    where, container = found
    spec = template.process_spec(experiment.trial_spec, experiment.primary_container)
    if not spec.argv:
        return []
    start = trial_environment() if env is None else env
    path_variable = {**start, **dict(spec.env)}.get("PATH", "")
    if _unknown(spec.working_dir):
        return []
    if spec.working_dir and not Path(spec.working_dir).is_dir():
        return [f"{where}.workingDir: {spec.working_dir} does not exist on this machine"]
    reason = _missing(spec.argv, spec.working_dir, path_variable)
    if reason is None:
        return []
    image = container.get("image")
    from_image = (f"; it comes from the image {image}, which the local target does not pull"
                  if image else "")
    return [f"{where}.command: {shlex.join(spec.argv)} cannot start on this machine: "
            f"{reason}{from_image}"]


def _missing(argv: Sequence[str], working_dir: str, path_variable: str) -> str | None:
    """Why argv cannot start: the program, or the script an interpreter is given, is not here."""
    program = argv[0]
    if _unknown(program):
        return None
    if "/" in program:
        reason = _file(program, working_dir, executable=True)
        if reason is not None:
            return reason
    elif shutil.which(program, path=path_variable) is None:
        return f"{program} is not on PATH"
    script = _script(Path(program).name, argv[1:])
    if script is None or _unknown(script):
        return None
    return _file(script, working_dir, executable=False)


def _unknown(text: str) -> bool:
    """Known only per trial: a trial parameter, or a $(VAR) the container's env does not define."""
    return template.PLACEHOLDER.search(text) is not None or "$(" in text


def _file(name: str, working_dir: str, executable: bool) -> str | None:
    path = Path(name)
    if not path.is_absolute():
        if not working_dir:
            return (f"{name} is relative to the trial's own directory, which starts empty (set "
                    "workingDir to the directory that holds it)")
        path = Path(working_dir) / path
    if not path.exists():
        return f"{path} does not exist"
    if path.is_dir():
        return f"{path} is a directory"
    if executable and not os.access(path, os.X_OK):
        return f"{path} is not executable"
    return None


def _script(interpreter: str, operands: Sequence[str]) -> str | None:
    """The script file a python or shell command line runs, if it names one."""
    if PYTHON.match(interpreter):
        return _python_script(operands)
    if interpreter in SHELLS:
        return _shell_script(operands)
    return None


def _python_script(operands: Sequence[str]) -> str | None:
    index = 0
    while index < len(operands):
        item = operands[index]
        index += 1
        if item == "--":
            return operands[index] if index < len(operands) else None
        if item == "-":
            return None  # the program comes from stdin
        if not item.startswith("-"):
            return item
        if item.startswith("--"):
            continue  # --version, --help, ...
        for position, letter in enumerate(item[1:], start=1):
            if letter in "cm":
                return None  # -c command, -m module: no script file
            if letter in PYTHON_OPTIONS_WITH_VALUE:
                if position == len(item) - 1:
                    index += 1  # its value is the next operand
                break
    return None


def _shell_script(operands: Sequence[str]) -> str | None:
    index = 0
    while index < len(operands):
        item = operands[index]
        index += 1
        if item == "--":
            return operands[index] if index < len(operands) else None
        if item in SHELL_OPTIONS_WITH_VALUE:
            index += 1
            continue
        if item.startswith(("-", "+")):
            if not item.startswith("--") and ("c" in item or "s" in item):
                return None  # -c string, -s: the commands are not in a file
            continue
        return item
    return None

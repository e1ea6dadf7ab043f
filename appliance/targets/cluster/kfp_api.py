"""The KFP API seam: submit a compiled pipeline, read a run, terminate it. The real one wraps
`kfp.Client(host=...)` over the local forward; runs come back as plain dicts (V2beta1Run.to_dict())
so the engine's mapping never depends on the generated client's classes."""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

from appliance.errors import EXIT_EXTERNAL, ApplianceError, MissingPrerequisite

HEALTHZ = "/apis/v2beta1/healthz"
HEALTH_TIMEOUT = 10.0
# V2beta1RuntimeState values that end a run (CANCELED included: kfp's own wait_for_run_completion
# leaves it out and would wait forever).
TERMINAL = frozenset({"SUCCEEDED", "FAILED", "SKIPPED", "CANCELED"})


class KfpApiError(ApplianceError):
    """The KFP API refused or failed a request (exit 4). `transient`: no answer or a server error,
    worth asking again (the port-forward reconnecting, the API server restarting)."""

    exit_code = EXIT_EXTERNAL

    def __init__(self, what: str, why: str = "", fix: str = "", *, transient: bool = False) -> None:
        super().__init__(what, why, fix)
        self.transient = transient


class KfpApi(Protocol):
    def submit(self, package: Path, arguments: Mapping[str, Any], *, run_name: str,
               experiment: str, caching: bool) -> str:
        """Create a run from a compiled pipeline file; returns the run id."""
        ...

    def get_run(self, run_id: str) -> dict[str, Any]:
        """The run as V2beta1Run.to_dict(): state, error, run_details.task_details, ..."""
        ...

    def terminate(self, run_id: str) -> None: ...


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """kfp.Client prints "Experiment details: <link>" and warns on every construction."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore", FutureWarning)
        yield


@contextlib.contextmanager
def _translated(what: str, host: str) -> Iterator[None]:
    import kfp_server_api
    import urllib3

    try:
        yield
    except kfp_server_api.ApiException as exc:
        body = exc.body.decode(errors="replace") if isinstance(exc.body, bytes) else str(exc.body or "")
        raise KfpApiError(f"the pipelines API refused to {what}",
                          f"{exc.status} {exc.reason}: {_message(body)}",
                          "see the message; 'appliance status' shows the KFP API server",
                          transient=int(exc.status or 0) >= 500) from None
    except urllib3.exceptions.HTTPError as exc:
        raise KfpApiError(f"the pipelines API at {host} did not answer ({what})", str(exc),
                          "check the stack with 'appliance status'; 'appliance up' restarts the "
                          "port-forward", transient=True) from None


def _message(body: str) -> str:
    import json

    try:
        data = json.loads(body)
    except ValueError:
        return " ".join(body.split())[:300]
    if isinstance(data, dict):
        return str(data.get("message") or data.get("error") or data)[:300]
    return str(data)[:300]


def check_health(host: str, timeout: float = HEALTH_TIMEOUT) -> None:
    """One GET of the health endpoint, before kfp.Client (whose own check retries with 5 s sleeps)."""
    import requests

    try:
        response = requests.get(host.rstrip("/") + HEALTHZ, timeout=timeout)
    except requests.RequestException as exc:
        raise MissingPrerequisite(f"the pipelines API at {host} does not answer",
                                  f"{type(exc).__name__}", "check the stack with 'appliance status'; "
                                  "'appliance up' restarts the port-forward") from None
    if response.status_code != 200:
        raise MissingPrerequisite(f"the pipelines API at {host} is not healthy",
                                  f"GET {HEALTHZ}: {response.status_code}",
                                  "wait for KFP to be ready ('appliance status'), or see "
                                  "'appliance diagnose'")


class ClientKfpApi:
    """KfpApi over kfp.Client. With an explicit host and no token the SDK reads no kubeconfig."""

    def __init__(self, host: str) -> None:
        import kfp

        check_health(host)
        self.host = host
        with _quiet(), _translated("connect", host):
            self._client = kfp.Client(host=host)

    def submit(self, package: Path, arguments: Mapping[str, Any], *, run_name: str,
               experiment: str, caching: bool) -> str:
        with _quiet(), _translated("create the run", self.host):
            result = self._client.create_run_from_pipeline_package(
                str(package), arguments=dict(arguments), run_name=run_name,
                experiment_name=experiment, enable_caching=caching)
        return str(result.run_id)

    def get_run(self, run_id: str) -> dict[str, Any]:
        with _translated(f"read run {run_id}", self.host):
            run = self._client.get_run(run_id)
        data: dict[str, Any] = run.to_dict()
        return data

    def terminate(self, run_id: str) -> None:
        with _translated(f"terminate run {run_id}", self.host):
            self._client.terminate_run(run_id)

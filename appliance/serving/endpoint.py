"""A deployment's stable endpoint: its KServe v1 and v2 URLs, and which one a request body is for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from appliance.errors import BadInput

Protocol = Literal["v1", "v2"]
# The front's read-only status path (generation, backends, in-flight counts); not a KServe route.
FRONT_STATUS_PATH = "/-/front"


@dataclass(frozen=True)
class Endpoint:
    """The front of deployment `name` at `url` (http://127.0.0.1:PORT); it never moves on rollout."""

    name: str
    url: str

    @property
    def v1_url(self) -> str:
        return f"{self.url}/v1/models/{self.name}:predict"

    @property
    def v2_url(self) -> str:
        return f"{self.url}/v2/models/{self.name}/infer"

    @property
    def ready_url(self) -> str:
        return f"{self.url}/v2/models/{self.name}/ready"

    def url_for(self, body: object) -> str:
        return self.v1_url if protocol_of(body) == "v1" else self.v2_url

    def to_dict(self) -> dict[str, str]:
        return {"url": self.url, "v1": self.v1_url, "v2": self.v2_url}


def protocol_of(body: object) -> Protocol:
    """v1 bodies carry "instances" (or columnar "inputs"); v2 bodies carry "inputs" as tensor objects."""
    if not isinstance(body, dict):
        raise BadInput(
            "the request body is not a JSON object",
            f"found {type(body).__name__}",
            'send {"instances": [[...]]} (v1) or {"inputs": [{"name", "shape", "datatype", "data"}]} (v2)',
        )
    if "instances" in body:
        return "v1"
    inputs: Any = body.get("inputs")
    if isinstance(inputs, list) and inputs and all(isinstance(i, dict) for i in inputs):
        if all("datatype" in i for i in inputs):
            return "v2"
    if "inputs" in body:
        # TF-Serving's columnar v1 form also uses "inputs"; without tensor objects it is v1.
        if isinstance(inputs, list) and inputs and all(isinstance(i, dict) for i in inputs):
            raise BadInput(
                "the v2 request has an input without 'datatype'",
                "every v2 input tensor needs name, shape, datatype and data",
                'add "datatype" (e.g. "FP64") to every input',
            )
        return "v1"
    raise BadInput(
        "cannot tell the protocol of the request body",
        f"it has neither 'instances' (v1) nor 'inputs' (v2); keys: {', '.join(sorted(body)) or 'none'}",
        'send {"instances": [[...]]} (v1) or {"inputs": [{"name", "shape", "datatype", "data"}]} (v2)',
    )

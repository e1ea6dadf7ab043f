"""KubeClient over the official `kubernetes` client: server-side apply through its dynamic client."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import client as k8s
from kubernetes.config import new_client_from_config
from kubernetes.config.config_exception import ConfigException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ResourceNotFoundError

from appliance.errors import BadInput
from appliance.targets.cluster.client import (
    FIELD_MANAGER,
    NO_RESPONSE,
    ApiError,
    Conflict,
    NotFound,
    Obj,
    ObjRef,
    Objs,
)

REQUEST_TIMEOUT = 30.0  # seconds per request: a wedged API server must not hang a wait forever
DISCOVERY_CACHE = "discovery-cache.json"


def _message(exc: k8s.ApiException) -> str:
    raw = exc.body.decode(errors="replace") if isinstance(exc.body, bytes) else str(exc.body or "")
    try:
        body = json.loads(raw)
    except ValueError:
        return (raw or str(exc.reason or "")).strip()
    return str(body.get("message") or exc.reason or "") if isinstance(body, dict) else raw


@contextmanager
def _translated() -> Iterator[None]:
    """The library's exceptions as the seam's: ApiError with the server's own message."""
    try:
        yield
    except k8s.ApiException as exc:
        status, message = int(exc.status or 0), _message(exc)
        if status == 404:
            raise NotFound(message) from None
        if status == 409:
            raise Conflict(message) from None
        raise ApiError(status, str(exc.reason or ""), message) from None
    except urllib3.exceptions.HTTPError as exc:
        # Refused, reset, timed out: no answer at all (a transient failure for the callers).
        raise ApiError(NO_RESPONSE, "Unreachable", str(exc)) from None


class OfficialClient:
    """The real KubeClient. Built from an explicit kubeconfig file and context, never from the
    user's default kubeconfig by accident; discovery is cached next to that kubeconfig."""

    def __init__(self, api_client: k8s.ApiClient, discovery_cache: Path,
                 timeout: float = REQUEST_TIMEOUT) -> None:
        self._api = api_client
        self._cache = discovery_cache
        self._timeout = timeout
        self._dynamic_client: DynamicClient | None = None

    @classmethod
    def from_kubeconfig(cls, kubeconfig: Path, context: str,
                        discovery_cache: Path | None = None) -> OfficialClient:
        if not kubeconfig.is_file():
            raise BadInput(f"kubeconfig {kubeconfig} not found", "the cluster's credentials are missing",
                           "run 'appliance up' again, or pass the right kubeconfig")
        try:
            # type.__call__ skips Configuration's process-wide default (no shared global state).
            configuration = type.__call__(k8s.Configuration)
            api = new_client_from_config(config_file=str(kubeconfig), context=context,
                                         persist_config=False, client_configuration=configuration)
        except ConfigException as exc:
            raise BadInput(f"kubeconfig {kubeconfig}: cannot use context {context!r}", str(exc),
                           "pick a context listed by 'kubectl config get-contexts'") from None
        return cls(api, discovery_cache or kubeconfig.parent / DISCOVERY_CACHE)

    # --- helpers ----------------------------------------------------------------------------------

    @property
    def _dynamic(self) -> DynamicClient:
        # Created on first use: the discoverer reads /version and /apis in its constructor.
        if self._dynamic_client is None:
            with _translated():
                self._dynamic_client = DynamicClient(self._api, cache_file=str(self._cache))
        return self._dynamic_client

    def _resource(self, api_version: str, kind: str) -> Any:
        with _translated():
            try:
                return self._dynamic.resources.get(api_version=api_version, kind=kind)
            except ResourceNotFoundError:
                raise NotFound(f'no matches for kind "{kind}" in version "{api_version}"') from None

    @staticmethod
    def _namespace(resource: Any, namespace: str | None) -> str | None:
        return (namespace or "default") if resource.namespaced else None

    # --- KubeClient ---------------------------------------------------------------------------------

    def apply(self, objs: Sequence[Obj], field_manager: str = FIELD_MANAGER, force: bool = True) -> Objs:
        out = []
        for obj in objs:
            ref = ObjRef.of(obj)
            resource = self._resource(ref.api_version, ref.kind)
            body = copy.deepcopy(obj)
            namespace = self._namespace(resource, ref.namespace)
            if namespace is None:
                body.get("metadata", {}).pop("namespace", None)
            else:
                body["metadata"]["namespace"] = namespace
            with _translated():
                # PATCH ...?fieldManager=<m>&force=true, Content-Type application/apply-patch+yaml
                # (JSON is YAML). No last-applied-configuration: that is client-side apply's.
                result = self._dynamic.server_side_apply(
                    resource, body=body, name=ref.name, namespace=namespace,
                    field_manager=field_manager, force_conflicts="true" if force else None,
                    _request_timeout=self._timeout)
            out.append(result.to_dict())
        return out

    def get(self, ref: ObjRef) -> Obj | None:
        try:
            resource = self._resource(ref.api_version, ref.kind)
            with _translated():
                found = self._dynamic.get(resource, name=ref.name,
                                          namespace=self._namespace(resource, ref.namespace),
                                          _request_timeout=self._timeout)
        except NotFound:
            return None
        return dict(found.to_dict())

    def list(self, api_version: str, kind: str, namespace: str | None = None,
             labels: dict[str, str] | None = None) -> Objs:
        try:
            resource = self._resource(api_version, kind)
        except NotFound:
            return []
        selector = ",".join(f"{k}={v}" for k, v in sorted((labels or {}).items())) or None
        with _translated():
            found = self._dynamic.get(resource, namespace=namespace if resource.namespaced else None,
                                      label_selector=selector, _request_timeout=self._timeout)
        # List items come without apiVersion and kind; callers get whole objects.
        items = found.to_dict().get("items") or []
        return [{"apiVersion": api_version, "kind": kind, **item} for item in items]

    def delete(self, ref: ObjRef, propagation: str = "Foreground") -> bool:
        try:
            resource = self._resource(ref.api_version, ref.kind)
            with _translated():
                self._dynamic.delete(resource, name=ref.name,
                                     namespace=self._namespace(resource, ref.namespace),
                                     propagation_policy=propagation, _request_timeout=self._timeout)
        except NotFound:
            return False
        return True

    def pod_logs(self, namespace: str, pod: str, container: str | None = None,
                 previous: bool = False, tail: int = 50) -> str:
        with _translated():
            text = k8s.CoreV1Api(self._api).read_namespaced_pod_log(
                pod, namespace, container=container, previous=previous, tail_lines=tail,
                _request_timeout=self._timeout)
        return str(text or "")

    def events(self, namespace: str, involved: ObjRef | None = None) -> Objs:
        selector = None
        if involved is not None:
            selector = f"involvedObject.kind={involved.kind},involvedObject.name={involved.name}"
        resource = self._resource("v1", "Event")
        with _translated():
            found = self._dynamic.get(resource, namespace=namespace, field_selector=selector,
                                      _request_timeout=self._timeout)
        return [{"apiVersion": "v1", "kind": "Event", **item} for item in found.to_dict().get("items") or []]

    def server_version(self) -> str:
        with _translated():
            info = k8s.VersionApi(self._api).get_code(_request_timeout=self._timeout)
        return str(info.git_version)

    def can_i(self, verb: str, resource: str, group: str = "", namespace: str | None = None) -> bool:
        attributes = {"verb": verb, "resource": resource, "group": group}
        if namespace:
            attributes["namespace"] = namespace
        body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                "spec": {"resourceAttributes": attributes}}
        with _translated():
            review = k8s.AuthorizationV1Api(self._api).create_self_subject_access_review(
                body, _request_timeout=self._timeout)
        return bool(review.status and review.status.allowed)

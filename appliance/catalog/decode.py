"""Strict decoding of profiles/catalog.yaml: unknown keys and bad values all reported at once."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from appliance import safe_yaml
from appliance.catalog.model import (
    CLUSTER_SCOPED_KINDS,
    Allow,
    ApiServerAccess,
    Catalog,
    Component,
    CredentialSpec,
    ExceptionSpec,
    GitPin,
    Patch,
    Peer,
    Source,
    SourceUse,
)
from appliance.errors import BadInput, InvalidDocument
from appliance.k8s.refs import ResourceRef
from appliance.paths import shipped

API_VERSION = "appliance.dev/v1alpha1"
CATALOG_PATH = shipped("catalog.yaml")

# Fields each patch op requires (besides target and op) and allows.
PATCH_OPS: dict[str, tuple[set[str], set[str]]] = {
    "merge": ({"merge"}, set()),
    "set-env": ({"container", "env"}, set()),
    "remove-env": ({"container", "names"}, set()),
    "container-merge": ({"container", "merge"}, set()),
    "remove-container": ({"container"}, set()),
    "replace-text": ({"old", "new"}, {"path"}),
    "json-merge": ({"key", "merge"}, set()),
    "yaml-merge": ({"key", "merge"}, {"each"}),
}
# A DNS-1123 label: what a namespace name must be.
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_KUSTOMIZE_VERSION = re.compile(r"^v\d+\.\d+\.\d+$")


class _Problems:
    """Collects problems with their field paths, so that one run reports all of them."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.items.append(f"{path}: {message}")

    def mapping(self, value: Any, path: str, required: set[str], optional: set[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.add(path, "expected a mapping")
            return {}
        for key in sorted(set(value) - required - optional, key=str):
            self.add(f"{path}.{key}", "unknown field")
        for key in sorted(required - set(value)):
            self.add(f"{path}.{key}", "required field missing")
        return value

    def str_map(self, value: Any, path: str) -> dict[str, str]:
        """A free-form mapping of strings to strings (e.g. Secret key -> credential id)."""
        if value is None:
            return {}
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and k and v for k, v in value.items()
        ):
            self.add(path, "expected a mapping of strings to strings")
            return {}
        return dict(value)

    def string(self, value: Any, path: str, required: bool = True) -> str:
        if value is None and not required:
            return ""
        if not isinstance(value, str) or (required and not value):
            self.add(path, "expected a non-empty string")
            return ""
        return value

    def strings(self, value: Any, path: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.add(path, "expected a list of strings")
            return ()
        return tuple(value)

    def ref(self, value: Any, path: str) -> ResourceRef | None:
        if not isinstance(value, str):
            self.add(path, "expected Kind/name or Kind/namespace/name")
            return None
        try:
            ref = ResourceRef.parse(value)
        except ValueError as exc:
            self.add(path, str(exc))
            return None
        if ref.kind in CLUSTER_SCOPED_KINDS and ref.namespace:
            self.add(path, f"{ref.kind} is cluster-scoped: write {ref.kind}/{ref.name}")
        if ref.kind not in CLUSTER_SCOPED_KINDS and not ref.namespace:
            self.add(path, f"{ref.kind} is namespaced: write {ref.kind}/<namespace>/{ref.name}")
        return ref

    def refs(self, value: Any, path: str) -> tuple[ResourceRef, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            self.add(path, "expected a list")
            return ()
        found = (self.ref(item, f"{path}[{i}]") for i, item in enumerate(value))
        return tuple(r for r in found if r is not None)


def load_catalog(path: Path | None = None) -> Catalog:
    """Load and strictly decode the catalog (the shipped one by default)."""
    return _load_cached(str(path or CATALOG_PATH))


@lru_cache(maxsize=8)
def _load_cached(path_text: str) -> Catalog:
    path = Path(path_text)
    try:
        data = safe_yaml.load(path.read_text(encoding="utf-8"), str(path))
    except FileNotFoundError as exc:
        raise BadInput(f"catalog {path} not found", "", "restore profiles/catalog.yaml") from exc
    except yaml.YAMLError as exc:
        raise BadInput(f"{path} is not valid YAML", str(exc).replace("\n", " ")) from exc
    return decode_catalog(data, path)


def decode_catalog(data: Any, source: Path) -> Catalog:
    p = _Problems()
    top = p.mapping(
        data,
        "catalog",
        {"apiVersion", "kind", "kubernetesVersion", "sources", "components", "comparison"},
        {"defaultResources", "workloadNamespace"},
    )
    if top.get("apiVersion", API_VERSION) != API_VERSION:
        p.add("apiVersion", f"expected {API_VERSION!r}, got {top.get('apiVersion')!r}")
    if top.get("kind", "Catalog") != "Catalog":
        p.add("kind", f"expected 'Catalog', got {top.get('kind')!r}")
    version = str(top.get("kubernetesVersion", ""))
    if top and not re.fullmatch(r"1\.\d+", version):
        p.add("kubernetesVersion", f"expected MAJOR.MINOR such as '1.32', got {version!r}")
    defaults = _resources(p, top.get("defaultResources", {}), "defaultResources")
    sources = {
        str(sid): _source(p, str(sid), raw, f"sources.{sid}")
        for sid, raw in _items(p, top.get("sources"), "sources")
    }
    components = {
        str(name): _component(p, str(name), raw, f"components.{name}", sources)
        for name, raw in _items(p, top.get("components"), "components")
    }
    comparison = p.string(top.get("comparison"), "comparison") if top else ""
    if comparison and comparison not in sources:
        p.add("comparison", f"unknown source {comparison!r}")
    workloads = _workload_namespace(p, top.get("workloadNamespace"), components)
    _check_namespaces(p, components)
    if p.items:
        raise InvalidDocument(str(source), p.items, "fix the catalog fields named above")
    return Catalog(version, defaults, sources, components, comparison, str(source), workloads)


def _workload_namespace(p: _Problems, value: Any, components: dict[str, Component]) -> str:
    users = [c.name for c in components.values() if c.workload_labels is not None]
    if value is None:
        if users:
            p.add("workloadNamespace", f"required: {', '.join(users)} run workloads there")
        return ""
    name = p.string(value, "workloadNamespace")
    if name and not _DNS_LABEL.match(name):
        p.add("workloadNamespace", f"{name!r} is not a DNS-1123 label (a namespace name)")
    for component in components.values():
        if name in component.namespaces:
            p.add("workloadNamespace", f"{name!r} is already owned by component {component.name!r}")
    return name


def _items(p: _Problems, value: Any, path: str) -> list[tuple[Any, Any]]:
    if not isinstance(value, dict) or not value:
        p.add(path, "expected a non-empty mapping")
        return []
    return list(value.items())


def _resources(p: _Problems, value: Any, path: str) -> dict[str, dict[str, str]]:
    raw = p.mapping(value, path, set(), {"requests", "limits"})
    out: dict[str, dict[str, str]] = {}
    for part in ("requests", "limits"):
        amounts = p.mapping(raw.get(part, {}), f"{path}.{part}", set(), {"cpu", "memory"})
        out[part] = {k: str(v) for k, v in amounts.items()}
    return out


def _source(p: _Problems, sid: str, raw: Any, path: str) -> Source:
    m = p.mapping(raw, path, {"file", "sha256"}, {"url", "git", "note"})
    sha = p.string(m.get("sha256"), f"{path}.sha256")
    if sha and not _SHA256.match(sha):
        p.add(f"{path}.sha256", "expected 64 lowercase hex digits")
    url = p.string(m.get("url"), f"{path}.url", required=False)
    git = None
    if "git" in m:
        g = p.mapping(m["git"], f"{path}.git", {"repo", "commit", "paths", "kustomize"},
                      {"substitutions", "patches"})
        commit = p.string(g.get("commit"), f"{path}.git.commit")
        if commit and not _COMMIT.match(commit):
            p.add(f"{path}.git.commit", "expected a full 40-hex commit id (tags move)")
        subs: list[tuple[str, str]] = []
        for i, item in enumerate(g.get("substitutions") or []):
            s = p.mapping(item, f"{path}.git.substitutions[{i}]", {"from", "to"}, set())
            subs.append((str(s.get("from", "")), str(s.get("to", ""))))
        kustomize = p.string(g.get("kustomize"), f"{path}.git.kustomize")
        if kustomize and not _KUSTOMIZE_VERSION.match(kustomize):
            p.add(f"{path}.git.kustomize", f"expected a version such as v5.5.0, got {kustomize!r}")
        git = GitPin(
            p.string(g.get("repo"), f"{path}.git.repo"),
            commit,
            p.strings(g.get("paths"), f"{path}.git.paths"),
            tuple(subs),
            tuple(_kustomize_patch(p, item, f"{path}.git.patches[{i}]")
                  for i, item in enumerate(g.get("patches") or [])),
            kustomize,
        )
    if not url and git is None and m:
        p.add(path, "needs a `url` or a `git` pin")
    if url and git is not None:
        p.add(path, "give either `url` or `git`, not both")
    file = p.string(m.get("file"), f"{path}.file")
    if "/" in file:
        p.add(f"{path}.file", "a plain file name (it names the cache entry)")
    return Source(sid, file, sha, url, git, str(m.get("note") or ""))


def _kustomize_patch(p: _Problems, raw: Any, path: str) -> dict[str, Any]:
    """A strategic-merge patch: kustomize finds its target by apiVersion, kind and metadata.name."""
    if not isinstance(raw, dict):
        p.add(path, "expected a strategic-merge patch (a mapping)")
        return {}
    for key in ("apiVersion", "kind"):
        if not (isinstance(raw.get(key), str) and raw[key]):
            p.add(f"{path}.{key}", "expected a non-empty string")
    meta = raw.get("metadata")
    if not (isinstance(meta, dict) and isinstance(meta.get("name"), str) and meta["name"]):
        p.add(f"{path}.metadata.name", "expected a non-empty string (it names the patched object)")
    return dict(raw)


def _component(
    p: _Problems, name: str, raw: Any, path: str, sources: dict[str, Source]
) -> Component:
    m = p.mapping(
        raw,
        path,
        {"description", "namespaces"},
        {"builtin", "sources", "credentials", "network", "exceptions", "workloads"},
    )
    uses = []
    for i, item in enumerate(m.get("sources") or []):
        uses.append(_source_use(p, item, f"{path}.sources[{i}]", sources))
    for i, builtin in enumerate(p.strings(m.get("builtin"), f"{path}.builtin")):
        if not (CATALOG_PATH.parent / builtin).is_file():
            p.add(f"{path}.builtin[{i}]", f"no file profiles/{builtin}")
    credentials = []
    for i, item in enumerate(m.get("credentials") or []):
        c = p.mapping(item, f"{path}.credentials[{i}]", {"secret", "keys"}, set())
        ref = p.ref(c.get("secret"), f"{path}.credentials[{i}].secret")
        keys = p.str_map(c.get("keys"), f"{path}.credentials[{i}].keys")
        if ref is not None and ref.kind != "Secret":
            p.add(f"{path}.credentials[{i}].secret", "must name a Secret")
        if ref is not None:
            credentials.append(CredentialSpec(ref, keys))
    net = p.mapping(m.get("network", {}), f"{path}.network", set(), {"apiServer", "allow"})
    api = []
    for i, item in enumerate(net.get("apiServer") or []):
        a = p.mapping(item, f"{path}.network.apiServer[{i}]", {"name", "pods"}, {"namespace"})
        pods = _selector(p, a.get("pods"), f"{path}.network.apiServer[{i}].pods")
        api.append(ApiServerAccess(p.string(a.get("name"), f"{path}.network.apiServer[{i}].name"), pods,
                                   p.string(a.get("namespace"), f"{path}.network.apiServer[{i}].namespace",
                                            required=False)))
    allows = []
    for i, item in enumerate(net.get("allow") or []):
        allows.append(_allow(p, item, f"{path}.network.allow[{i}]"))
    exceptions = []
    for i, item in enumerate(m.get("exceptions") or []):
        e = p.mapping(item, f"{path}.exceptions[{i}]", {"rule", "resource", "reason"}, {"container"})
        ref = p.ref(e.get("resource"), f"{path}.exceptions[{i}].resource")
        reason = _reason(p, e.get("reason"), f"{path}.exceptions[{i}].reason")
        rule = p.string(e.get("rule"), f"{path}.exceptions[{i}].rule")
        container = p.string(e.get("container"), f"{path}.exceptions[{i}].container", required=False)
        if ref is not None:
            exceptions.append(ExceptionSpec(rule, ref, reason, container or None))
    workload_labels = None
    if "workloads" in m:
        w = p.mapping(m["workloads"], f"{path}.workloads", set(), {"labels"})
        workload_labels = p.str_map(w.get("labels"), f"{path}.workloads.labels")
    return Component(
        name,
        str(m.get("description", "")),
        p.strings(m.get("namespaces"), f"{path}.namespaces"),
        p.strings(m.get("builtin"), f"{path}.builtin"),
        tuple(uses),
        tuple(credentials),
        tuple(api),
        tuple(allows),
        tuple(exceptions),
        workload_labels,
    )


def _reason(p: _Problems, value: Any, path: str) -> str:
    reason = p.string(value, path)
    if reason and len(reason.split()) < 5:
        p.add(path, "a justification, not a label (5+ words)")
    return reason


def _source_use(p: _Problems, raw: Any, path: str, sources: dict[str, Source]) -> SourceUse:
    m = p.mapping(raw, path, {"source"}, {"namespaces", "keep", "drop", "patches"})
    sid = p.string(m.get("source"), f"{path}.source")
    if sid and sid not in sources:
        p.add(f"{path}.source", f"unknown source {sid!r} (known: {', '.join(sorted(sources))})")
    namespaces = p.str_map(m.get("namespaces"), f"{path}.namespaces")
    if "keep" in m and "drop" in m:
        p.add(path, "give `keep` or `drop`, not both")
    patches = []
    for i, item in enumerate(m.get("patches") or []):
        patch = _patch(p, item, f"{path}.patches[{i}]")
        if patch is not None:
            patches.append(patch)
    return SourceUse(
        sid,
        {str(k): str(v) for k, v in namespaces.items()},
        p.refs(m.get("keep"), f"{path}.keep"),
        p.refs(m.get("drop"), f"{path}.drop"),
        tuple(patches),
    )


def _patch(p: _Problems, raw: Any, path: str) -> Patch | None:
    if not isinstance(raw, dict):
        p.add(path, "expected a mapping")
        return None
    op = raw.get("op")
    if op not in PATCH_OPS:
        p.add(f"{path}.op", f"unknown op {op!r} (known: {', '.join(sorted(PATCH_OPS))})")
        return None
    required, optional = PATCH_OPS[str(op)]
    m = p.mapping(raw, path, required | {"target", "op", "reason"}, optional)
    ref = p.ref(m.get("target"), f"{path}.target")
    reason = _reason(p, m.get("reason"), f"{path}.reason") if "reason" in m else ""
    if op == "set-env":
        for j, env in enumerate(m.get("env") or []):
            p.mapping(env, f"{path}.env[{j}]", {"name"}, {"value", "valueFrom"})
    if ref is None:
        return None
    args = {k: v for k, v in m.items() if k not in ("target", "op", "reason")}
    return Patch(ref, str(op), args, reason)


def _selector(p: _Problems, value: Any, path: str) -> dict[str, Any]:
    sel = p.mapping(value, path, set(), {"matchLabels", "matchExpressions"})
    if isinstance(value, dict) and not sel:
        p.add(path, "an empty selector selects every pod: name the pods")
    return dict(sel)


def _peer(p: _Problems, raw: Any, path: str) -> Peer:
    m = p.mapping(raw, path, set(), {"namespace", "pods", "anywhere"})
    if m.get("anywhere") is True:
        if set(m) != {"anywhere"}:
            p.add(path, "`anywhere` stands alone")
        return Peer(anywhere=True)
    namespace = p.string(m.get("namespace"), f"{path}.namespace")
    pods = _selector(p, m["pods"], f"{path}.pods") if "pods" in m else None
    return Peer(namespace, pods)


def _allow(p: _Problems, raw: Any, path: str) -> Allow:
    m = p.mapping(raw, path, {"name", "to", "ports", "from"}, set())
    ports = m.get("ports")
    if not isinstance(ports, list) or not all(isinstance(x, int) and 0 < x < 65536 for x in ports):
        p.add(f"{path}.ports", "expected a list of TCP port numbers")
        ports = []
    to = _peer(p, m.get("to", {}), f"{path}.to")
    if to.anywhere:
        p.add(f"{path}.to", "`anywhere` is for sources only")
    froms = m.get("from")
    if not isinstance(froms, list) or not froms:
        p.add(f"{path}.from", "expected a non-empty list of peers")
        froms = []
    peers = tuple(_peer(p, item, f"{path}.from[{i}]") for i, item in enumerate(froms))
    return Allow(p.string(m.get("name"), f"{path}.name"), to, tuple(ports), peers)


def _check_namespaces(p: _Problems, components: dict[str, Component]) -> None:
    owner: dict[str, str] = {}
    for component in components.values():
        for namespace in component.namespaces:
            if namespace in owner:
                p.add(
                    f"components.{component.name}.namespaces",
                    f"namespace {namespace!r} already owned by {owner[namespace]!r}",
                )
            owner[namespace] = component.name

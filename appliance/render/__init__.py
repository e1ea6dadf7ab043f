"""Render a profile: assemble its components, harden, order, label and validate -> Bundle."""

from __future__ import annotations

from pathlib import Path

from appliance.catalog import load_catalog
from appliance.catalog.model import Catalog, ExceptionSpec
from appliance.config import profile as profiles
from appliance.config.profile import Profile
from appliance.errors import CheckFailed, InvalidDocument
from appliance.harden import HardenContext, harden
from appliance.k8s.refs import ResourceRef
from appliance.render.assemble import assemble
from appliance.render.bundle import Bundle, label, ordered
from appliance.render.validate import validate
from appliance.sources.images import LOCK_PATH, load_lock

__all__ = ["Bundle", "context_for", "render_profile"]


def context_for(profile: Profile, catalog: Catalog, lock: dict[str, str]) -> HardenContext:
    components = [catalog.components[name] for name in profile.components]
    workloads = catalog.workload_namespace_for(profile.components)
    return HardenContext(
        profile=profile.name,
        posture=profile.posture,
        kubernetes_version=catalog.kubernetes_version,
        owned_namespaces=tuple(ns for c in components for ns in c.namespaces) + (
            (workloads,) if workloads else ()),
        default_resources=catalog.default_resources,
        credentials=tuple(spec for c in components for spec in c.credentials),
        api_server=tuple((a.namespace or c.namespaces[0], a) for c in components for a in c.api_server),
        allows=tuple(a for c in components for a in c.allows),
        exceptions=tuple(e for c in components for e in c.exceptions),
        image_lock=lock,
    )


def render_profile(
    name_or_path: str,
    *,
    catalog: Catalog | None = None,
    lock_path: Path | None = None,
    lock: dict[str, str] | None = None,
    check: bool = True,
) -> Bundle:
    """Render a shipped profile (by name) or a profile file; deterministic: same inputs, same bytes.

    With `check` (the default) the bundle must validate against the Kubernetes schema and every
    hardening gap must be covered by a catalog exception; otherwise CheckFailed lists them all.
    `lock` (image -> digest) replaces the lock file when given.
    """
    profile = profiles.load(name_or_path)
    catalog = catalog or load_catalog()
    lock = load_lock(lock_path or LOCK_PATH) if lock is None else lock
    ctx = context_for(profile, catalog, lock)
    assembled = assemble(profile, catalog)
    hardened = harden(assembled.objects, ctx)
    objects = ordered(hardened.objects)
    label(objects, profile.name)
    present = {ResourceRef.of(o) for o in objects}
    stale = [e for e in ctx.exceptions if e.resource not in present]
    if stale:
        raise InvalidDocument(catalog.path, [
            f"exception {e.rule} names {e.resource}, which the {profile.name!r} bundle does not have"
            for e in stale
        ], "remove or correct the stale exception")
    bundle = Bundle(
        profile=profile.name,
        components=profile.components,
        objects=objects,
        exceptions=[e.as_record() for e in sorted(ctx.exceptions, key=_exception_key)],
        changes=assembled.changes + hardened.changes,
    )
    if check:
        problems = hardened.unresolved + validate(objects, catalog.kubernetes_version)
        if problems:
            raise CheckFailed(
                f"profile {profile.name!r} does not render to a valid hardened bundle",
                "; ".join(problems[:20]) + (f"; ... {len(problems) - 20} more" if len(problems) > 20 else ""),
                "fix the catalog (patches, exceptions) or the profile",
            )
    return bundle


def _exception_key(e: ExceptionSpec) -> tuple[str, ResourceRef]:
    return (e.rule, e.resource)

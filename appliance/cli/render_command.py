"""`appliance render` and `appliance fetch`: glue over appliance.render and appliance.sources."""

from __future__ import annotations

import json
from pathlib import Path

import click

from appliance.catalog import load_catalog
from appliance.catalog.model import Catalog
from appliance.cli.context import pass_console
from appliance.config import profile as profiles
from appliance.console import Console
from appliance.errors import BadInput
from appliance.inventory import Inventory, inventory, table
from appliance.render import render_profile
from appliance.render.bundle import check_target
from appliance.runtime.output import check_file, write_text
from appliance.sources import cache
from appliance.sources.fetch import Fetcher
from appliance.sources.images import LOCK_PATH

PROFILE_HELP = "Profile name (see profiles/) or path of a profile file."


@click.command("render")
@click.option("--profile", "profile_names", multiple=True,
              help=PROFILE_HELP + " Repeatable with --inventory.")
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="A .yaml file (one multi-document file) or a directory (one file per object "
                   "plus hardening.json); missing directories are created. Default: stdout.")
@click.option("--inventory", "show_inventory", is_flag=True,
              help="Print pods, containers, images, requests, CRDs and cluster RBAC per profile, "
                   "and the same for the full Kubeflow platform.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Inventory format.")
@click.option("--images", "show_images", is_flag=True,
              help="Print the bundle's images instead (pod templates and runtime images), one per "
                   "line, pinned by digest where the lock has them.")
# A lock named explicitly must exist: a typo would otherwise render unpinned images silently.
@click.option("--lock", "lock_path", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              default=None,
              help=f"Image digest lock file (default {LOCK_PATH.relative_to(LOCK_PATH.parents[1])}).")
@pass_console
def render(console: Console, profile_names: tuple[str, ...], output: Path | None,
           show_inventory: bool, fmt: str, show_images: bool, lock_path: Path | None) -> None:
    """Render a profile to hardened, validated Kubernetes manifests (offline, deterministic)."""
    if show_inventory and show_images:
        raise BadInput("--inventory and --images exclude each other", "", "give one of them")
    if show_inventory:
        if output is not None:
            check_file(output, "-o")  # before minutes of rendering, not after
        names = list(profile_names) or profiles.available()
        rows = [_inventory(console, name, lock_path) for name in names]
        catalog = load_catalog()
        rows.append(_platform(catalog))
        text = (json.dumps([r.as_record() for r in rows], indent=2) + "\n" if fmt == "json"
                else table(rows))
        _emit(console, text, output)
        return
    if len(profile_names) > 1:
        raise BadInput("render takes one --profile", f"got {len(profile_names)}",
                       "repeat --profile only with --inventory")
    name = profile_names[0] if profile_names else profiles.DEFAULT_PROFILE
    if output is not None and show_images:
        check_file(output, "-o")
    elif output is not None:
        check_target(output)
    with console.step(f"render profile {name}"):
        bundle = render_profile(name, lock_path=lock_path)
    pinned = sum(1 for i in bundle.images() if "@sha256:" in i)
    console.info(f"  {len(bundle.objects)} objects, {len(bundle.changes)} hardening changes, "
                 f"{len(bundle.exceptions)} accepted exceptions, "
                 f"{pinned}/{len(bundle.images())} images pinned by digest")
    if show_images:
        _emit(console, "".join(f"{image}\n" for image in bundle.images()), output)
        return
    if output is None:
        console.report(bundle.to_yaml())
        return
    written = bundle.write(output)
    console.ok(f"wrote {len(written)} file(s) to {output}")


def _inventory(console: Console, name: str, lock_path: Path | None) -> Inventory:
    bundle = render_profile(name, lock_path=lock_path)
    console.debug(f"rendered {name}: {len(bundle.objects)} objects")
    return inventory(bundle.profile, bundle.objects)


def _platform(catalog: Catalog) -> Inventory:
    source = catalog.sources[catalog.comparison]
    return inventory(f"{catalog.comparison} (full)", cache.read_documents(source))


def _emit(console: Console, text: str, output: Path | None) -> None:
    if output is None:
        console.report(text)
    else:
        write_text(output, text, "-o")
        console.ok(f"wrote {output}")


@click.command("fetch")
@click.option("--profile", "profile_names", multiple=True,
              help=PROFILE_HELP + " Repeatable. Default: every pinned source.")
@click.option("--from", "from_dir", type=click.Path(path_type=Path, file_okay=False, exists=True),
              help="Fill the cache from a directory of pinned files (verified) instead of upstream.")
@pass_console
def fetch(console: Console, profile_names: tuple[str, ...], from_dir: Path | None) -> None:
    """Fill the upstream cache from pinned sources (online) and verify every file's sha256."""
    catalog = load_catalog()
    wanted = _sources_for(catalog, profile_names)
    directory = cache.write_dir()
    fetcher = Fetcher(directory, also=tuple(d for d in cache.cache_dirs() if d != directory),
                      progress=console.progress)
    fetched = 0
    for source_id in wanted:
        source = catalog.sources[source_id]
        with console.step(f"{source_id} ({source.file})"):
            try:
                result = fetcher.fetch(source, from_dir)
            finally:
                console.end_progress()
        if result.warning:
            console.info(f"  warning: {result.warning}")
        if result.kustomize:
            console.info(f"  rendered with kustomize {result.kustomize}")
        fetched += result.status != "present"
        console.debug(f"  {result.status}: {result.path}")
    console.ok(f"cache {directory}: {len(wanted)} source(s) verified, {fetched} fetched now")


def _sources_for(catalog: Catalog, profile_names: tuple[str, ...]) -> list[str]:
    if not profile_names:
        return sorted(catalog.sources)
    wanted: set[str] = set()
    for name in profile_names:
        for component in profiles.load(name).components:
            wanted.update(use.source for use in catalog.components[component].sources)
    return sorted(wanted)

"""`appliance lock`: glue over the registry resolver and the image lock file."""

from __future__ import annotations

from pathlib import Path

import click

from appliance.cli.context import pass_console
from appliance.config import profile as profiles
from appliance.console import Console
from appliance.errors import ApplianceError, BadInput, ExternalCommandFailed
from appliance.k8s.images import ImageRef
from appliance.render import render_profile
from appliance.runtime.output import check_file, write_text
from appliance.sources.images import checkout_lock, dump_lock, load_lock, updated_lock
from appliance.sources.registry import RegistryResolver


@click.command("lock")
@click.option("--profile", "profile_names", multiple=True,
              help="Profile name or file whose images to lock (repeatable). Default: every shipped "
                   "profile, and entries no profile uses any more are dropped.")
@click.option("--image", "extra_images", multiple=True,
              help="Also lock this image reference (name:tag, repeatable).")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
              help="Lock file to write (updated when it exists). Default in a checkout: "
                   "profiles/images.lock.yaml; required from an installed wheel.")
@click.option("--insecure-registry", "insecure", multiple=True, metavar="HOST:PORT",
              help="A registry reached over plain HTTP (a local test registry).")
@pass_console
def lock(console: Console, profile_names: tuple[str, ...], extra_images: tuple[str, ...],
         output: Path | None, insecure: tuple[str, ...]) -> None:
    """Resolve every image of the rendered profiles to a digest through its registry and write the lock.

    Images are those of Bundle.images(): pod templates and the runtime images controllers start.
    Each tag is resolved with the registry's HTTP API (an index digest for multi-arch images);
    `render` pins the images the lock holds (`render --lock FILE` for another lock file).
    """
    for image in extra_images:
        try:
            ImageRef.parse(image)
        except ValueError as exc:
            raise BadInput(str(exc), "", "give name:tag, e.g. quay.io/minio/minio:RELEASE...") from exc
    target = output or checkout_lock()
    if target is None:
        raise BadInput("appliance lock needs --output FILE here",
                       "the shipped lock of an installed wheel is package data, not a file to edit",
                       "give --output FILE, then render with --lock FILE")
    check_file(target, "--output")
    current = load_lock(target)
    wanted = set(extra_images)
    names = list(profile_names) or ([] if extra_images else profiles.available())
    for name in names:
        with console.step(f"render profile {name}"):
            # Without a lock, so that every image shows its tag.
            wanted.update(render_profile(name, lock={}).images())
    resolver = RegistryResolver(insecure=frozenset(insecure))
    tags = sorted(i for i in wanted if "@" not in i)
    resolved: dict[str, str] = {}
    failed: list[str] = []
    for index, image in enumerate(tags, 1):
        console.progress(f"[{index}/{len(tags)}] {image}")
        try:
            resolved[image] = resolver.resolve(image)
        except ApplianceError as exc:
            console.end_progress()
            console.fail(f"{image}: {exc.render()}")
            failed.append(image)
            continue
        console.end_progress()
        console.ok(f"{image} -> {resolved[image]}")
    # A run over every shipped profile is the whole set: what no profile uses is dropped.
    everything = not profile_names and not extra_images
    locked = updated_lock(current, resolved, set(tags) if everything and not failed else None)
    write_text(target, dump_lock(locked), "--output")
    console.info(f"lock {target}: {len(locked)} image(s), {len(resolved)} resolved now")
    if failed:
        raise ExternalCommandFailed("registry manifest lookups", "\n".join(failed),
                                    f"{len(failed)} image(s) not resolved (they stay tags)",
                                    "check the names and the network, then run `appliance lock` again")

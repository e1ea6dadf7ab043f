"""Container images: mutable tags (latest or none) and tags not pinned by digest."""

from __future__ import annotations

from collections.abc import Iterable

from appliance.k8s.images import split_image
from appliance.review.model import Finding, Rule, Severity
from appliance.review.rules.base import Context

MUTABLE = Rule("images.mutable-tag", "Image uses latest or no tag", Severity.MEDIUM,
               "pin the image by digest (name:tag@sha256:...)", "images")
NO_DIGEST = Rule("images.no-digest", "Image not pinned by digest", Severity.LOW,
                 "pin the image by digest (name:tag@sha256:...)", "images")
RULES: tuple[Rule, ...] = (MUTABLE, NO_DIGEST)


def check(ctx: Context) -> Iterable[Finding]:
    for o in ctx.bundle.objects:
        for view in o.views:
            for c in view.containers:
                image = c.spec.get("image")
                if not isinstance(image, str) or not image or "$" in image or "{{" in image:
                    continue  # no image (a KServe storageUri model) or filled in at run time
                _, tag, digest = split_image(image)
                role = f"{view.role}: " if view.role else ""
                if digest:
                    continue
                if tag in ("", "latest"):
                    what = "no tag (latest)" if not tag else "the mutable tag latest"
                    yield ctx.finding(o, MUTABLE, (*c.path, "image"),
                                      f"{role}container {c.name!r} image {image} uses {what}",
                                      container=c.name)
                else:
                    yield ctx.finding(o, NO_DIGEST, (*c.path, "image"),
                                      f"{role}container {c.name!r} image {image} is not pinned "
                                      "by digest", container=c.name)

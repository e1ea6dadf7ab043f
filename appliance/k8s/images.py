"""Container image references: split as written (lenient) or parsed and normalised (strict)."""

from __future__ import annotations

import re
from dataclasses import dataclass

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
# The distribution reference grammar (github.com/distribution/reference): host[:port], lowercase
# path components joined by '.', '_', '__' or '-'s, a tag of word characters, '.' and '-'.
_DOMAIN = re.compile(r"^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
                     r"(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?$")
_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")


def split_image(image: str) -> tuple[str, str, str]:
    """(name, tag, digest) as written, never failing: name keeps its registry, and tag and digest
    are "" when absent (no default tag)."""
    name, _, digest = image.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1:], digest
    return name, "", digest


@dataclass(frozen=True)
class ImageRef:
    """A parsed image reference: registry host, repository path, tag and/or digest."""

    registry: str
    repository: str
    tag: str
    digest: str

    @staticmethod
    def parse(text: str) -> ImageRef:
        """Normalised as containerd names it (docker.io, library/, latest); ValueError when the
        text is not a valid reference."""
        name, tag, digest = split_image(text)
        first, slash, remainder = name.partition("/")
        if slash and ("." in first or ":" in first or first == "localhost"):
            registry, path = first, remainder
        else:
            registry, path = DOCKER_HUB, name
        if registry == DOCKER_HUB and "/" not in path:
            path = f"library/{path}"
        if not path or (digest and not DIGEST.match(digest)) or not _valid(registry, path, tag):
            raise ValueError(f"not an image reference: {text!r}")
        return ImageRef(registry, path, tag or ("" if digest else "latest"), digest)

    @property
    def api_host(self) -> str:
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry


def _valid(registry: str, name: str, tag: str) -> bool:
    return bool(_DOMAIN.match(registry) and all(_COMPONENT.match(c) for c in name.split("/"))
                and (not tag or _TAG.match(tag)))

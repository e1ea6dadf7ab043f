"""Image digests: parse references, resolve tags through the registry manifest API, the lock file."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import yaml

from appliance import safe_yaml
from appliance.errors import ExternalCommandFailed, InvalidDocument
from appliance.paths import shipped

LOCK_PATH = shipped("images.lock.yaml")
LOCK_API_VERSION = "appliance.dev/v1alpha1"
DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
# The distribution reference grammar (github.com/distribution/reference): host[:port], lowercase
# path components joined by '.', '_', '__' or '-'s, a tag of word characters, '.' and '-'.
_DOMAIN = re.compile(r"^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
                     r"(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?$")
_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
# Index/list types first: the digest we pin is the multi-arch one a node resolves a tag to.
MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)


@dataclass(frozen=True)
class ImageRef:
    """A parsed image reference: registry host, repository path, tag and/or digest."""

    registry: str
    repository: str
    tag: str
    digest: str

    @staticmethod
    def parse(text: str) -> ImageRef:
        rest, _, digest = text.partition("@")
        first, slash, remainder = rest.partition("/")
        if slash and ("." in first or ":" in first or first == "localhost"):
            registry, path = first, remainder
        else:
            registry, path = DOCKER_HUB, rest
        name, colon, tag = path.rpartition(":") if ":" in path else (path, "", "")
        if not colon:
            name, tag = path, ""
        if registry == DOCKER_HUB and "/" not in name:
            name = f"library/{name}"
        if not name or (digest and not _DIGEST.match(digest)) or not _valid(registry, name, tag):
            raise ValueError(f"not an image reference: {text!r}")
        return ImageRef(registry, name, tag or ("" if digest else "latest"), digest)

    @property
    def api_host(self) -> str:
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry


def _valid(registry: str, name: str, tag: str) -> bool:
    return bool(_DOMAIN.match(registry) and all(_COMPONENT.match(c) for c in name.split("/"))
                and (not tag or _TAG.match(tag)))


def pin(image: str, lock: dict[str, str]) -> str | None:
    """`image:tag@digest` when the lock has the tag, else None (the image stays a tag)."""
    if "@" in image:
        return None
    digest = lock.get(image)
    return f"{image}@{digest}" if digest else None


class RegistryResolver:
    """Resolves tags to digests with the Docker Registry HTTP API v2 (token auth included)."""

    def __init__(self, session: requests.Session | None = None, insecure: frozenset[str] = frozenset()):
        self.session = session or requests.Session()
        # Registries reached over plain HTTP (a local test registry); everything else is HTTPS.
        self.insecure = insecure

    def resolve(self, image: str) -> str:
        ref = ImageRef.parse(image)
        if ref.digest:
            return ref.digest
        scheme = "http" if ref.api_host in self.insecure else "https"
        url = f"{scheme}://{ref.api_host}/v2/{ref.repository}/manifests/{ref.tag}"
        headers = {"Accept": MANIFEST_TYPES}
        response = self._request("HEAD", url, headers)
        if response.status_code == 401:
            headers["Authorization"] = f"Bearer {self._token(response, url)}"
            response = self._request("HEAD", url, headers)
        if response.status_code != 200:
            raise ExternalCommandFailed(f"HEAD {url}", response.text[:300], f"HTTP {response.status_code}",
                                        "check the image name and tag")
        digest = response.headers.get("Docker-Content-Digest", "")
        if not digest:
            # Some registries omit the header on HEAD: the digest is the manifest's own sha256.
            body = self._request("GET", url, headers)
            if body.status_code != 200:
                raise ExternalCommandFailed(f"GET {url}", body.text[:300], f"HTTP {body.status_code}")
            digest = "sha256:" + hashlib.sha256(body.content).hexdigest()
        if not _DIGEST.match(digest):
            raise ExternalCommandFailed(f"HEAD {url}", digest, "the registry sent no valid digest")
        return digest

    def _request(self, method: str, url: str, headers: dict[str, str]) -> requests.Response:
        try:
            return self.session.request(method, url, headers=headers, timeout=30)
        except requests.RequestException as exc:
            raise ExternalCommandFailed(f"{method} {url}", str(exc), "the registry is unreachable") from exc

    def _token(self, challenge: requests.Response, url: str) -> str:
        header = challenge.headers.get("WWW-Authenticate", "")
        scheme, _, params_text = header.partition(" ")
        if scheme.lower() != "bearer":
            raise ExternalCommandFailed(f"HEAD {url}", header, "the registry asks for unsupported auth")
        params = dict(re.findall(r'(\w+)="([^"]*)"', params_text))
        realm = params.pop("realm", "")
        if not realm:
            raise ExternalCommandFailed(f"HEAD {url}", header, "the auth challenge names no realm")
        try:
            response = self.session.get(realm, params=params, timeout=30)
        except requests.RequestException as exc:
            raise ExternalCommandFailed(f"GET {realm}", str(exc), "the token service is unreachable") from exc
        if response.status_code != 200:
            raise ExternalCommandFailed(f"GET {realm}", response.text[:300], f"HTTP {response.status_code}")
        data = response.json()
        token = data.get("token") or data.get("access_token")
        if not isinstance(token, str) or not token:
            raise ExternalCommandFailed(f"GET {realm}", response.text[:300], "no token in the answer")
        return token


def load_lock(path: Path = LOCK_PATH) -> dict[str, str]:
    """The lock's image -> digest map; an absent file is an empty lock."""
    if not path.is_file():
        return {}
    try:
        data: Any = safe_yaml.load(path.read_text(encoding="utf-8"), str(path))
    except yaml.YAMLError as exc:
        raise InvalidDocument(str(path), [f"not valid YAML: {exc}".replace("\n", " ")]) from exc
    problems: list[str] = []
    if not isinstance(data, dict):
        raise InvalidDocument(str(path), ["expected a mapping"])
    for key in sorted(set(data) - {"apiVersion", "kind", "images"}):
        problems.append(f"{key}: unknown field")
    if data.get("apiVersion") != LOCK_API_VERSION or data.get("kind") != "ImageLock":
        problems.append(f"expected apiVersion {LOCK_API_VERSION} and kind ImageLock")
    images = data.get("images") or {}
    if not isinstance(images, dict):
        problems.append("images: expected a mapping of image to digest")
        images = {}
    for image, digest in images.items():
        if not isinstance(digest, str) or not _DIGEST.match(digest):
            problems.append(f"images.{image}: expected sha256:<64 hex>, got {digest!r}")
        elif "@" in str(image):
            problems.append(f"images.{image}: key must be a tag reference without a digest")
    if problems:
        raise InvalidDocument(str(path), problems, "run `appliance fetch --images` to rewrite it")
    return {str(k): str(v) for k, v in images.items()}


def dump_lock(images: dict[str, str]) -> str:
    body = {"apiVersion": LOCK_API_VERSION, "kind": "ImageLock", "images": dict(sorted(images.items()))}
    header = "# Image digests resolved by `appliance fetch --images`; render pins images found here.\n"
    return header + yaml.safe_dump(body, sort_keys=False, default_flow_style=False)

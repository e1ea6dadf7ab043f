"""The registries' HTTP API v2: resolve an image tag to the digest a node pulls (index digest first)."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import requests

from appliance.errors import ExternalCommandFailed
from appliance.k8s.images import DIGEST, ImageRef

Sleep = Callable[[float], None]

# Index/list types first: the digest we lock is the multi-arch one a node resolves a tag to, not
# one platform's manifest (which a registry sends only to a client that accepts no index).
INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json")
MANIFEST_TYPES = (*INDEX_TYPES, "application/vnd.oci.image.manifest.v1+json",
                  "application/vnd.docker.distribution.manifest.v2+json")
ACCEPT = ", ".join(MANIFEST_TYPES)
# Longest Retry-After honoured by waiting; a longer one (Docker Hub's hourly window) fails at once.
MAX_WAIT = 60.0
RATE_LIMIT_FIX = ("wait, then run `appliance lock` again (anonymous pulls are rate-limited per "
                  "address; Docker Hub counts them over hours)")


@dataclass(frozen=True)
class Challenge:
    """A `WWW-Authenticate: Bearer realm=...,service=...,scope=...` answer: where to get a token."""

    realm: str
    service: str = ""
    scope: str = ""

    def params(self) -> dict[str, str]:
        return {k: v for k, v in (("service", self.service), ("scope", self.scope)) if v}


def parse_challenge(header: str, request: str) -> Challenge:
    """The Bearer challenge of a 401 answer; anything else is a clear failure (no credentials here)."""
    scheme, _, params_text = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        why = ("the registry asks for credentials (Basic auth), which the appliance does not send"
               if scheme.lower() == "basic" else f"unsupported authentication {header!r}")
        raise ExternalCommandFailed(request, header, why,
                                    "lock images of public registries, or pin the digest by hand")
    params = dict(re.findall(r'(\w+)="([^"]*)"', params_text))
    if not params.get("realm"):
        raise ExternalCommandFailed(request, header, "the auth challenge names no realm")
    return Challenge(params["realm"], params.get("service", ""), params.get("scope", ""))


def wait_seconds(retry_after: str | None, attempt: int) -> float | None:
    """How long to wait before retry `attempt` (1-based) after a 429: Retry-After in seconds when
    given, else exponential backoff (1, 2, 4 ... s); None when the registry asks for longer than
    MAX_WAIT (waiting that long is worse than a clear error)."""
    if retry_after is not None and retry_after.strip().isdigit():
        seconds = float(retry_after.strip())
        return seconds if seconds <= MAX_WAIT else None
    # An HTTP-date or nothing: back off (a date needs a clock, and registries send seconds).
    return float(2 ** (attempt - 1))


class RegistryResolver:
    """Resolves tags to digests with HEAD /v2/<name>/manifests/<tag>, anonymous Bearer tokens
    (Docker Hub, ghcr.io, gcr.io, quay.io), and retries of rate-limited requests."""

    def __init__(
        self,
        session: requests.Session | None = None,
        insecure: frozenset[str] = frozenset(),
        sleep: Sleep = time.sleep,
        attempts: int = 4,
    ) -> None:
        self.session = session or requests.Session()
        # Registries reached over plain HTTP (a local test registry); everything else is HTTPS.
        self.insecure = insecure
        self.sleep = sleep
        self.attempts = attempts
        self._challenges: dict[str, Challenge | None] = {}  # per registry: its /v2/ answer
        self._tokens: dict[Challenge, str] = {}

    def resolve(self, image: str) -> str:
        ref = ImageRef.parse(image)
        if ref.digest:
            return ref.digest
        base = f"{'http' if ref.api_host in self.insecure else 'https'}://{ref.api_host}"
        url = f"{base}/v2/{ref.repository}/manifests/{ref.tag}"
        headers = {"Accept": ACCEPT}
        scope = f"repository:{ref.repository}:pull"
        challenge = self._registry_challenge(base)
        if challenge is not None:
            headers["Authorization"] = f"Bearer {self._token(replace(challenge, scope=scope), url)}"
        response = self._request("HEAD", url, headers)
        if response.status_code == 401:
            # This repository answers with a challenge of its own (another realm or scope).
            found = parse_challenge(response.headers.get("WWW-Authenticate", ""), f"HEAD {url}")
            token = self._token(replace(found, scope=found.scope or scope), url)
            headers["Authorization"] = f"Bearer {token}"
            response = self._request("HEAD", url, headers)
        if response.status_code != 200:
            why = f"HTTP {response.status_code}"
            if response.status_code == 404:
                why += ": no such image or tag"
            raise ExternalCommandFailed(f"HEAD {url}", response.text[:300], why,
                                        "check the image name and tag")
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        if media_type and media_type not in MANIFEST_TYPES:
            raise ExternalCommandFailed(f"HEAD {url}", media_type,
                                        f"the registry answered with a {media_type} manifest",
                                        "lock an image published with an OCI or Docker v2 manifest")
        digest = response.headers.get("Docker-Content-Digest", "")
        if not digest:
            # Some registries omit the header on HEAD: the digest is the sha256 of the manifest bytes.
            body = self._request("GET", url, headers)
            if body.status_code != 200:
                raise ExternalCommandFailed(f"GET {url}", body.text[:300], f"HTTP {body.status_code}")
            digest = "sha256:" + hashlib.sha256(body.content).hexdigest()
        if not DIGEST.match(digest):
            raise ExternalCommandFailed(f"HEAD {url}", digest, "the registry sent no valid sha256 digest")
        return digest

    def _registry_challenge(self, base: str) -> Challenge | None:
        """GET /v2/ once per registry: 200 means anonymous access, 401 names the token service."""
        if base not in self._challenges:
            url = f"{base}/v2/"
            response = self._request("GET", url)
            if response.status_code == 200:
                self._challenges[base] = None
            elif response.status_code == 401:
                challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""), f"GET {url}")
                self._challenges[base] = challenge
            else:
                raise ExternalCommandFailed(f"GET {url}", response.text[:300], f"HTTP {response.status_code}",
                                            "is this a container registry?")
        return self._challenges[base]

    def _token(self, challenge: Challenge, url: str) -> str:
        if challenge not in self._tokens:
            response = self._request("GET", challenge.realm, params=challenge.params())
            if response.status_code != 200:
                raise ExternalCommandFailed(f"GET {challenge.realm}", response.text[:300],
                                            f"HTTP {response.status_code} from the token service of {url}")
            try:
                data: Any = response.json()
            except ValueError:
                data = None
            token = (data.get("token") or data.get("access_token")) if isinstance(data, dict) else None
            if not isinstance(token, str) or not token:
                raise ExternalCommandFailed(f"GET {challenge.realm}", response.text[:300],
                                            "no token in the answer")
            self._tokens[challenge] = token
        return self._tokens[challenge]

    def _request(self, method: str, url: str, headers: dict[str, str] | None = None,
                 params: dict[str, str] | None = None) -> requests.Response:
        """One request, retried after 429 answers (Retry-After, else backoff) up to `attempts`."""
        for attempt in range(1, self.attempts + 1):
            try:
                response = self.session.request(method, url, headers=headers, params=params, timeout=30)
            except requests.RequestException as exc:
                raise ExternalCommandFailed(f"{method} {url}", str(exc), "the registry is unreachable",
                                            "check the network") from exc
            if response.status_code != 429:
                return response
            retry_after = response.headers.get("Retry-After")
            wait = wait_seconds(retry_after, attempt)
            if wait is None:
                why = f"HTTP 429: rate limited, the registry asks to wait {retry_after}s"
                raise ExternalCommandFailed(f"{method} {url}", response.text[:300], why, RATE_LIMIT_FIX)
            if attempt == self.attempts:
                break
            self.sleep(wait)
        raise ExternalCommandFailed(f"{method} {url}", response.text[:300],
                                    f"HTTP 429: still rate limited after {self.attempts} attempts",
                                    RATE_LIMIT_FIX)

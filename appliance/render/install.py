"""Install-time inputs: fill generated credentials and webhook certificates into a rendered bundle.

Rendering stays byte-deterministic and secret-free; a target calls `materialize` right before it
applies the bundle, keeps the returned values (0600 file), and passes them back on re-install.
Filled Secrets carry base64 `data` only: `stringData` is a write-only convenience that
server-side apply would record as a field the appliance owns but the API server never returns.
"""

from __future__ import annotations

import base64
import datetime
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from appliance.errors import BadInput
from appliance.harden.credentials import generated_keys
from appliance.harden.model import copy
from appliance.k8s.refs import ResourceRef

GENERATED_TLS = "appliance.dev/generated-tls"
INJECT_CA_FROM = "appliance.dev/inject-ca-from"
# Letters and digits only: values end up in shell probes and DSNs where quoting varies.
ALPHABET = string.ascii_letters + string.digits
CERT_DAYS = 825


def random_token(length: int = 32) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


@dataclass(frozen=True)
class Materialized:
    objects: list[dict[str, Any]]
    values: dict[str, str]  # credential id -> value, and tls:<ns>/<name>:<key> -> PEM


def materialize(
    objects: list[dict[str, Any]],
    values: dict[str, str] | None = None,
    token: Callable[[], str] = random_token,
) -> Materialized:
    """Objects ready to apply: generated Secret keys filled (reusing `values` where given), TLS
    Secrets issued, and CA bundles patched into webhooks that ask for them."""
    known = dict(values or {})
    out = [copy(o) for o in objects]
    issued: dict[ResourceRef, str] = {}  # generated TLS Secret -> its CA (PEM)
    for obj in out:
        if obj.get("kind") != "Secret":
            continue
        # Literal upstream stringData too (the API server lets it win over data for a key).
        plain: dict[str, str] = {str(k): str(v) for k, v in (obj.pop("stringData", None) or {}).items()}
        for key, credential in sorted(generated_keys(obj).items()):
            if credential not in known:
                known[credential] = token()
            plain[key] = known[credential]
        names = ((obj.get("metadata") or {}).get("annotations") or {}).get(GENERATED_TLS)
        if names:
            plain.update(_issue(obj, [n.strip() for n in names.split(",") if n.strip()], known))
            issued[ResourceRef.of(obj)] = plain["ca.crt"]
        if plain:
            data = {**(obj.get("data") or {}), **{key: _b64(value) for key, value in plain.items()}}
            obj["data"] = dict(sorted(data.items()))
    for obj in out:
        source = ((obj.get("metadata") or {}).get("annotations") or {}).get(INJECT_CA_FROM)
        if not source:
            continue
        namespace, _, name = source.partition("/")
        ca = issued.get(ResourceRef("Secret", namespace, name))
        if ca is None:
            raise BadInput(f"{ResourceRef.of(obj)} asks for the CA of Secret {source}",
                           "that Secret is not a generated TLS Secret of this bundle",
                           "fix appliance.dev/inject-ca-from in the catalog")
        for webhook in obj.get("webhooks") or []:
            webhook.setdefault("clientConfig", {})["caBundle"] = _b64(ca)
    return Materialized(out, known)


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def _issue(secret: dict[str, Any], dns_names: list[str], known: dict[str, str]) -> dict[str, str]:
    """The TLS Secret's keys (PEM), issued once and reused from `known` afterwards."""
    ref = ResourceRef.of(secret)
    prefix = f"tls:{ref.namespace}/{ref.name}:"
    if not all(prefix + k in known for k in ("ca.crt", "tls.crt", "tls.key")):
        ca_pem, cert_pem, key_pem = issue_certificate(dns_names)
        known.update({prefix + "ca.crt": ca_pem, prefix + "tls.crt": cert_pem, prefix + "tls.key": key_pem})
    return {key: known[prefix + key] for key in ("ca.crt", "tls.crt", "tls.key")}


def issue_certificate(dns_names: list[str]) -> tuple[str, str, str]:
    """A fresh self-signed CA and a serving certificate for dns_names: (ca PEM, cert PEM, key PEM)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "appliance webhook CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CERT_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                       critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_names[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CERT_DAYS))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return ca.public_bytes(pem).decode(), cert.public_bytes(pem).decode(), key_pem.decode()

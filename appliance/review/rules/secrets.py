"""Credentials in manifests: well-known defaults, literal secrets in env, secrets in ConfigMaps."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from typing import Any

from appliance.review.graph import Obj
from appliance.review.model import Finding, Path, Rule, Severity
from appliance.review.rules.base import Context

DEFAULT_CREDENTIALS = Rule(
    "secrets.default-credentials", "Well-known default credential", Severity.CRITICAL,
    "generate the credential per install, keep it in a Secret, and rewire every reference",
    "secrets")
LITERAL_ENV = Rule("secrets.literal-env", "Secret value written literally in env", Severity.HIGH,
                   "move the value to a Secret and use valueFrom.secretKeyRef", "secrets")
CONFIGMAP = Rule("secrets.configmap", "Secret-looking value in a ConfigMap", Severity.MEDIUM,
                 "move the value to a Secret", "secrets")
RULES: tuple[Rule, ...] = (DEFAULT_CREDENTIALS, LITERAL_ENV, CONFIGMAP)

# Values published in upstream manifests and docs: anyone can log in with them.
_KNOWN_VALUES = {
    "minio123": "MinIO secret key minio123 (Kubeflow Pipelines' upstream default, access key "
                "minio)",
    "minioadmin": "MinIO's built-in default credential minioadmin",
    "$2y$12$4K/VkmDd1q1Orb3xAt82zu8gk7Ad6ReFR4LCP9UeYE90NLiN9Df72":
        "Dex example password hash from Kubeflow manifests (user@example.com / 12341234)",
    "$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W":
        "Dex example password hash (the password is 'password')",
    "pUBnBOY80SnXgjibTYM9ZWNzY2xreNGQok":
        "Kubeflow manifests' example OIDC client secret",
}
# Weak values that are defaults somewhere in the stack when they sit under a password-like key.
_WEAK_PASSWORDS = {"test": "Katib's default MySQL root password 'test'",
                   "password": "the password 'password'", "changeme": "the password 'changeme'",
                   "admin": "the password 'admin'", "root": "the password 'root'",
                   "12341234": "Kubeflow's example password 12341234"}
_PASSWORD_KEY = re.compile(r"pass(word|wd)|(^|[_.-])pass($|[_.-])|(^|[_.-])pwd$", re.IGNORECASE)
_EMPTY_PASSWORD_FLAGS = {"MYSQL_ALLOW_EMPTY_PASSWORD", "MARIADB_ALLOW_EMPTY_ROOT_PASSWORD",
                         "MYSQL_ALLOW_EMPTY_ROOT_PASSWORD"}
_SECRET_NAME = re.compile(
    r"(pass(word|wd)?|secret|token|api[_-]?key|private[_-]?key|access[_-]?key|credentials?)",
    re.IGNORECASE)
# Names that mention a secret but hold no secret value (a path, a name, a switch, a header).
_NOT_A_VALUE = re.compile(
    r"(_|-|\.)(file|path|dir|name|ref|header|prefix|url|uri|endpoint|host|port|id|enabled?|"
    r"disabled?|ttl|timeout|length|size|type|mode|key_?id|namespace|mount)$", re.IGNORECASE)
_FILE_LIKE = re.compile(r"\.(py|ya?ml|json|conf|cfg|ini|toml|txt|sh|xml|properties|tpl|j2|js)$",
                        re.IGNORECASE)
_VALUE_PATTERNS = (
    (re.compile(r"-----BEGIN ([A-Z]+ )?PRIVATE KEY-----"), "a PEM private key"),
    (re.compile(r"\bAKIA[0-9A-Z]{16}\b"), "an AWS access key id"),
)


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _is_placeholder(value: str) -> bool:
    """Values that are not a secret token: empty, switches, numbers, paths, references, and
    structured text (JSON/YAML config holds key names such as `credentials`, not secrets)."""
    lowered = value.strip().lower()
    return (not lowered or len(lowered.split()) > 1 or lowered[0] in "{["
            or lowered in ("true", "false", "yes", "no", "null", "none")
            or lowered.replace(".", "", 1).isdigit() or value.startswith("/")
            or "$(" in value or "${" in value or "{{" in value)


def _secret_values(o: Obj) -> Iterable[tuple[Path, str, str]]:
    """(path, key, value) of a Secret's stringData and decoded data."""
    for key, value in sorted(_d(o.obj.get("stringData")).items()):
        yield ("stringData", key), str(key), "" if value is None else str(value)
    for key, value in sorted(_d(o.obj.get("data")).items()):
        try:
            decoded = base64.b64decode(str(value or ""), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue  # binary data (certificates, keystores) is not a password
        yield ("data", key), str(key), decoded


def known_default(key: str, value: str) -> str | None:
    """Why this key/value is a well-known default credential, or None."""
    if value in _KNOWN_VALUES:
        return _KNOWN_VALUES[value]
    for known, why in _KNOWN_VALUES.items():
        if len(known) > 20 and known in value:
            return why  # hashes and client secrets embedded in a config file
    if _PASSWORD_KEY.search(key) and value.strip().lower() in _WEAK_PASSWORDS:
        return _WEAK_PASSWORDS[value.strip().lower()]
    return None


def check(ctx: Context) -> Iterable[Finding]:
    for o in ctx.bundle.by_kind["Secret"]:
        yield from _check_secret(ctx, o)
    for o in ctx.bundle.by_kind["ConfigMap"]:
        yield from _check_configmap(ctx, o)
    for o in ctx.bundle.objects:
        for view in o.views:
            for c in view.containers:
                yield from _check_env(ctx, o, view.role, c.name, c.path, c.spec.get("env"))


def _check_secret(ctx: Context, o: Obj) -> Iterable[Finding]:
    values = list(_secret_values(o))
    by_key = {key: value for _, key, value in values}
    for path, key, value in values:
        why = known_default(key, value)
        if why is None and _PASSWORD_KEY.search(key) and value == "" and \
                by_key.get("username", by_key.get("user")) == "root":
            why = "an empty password for the MySQL root user"
        if why is not None:
            yield ctx.finding(o, DEFAULT_CREDENTIALS, path,
                              f"Secret {o.name} key {key} holds {why}")


def _check_configmap(ctx: Context, o: Obj) -> Iterable[Finding]:
    for key, value in sorted(_d(o.obj.get("data")).items()):
        key, text = str(key), "" if value is None else str(value)
        path: Path = ("data", key)
        why = known_default(key, text)
        if why is not None:
            yield ctx.finding(o, DEFAULT_CREDENTIALS, path,
                              f"ConfigMap {o.name} key {key} holds {why}")
            continue
        for pattern, what in _VALUE_PATTERNS:
            if pattern.search(text):
                yield ctx.finding(o, CONFIGMAP, path, f"ConfigMap {o.name} key {key} holds {what}")
                break
        else:
            if _secret_key(key) and not _FILE_LIKE.search(key) and not _is_placeholder(text):
                yield ctx.finding(o, CONFIGMAP, path,
                                  f"ConfigMap {o.name} key {key} looks like a secret value")


def _secret_key(name: str) -> bool:
    return bool(_SECRET_NAME.search(name)) and not _NOT_A_VALUE.search(name)


def _check_env(ctx: Context, o: Obj, role: str, container: str, cpath: Path,
               env: Any) -> Iterable[Finding]:
    if not isinstance(env, list):
        return
    prefix = f"{role}: " if role else ""
    for index, var in enumerate(env):
        var = _d(var)
        name, value = str(var.get("name") or ""), var.get("value")
        if value is None or "valueFrom" in var:
            continue
        value = str(value)
        path: Path = (*cpath, "env", index, "value")
        if name.upper() in _EMPTY_PASSWORD_FLAGS and value.lower() in ("true", "yes", "1"):
            yield ctx.finding(o, DEFAULT_CREDENTIALS, path,
                              f"{prefix}container {container!r} sets {name}={value}: the "
                              "database root user has an empty password", container=container)
            continue
        why = known_default(name, value)
        if why is not None:
            yield ctx.finding(o, DEFAULT_CREDENTIALS, path,
                              f"{prefix}container {container!r} env {name} holds {why}",
                              container=container)
        elif _secret_key(name) and not _is_placeholder(value):
            yield ctx.finding(o, LITERAL_ENV, path,
                              f"{prefix}container {container!r} env {name} has a literal value",
                              container=container)

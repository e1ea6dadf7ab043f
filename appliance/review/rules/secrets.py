"""Credentials in manifests: well-known defaults, literal secrets in env, secrets in ConfigMaps."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from appliance.k8s.data import as_dict
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
_EMPTY_PASSWORD_FLAGS = {"MYSQL_ALLOW_EMPTY_PASSWORD", "MARIADB_ALLOW_EMPTY_ROOT_PASSWORD",
                         "MYSQL_ALLOW_EMPTY_ROOT_PASSWORD"}

# Secret-like names are judged word by word: DB_PWD, dbPwd and db-pwd are the words db, pwd.
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
# Inside any word: PGPASSWORD, clientSecret, AWS_SHARED_CREDENTIALS.
_PASSWORD_PARTS = ("password", "passwd", "passphrase")
_SECRET_PARTS = (*_PASSWORD_PARTS, "secret", "credential")
# Abbreviations count as whole words only: BYPASS and COMPASS hold no `pass`.
_PASSWORD_WORDS = {"pwd", "pass"}
_SECRET_WORDS = {*_PASSWORD_WORDS, "creds"}
# Key compounds count wherever they are (API_KEY_VALUE, accesskey); any other key only as the
# last word (ENCRYPTION_KEY, azure_batch_key, AZUREKEY), and `jwt` only as the last word
# (JWT_AUDIENCE names a setting, JWT the token).
_KEY_COMPOUNDS = ("apikey", "accesskey", "privatekey")
# Keys that are public or name a place in data, not a secret: PUBLIC_KEY, sshPubKey,
# POD_LABEL_KEY, ANNOTATION_KEY, PARTITION_KEY, SORT_KEY, ROUTING_KEY, CACHE_KEY.
_NOT_SECRET_KEYS = ("public", "pub", "label", "annotation", "partition", "sort", "routing",
                    "cache")
# Words that only end in "key".
_ENGLISH_KEYS = {"hotkey", "turnkey", "monkey", "donkey", "turkey", "hockey", "jockey", "whiskey"}
# A last word that makes the name hold no secret value (a path, a name, a switch, a header).
_NOT_A_VALUE = {"file", "path", "dir", "name", "ref", "header", "prefix", "url", "uri", "endpoint",
                "host", "port", "id", "keyid", "enable", "enabled", "disable", "disabled", "ttl",
                "timeout", "length", "size", "type", "mode", "namespace", "mount"}
_FILE_LIKE = re.compile(r"\.(py|ya?ml|json|conf|cfg|ini|toml|txt|sh|xml|properties|tpl|j2|js)$",
                        re.IGNORECASE)
# The shell's working directory (in env, or a ConfigMap read with envFrom), not a password;
# a ConfigMap key `pwd` is one.
_SHELL_PWD = "PWD"
# Values that are a secret whatever name holds them; checked in ConfigMaps and literal env.
# Each has a plain substring that must be there: testing it first spares a regex scan of
# every value (a leading \b makes the scan for AKIA slow), most of the rule's time.
_VALUE_PATTERNS = (
    ("PRIVATE KEY-----", re.compile(r"-----BEGIN ([A-Z]+ )?PRIVATE KEY-----"),
     "a PEM private key"),
    ("AKIA", re.compile(r"\bAKIA[0-9A-Z]{16}\b"), "an AWS access key id"),
    # header.payload.signature, both JSON objects in base64url: they start with `{"` = eyJ.
    ("eyJ", re.compile(r"eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "a JWT"),
)
# Relative path segments are words (my/secret/file/path); base64 secrets such as AWS secret keys
# also hold `/` but mix cases inside a segment (wJalrXUtnFEMI/K7MDENG/...).
_PATH_SEGMENT = re.compile(r"[a-z0-9_.-]*|[A-Z0-9_.-]*|[A-Z][a-z0-9_.-]*")
_FILE_NAME = re.compile(r"[\w.-]+\.(json|ya?ml|txt|pem|key|crt|cer|p12|pfx|jks|env|conf|cfg|ini|"
                        r"properties|toml)", re.IGNORECASE)


@lru_cache(maxsize=4096)
def _words(name: str) -> tuple[str, ...]:
    return tuple(word.lower() for word in _WORD.findall(name))


def password_name(name: str) -> bool:
    """A name for a password: DB_PASSWORD, PGPASSWORD, pwd, SMTP_PASS, key_passphrase."""
    words = _words(name)
    return name != _SHELL_PWD and (
        any(part in word for word in words for part in _PASSWORD_PARTS)
        or any(word in _PASSWORD_WORDS for word in words))


@lru_cache(maxsize=4096)
def secret_name(name: str) -> bool:
    """A name whose value is a secret (docs/review.md, "Secrets in env and ConfigMaps")."""
    words = _words(name)
    if not words or words[-1] in _NOT_A_VALUE or _FILE_LIKE.search(name) or name == _SHELL_PWD:
        return False
    if any(part in word for word in words for part in _SECRET_PARTS) or \
            any(word in _SECRET_WORDS or word.endswith("token") for word in words):
        return True
    return words[-1] == "jwt" or _key_name(words)


def _key_name(words: tuple[str, ...]) -> bool:
    *before, last = words
    # What a glued last word puts before `key`: storage in STORAGEKEY, pub in sshpubkey.
    glued = last[:-3] if last.endswith("key") and last not in _ENGLISH_KEYS else ""
    if not (glued or (last == "key" and before)
            or any(compound in "".join(words) for compound in _KEY_COMPOUNDS)):
        return False
    return not any(word in _NOT_SECRET_KEYS for word in before) and \
        not (glued and glued.endswith(_NOT_SECRET_KEYS))


def _is_reference(value: str) -> bool:
    """A path or a reference to the secret, not the secret: /abs, ./rel, my/secret/file/path,
    creds.json, file://..., $(VAR), ${VAR}, {{ template }}."""
    if value.startswith(("/", "./", "../", "~/")) or value.lower().startswith("file://") or \
            "$(" in value or "${" in value or "{{" in value:
        return True
    if "/" in value:
        return all(_PATH_SEGMENT.fullmatch(segment) for segment in value.split("/"))
    return bool(_FILE_NAME.fullmatch(value))


def _is_placeholder(value: str) -> bool:
    """Values that are not a secret token: empty, switches, numbers, paths, references, and
    structured text (JSON/YAML config holds key names such as `credentials`, not secrets)."""
    lowered = value.strip().lower()
    return (not lowered or len(lowered.split()) > 1 or lowered[0] in "{["
            or lowered in ("true", "false", "yes", "no", "null", "none")
            or lowered.replace(".", "", 1).isdigit() or _is_reference(value.strip()))


def _secret_shape(value: str) -> str | None:
    """What secret this value is by its shape alone (a PEM private key, ...), or None."""
    for marker, pattern, what in _VALUE_PATTERNS:
        if marker in value and pattern.search(value):
            return what
    return None


def _secret_values(o: Obj) -> Iterable[tuple[Path, str, str]]:
    """(path, key, value) of a Secret's stringData and decoded data."""
    for key, value in sorted(as_dict(o.obj.get("stringData")).items()):
        yield ("stringData", key), str(key), "" if value is None else str(value)
    for key, value in sorted(as_dict(o.obj.get("data")).items()):
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
    if value.strip().lower() in _WEAK_PASSWORDS and password_name(key):
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
        if why is None and value == "" and password_name(key) and \
                by_key.get("username", by_key.get("user")) == "root":
            why = "an empty password for the MySQL root user"
        if why is not None:
            yield ctx.finding(o, DEFAULT_CREDENTIALS, path,
                              f"Secret {o.name} key {key} holds {why}")


def _check_configmap(ctx: Context, o: Obj) -> Iterable[Finding]:
    for key, value in sorted(as_dict(o.obj.get("data")).items()):
        key, text = str(key), "" if value is None else str(value)
        path: Path = ("data", key)
        why = known_default(key, text)
        if why is not None:
            yield ctx.finding(o, DEFAULT_CREDENTIALS, path,
                              f"ConfigMap {o.name} key {key} holds {why}")
        elif (what := _secret_shape(text)) is not None:
            yield ctx.finding(o, CONFIGMAP, path, f"ConfigMap {o.name} key {key} holds {what}")
        elif secret_name(key) and not _is_placeholder(text):
            yield ctx.finding(o, CONFIGMAP, path,
                              f"ConfigMap {o.name} key {key} looks like a secret value")


def _check_env(ctx: Context, o: Obj, role: str, container: str, cpath: Path,
               env: Any) -> Iterable[Finding]:
    if not isinstance(env, list):
        return
    prefix = f"{role}: " if role else ""
    for index, var in enumerate(env):
        var = as_dict(var)
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
        elif (what := _secret_shape(value)) is not None:
            yield ctx.finding(o, LITERAL_ENV, path,
                              f"{prefix}container {container!r} env {name} holds {what}",
                              container=container)
        elif secret_name(name) and not _is_placeholder(value):
            yield ctx.finding(o, LITERAL_ENV, path,
                              f"{prefix}container {container!r} env {name} has a literal value",
                              container=container)

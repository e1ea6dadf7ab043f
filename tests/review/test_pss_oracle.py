"""Pod Security Standards against the pod-security-admission oracle fixtures, every one of them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from checkout import oracle_dir

from appliance.review import pss
from appliance.review.loader import load_text
from appliance.review.podspecs import pod_views
from appliance.review.rules import CATALOG
from appliance.review.rules.pod_security import RULES as PSS_RULES

ORACLES = oracle_dir()
FIXTURES = sorted(ORACLES.glob("*/v*/*/*.yaml"))
CHECK_BY_PREFIX = {check.id.lower(): check.id for check in pss.CHECKS}

# Only the fixture-driven tests need the oracle; the version tests below run everywhere.
needs_oracle = pytest.mark.skipif(
    not FIXTURES,
    reason=f"PSS oracle fixtures not found in {ORACLES} (they are looked up beside APPLIANCE_UPSTREAM)")


def _case(path: Path) -> tuple[str, pss.Version, str, str]:
    level, version, outcome = path.parts[-4], path.parts[-3], path.parts[-2]
    return level, pss.parse_version(version), outcome, re.sub(r"\d+$", "", path.stem)


@needs_oracle
@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: "/".join(p.parts[-4:]))
def test_oracle_fixture(path: Path) -> None:
    level, version, outcome, prefix = _case(path)
    [view] = pod_views(yaml.safe_load(path.read_text()))
    violations = pss.evaluate(view, level, version)
    if outcome == "pass":
        assert violations == []
    else:
        # The denying check is the one the file is named after (or the check that replaces it
        # at this level and version, as capabilities_restricted replaces capabilities_baseline).
        expected = pss.overriding(CHECK_BY_PREFIX[prefix], level, version)
        assert expected in {v.check for v in violations}


@needs_oracle
def test_oracle_fixtures_through_the_reviewer() -> None:
    """The same verdicts come out of the full review as pss.<level>.<control> findings."""
    from appliance.review import Options, review

    # One finding per root cause: a field that fails a baseline control too (a hostPath volume,
    # an Unconfined seccomp profile) is reported once, under the baseline control.
    same_root = {"pss.restricted.volume-types": "pss.baseline.host-path-volumes",
                 "pss.restricted.seccomp": "pss.baseline.seccomp"}
    wrong = []
    for path in FIXTURES:
        level, version, outcome, prefix = _case(path)
        report = review(load_text(path.read_text(), path.name), Options(kubernetes_version=version))
        found = {f.rule for f in report.findings if f.rule.startswith(f"pss.{level}.")
                 or (level == "restricted" and f.rule.startswith("pss."))}
        expected = pss.rule_id(CHECK_BY_PREFIX[prefix]) if outcome == "fail" else None
        if expected is None and found:
            wrong.append(f"{path}: unexpected {sorted(found)}")
        elif expected and expected not in found and same_root.get(expected) not in found:
            wrong.append(f"{path}: expected {expected}, got {sorted(found)}")
    assert wrong == []


@needs_oracle
def test_every_pss_rule_is_exercised_by_a_failing_oracle_fixture() -> None:
    covered = {pss.rule_id(CHECK_BY_PREFIX[_case(p)[3]]) for p in FIXTURES if _case(p)[2] == "fail"}
    assert covered == {rule.id for rule in PSS_RULES}
    assert all(rule.id in CATALOG for rule in PSS_RULES)


@needs_oracle
def test_fixture_corpus_is_complete() -> None:
    # 4 versions x 2 levels of the library's fixtures, as copied into shared/oracles.
    assert len(FIXTURES) == 568


def test_version_gating_matches_the_library() -> None:
    probe = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {
        "hostUsers": False,
        "containers": [{"name": "c", "image": "i", "livenessProbe": {
            "httpGet": {"host": "example.com", "port": 80}},
            "securityContext": {"procMount": "Unmasked"}}],
        "securityContext": {"sysctls": [{"name": "net.ipv4.tcp_rmem", "value": "1"}]}}}
    [view] = pod_views(probe)

    def checks(version: str) -> set[str]:
        return {v.check for v in pss.evaluate(view, "baseline", pss.parse_version(version))}

    # probes' host field: checked from 1.34; tcp_rmem allowed from 1.32; procMount relaxed for
    # user-namespaced pods from 1.35.
    assert checks("1.31") == {"sysctls", "procMount"}
    assert checks("1.33") == {"procMount"}
    assert checks("1.34") == {"procMount", "hostProbesAndHostLifecycle"}
    assert checks("1.35") == {"hostProbesAndHostLifecycle"}


def test_version_parsing() -> None:
    assert pss.parse_version("v1.36") == (1, 36)
    assert pss.parse_version("latest") == pss.LATEST
    with pytest.raises(ValueError, match=r"newer than the newest known here \(1.37\)"):
        pss.parse_version("1.99")
    assert pss.parse_version("1.37") == pss.LATEST
    with pytest.raises(ValueError, match="invalid Kubernetes version"):
        pss.parse_version("one.two")

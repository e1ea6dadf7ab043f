"""The suite catches broken stacks: each sabotage makes exactly the tests that guard against it fail.

A sabotage is a `sitecustomize` module put on PYTHONPATH: every Python process of the run (the
stack's servers, pytest, pipeline tasks) imports it at start-up, and it breaks one part of the
real product in the processes that run that part:

- drop-writes: the object store (moto, in the s3_server process) acknowledges every PUT and then
  forgets the object;
- wrong-answers: the stub model server flips its answer for the hardest rows of each group
  (group difficulty f2 > 0.99: 10 of the conformance dataset's 1000 rows);
- always-promote: the promotion gate's decision is forced to "promote", whatever its rules say.

(A sabotage that breaks nothing would make these tests fail: each asserts the exact set of tests
that fail, and that the sabotaged run exits 1.)
"""

from __future__ import annotations

import json
import os
from pathlib import Path

SITECUSTOMIZE = '''
"""Sabotage for the conformance e2e tests (see e2e/test_conformance_broken.py)."""
import os
import sys

_MODE = os.environ.get("APPLIANCE_SABOTAGE", "")
_ARGV = " ".join(getattr(sys, "orig_argv", sys.argv))

if _MODE == "drop-writes" and "appliance.targets.local.s3_server" in _ARGV:
    from moto.s3.models import S3Backend

    _put = S3Backend.put_object

    def _acknowledge_and_forget(self, bucket_name, key_name, value, *args, **kwargs):
        # Answered like a stored object (ETag and all), but kept where no reader looks.
        if "sabotage-sink" not in self.buckets:
            self.create_bucket("sabotage-sink", "us-east-1")
        return _put(self, "sabotage-sink", key_name, value, *args, **kwargs)

    S3Backend.put_object = _acknowledge_and_forget

if _MODE == "wrong-answers" and "stubs.server" in _ARGV:
    from stubs import model as _model

    _predict_row = _model.StubModel.predict_row

    def _wrong_for_the_hardest_rows(self, features):
        answer = _predict_row(self, features)
        return 1 - answer if float(features[2]) > 0.99 else answer

    _model.StubModel.predict_row = _wrong_for_the_hardest_rows

if _MODE == "always-promote":
    import dataclasses

    from appliance.gates import decision as _decision

    _evaluate = _decision.evaluate

    def _always_promote(*args, **kwargs):
        return dataclasses.replace(_evaluate(*args, **kwargs), promote=True)

    _decision.evaluate = _always_promote
'''


def sabotaged(cli, tmp_path: Path, mode: str) -> None:
    """Every process the CLI starts from now on carries the sabotage."""
    site = tmp_path / "sabotage"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    cli.env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), cli.env.get("PYTHONPATH")]))
    cli.env["APPLIANCE_SABOTAGE"] = mode


def outcomes(report: Path) -> dict[str, tuple[str, str]]:
    data = json.loads(report.read_text())
    return {t["id"].split("::", 1)[1]: (t["area"], t["outcome"]) for t in data["tests"]}


def test_an_object_store_that_drops_writes_fails_the_round_trip(cli, tmp_path: Path) -> None:
    sabotaged(cli, tmp_path, "drop-writes")
    cli("up", "--name", "leaky", "--profile", "minimal", check=True)
    try:
        report = tmp_path / "r.json"
        done = cli("conformance", "--stack", "leaky", "--area", "object-store", "--report", str(report),
                   timeout=300)
    finally:
        cli("down", "--name", "leaky")
    assert done.returncode == 1, done.stderr
    assert outcomes(report) == {
        "test_put_get_list_delete_round_trip": ("object-store", "failed"),
        "test_multipart_upload_keeps_every_byte_and_checksum": ("object-store", "failed"),
        "test_wrong_credentials_are_refused_with_403": ("object-store", "failed"),
    }
    assert "FAILED test_object_store.py::test_put_get_list_delete_round_trip: " in done.stderr
    assert "NoSuchKey" in done.stderr
    assert "error: conformance failed on stack 'leaky': 3 test(s) failed" in done.stderr


def test_a_server_that_answers_wrongly_fails_the_exact_prediction_test(cli, tmp_path: Path) -> None:
    sabotaged(cli, tmp_path, "wrong-answers")
    report = tmp_path / "r.json"
    done = cli("conformance", "--profile", "serving", "--area", "serving", "--report", str(report),
               timeout=300)
    assert done.returncode == 1, done.stderr
    # 10 wrong answers in 1000 are caught; the 10 rows the robustness test sends are all right.
    assert outcomes(report) == {
        "test_v1_and_v2_predictions_equal_the_stub_exactly": ("serving", "failed"),
        "test_malformed_requests_get_4xx_and_the_server_keeps_serving": ("serving", "passed"),
    }
    assert "FAILED test_serving.py::test_v1_and_v2_predictions_equal_the_stub_exactly: " in done.stderr


def test_a_gate_that_always_promotes_fails_the_rejection_tests(cli, tmp_path: Path) -> None:
    sabotaged(cli, tmp_path, "always-promote")
    report = tmp_path / "r.json"
    # The whole promotion area: the two rejection tests fail, and the better-challenger test
    # (which expects a promotion) still passes, as docs/conformance.md says.
    done = cli("conformance", "--area", "promotion", "--report", str(report), timeout=400)
    assert done.returncode == 1, done.stderr
    assert outcomes(report) == {
        "test_a_worse_challenger_is_rejected_and_the_champion_keeps_serving": ("promotion", "failed"),
        "test_an_unfair_challenger_is_rejected_even_with_better_accuracy": ("promotion", "failed"),
        "test_a_better_challenger_is_promoted_and_served_and_rollback_restores_the_champion":
            ("promotion", "passed"),
    }
    assert "FAILED test_promotion.py::test_a_worse_challenger_is_rejected_and_the_champion_keeps_serving: " \
           "AssertionError" in done.stderr

"""Image references, the lock file and where `appliance lock` writes it (fast tier)."""

from __future__ import annotations

from pathlib import Path

import pytest
from checkout import REPO_ROOT
from cli_in_process import run
from click.testing import CliRunner

from appliance.cli import cli, lock_command, main
from appliance.errors import InvalidDocument
from appliance.k8s.images import ImageRef
from appliance.sources import images
from appliance.sources.images import checkout_lock, dump_lock, load_lock, pin, updated_lock

DIGEST = "sha256:" + "ab" * 32


def test_parse_references() -> None:
    assert ImageRef.parse("mysql:8.4") == ImageRef("docker.io", "library/mysql", "8.4", "")
    assert ImageRef.parse("kserve/agent:v0.20.0").repository == "kserve/agent"
    assert ImageRef.parse("kserve/agent:v0.20.0").api_host == "registry-1.docker.io"
    assert ImageRef.parse("127.0.0.1:5000/a/b:1") == ImageRef("127.0.0.1:5000", "a/b", "1", "")
    assert ImageRef.parse("ghcr.io/x/y").tag == "latest"
    ref = ImageRef.parse(f"quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z@{DIGEST}")
    assert (ref.tag, ref.digest) == ("RELEASE.2025-09-07T16-13-09Z", DIGEST)
    with pytest.raises(ValueError, match=r"^not an image reference: 'x@sha256:nothex'$"):
        ImageRef.parse("x@sha256:nothex")
    # The distribution reference grammar: lowercase path components, a host, a tag of [\w.-].
    for bad in ("not a ref!!", "UPPER/x", "a//b", "host_name.io/x/y", "x:bad/tag", "x:-tag"):
        with pytest.raises(ValueError, match=r"^not an image reference: "):
            ImageRef.parse(bad)
    assert ImageRef.parse("localhost:5000/a_b/c__d-e.f:v1.2-rc_3").repository == "a_b/c__d-e.f"


@pytest.mark.parametrize(("args", "message"), [
    (["lock", "--image", "not a ref!!"],
     "error: not an image reference: 'not a ref!!' (fix: give name:tag, e.g. "
     "quay.io/minio/minio:RELEASE...)"),
    (["render", "--inventory", "--images"],
     "error: --inventory and --images exclude each other (fix: give one of them)"),
])
def test_bad_image_options_are_refused_before_any_work(
        args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(args)
    assert (info.value.code, capsys.readouterr().err.strip()) == (2, message)


def test_render_refuses_a_lock_that_is_missing_or_a_directory(tmp_path: Path) -> None:
    for lock, why in ((tmp_path / "nofile.yaml", "does not exist"), (tmp_path, "is a directory")):
        result = CliRunner().invoke(cli, ["render", "--profile", "minimal", "--lock", str(lock)])
        assert result.exit_code == 2
        assert f"Invalid value for '--lock': File '{lock}' {why}." in result.stderr


def test_lock_round_trip_and_pinning(tmp_path: Path) -> None:
    path = tmp_path / "lock.yaml"
    path.write_text(dump_lock({"b:1": DIGEST, "a:1": DIGEST}))
    assert list(load_lock(path)) == ["a:1", "b:1"]
    assert pin("a:1", load_lock(path)) == f"a:1@{DIGEST}"
    assert pin("c:1", load_lock(path)) is None
    assert load_lock(tmp_path / "absent.yaml") == {}
    path.write_text("apiVersion: appliance.dev/v1alpha1\nkind: ImageLock\nimages:\n  a:1: md5:x\nextra: 1\n")
    with pytest.raises(InvalidDocument) as info:
        load_lock(path)
    assert info.value.problems == [
        "extra: unknown field", "images.a:1: expected sha256:<64 hex>, got 'md5:x'"]


def test_a_run_over_every_profile_drops_what_no_profile_uses() -> None:
    current = {"a:1": DIGEST, "gone:1": DIGEST, "kept:1": DIGEST}
    new = "sha256:" + "cd" * 32
    assert updated_lock(current, {"a:1": new, "b:1": new}, None) == {
        "a:1": new, "b:1": new, "gone:1": DIGEST, "kept:1": DIGEST}
    assert updated_lock(current, {"a:1": new}, {"a:1", "kept:1"}) == {"a:1": new, "kept:1": DIGEST}


def test_the_lock_is_written_in_place_only_in_a_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    # This editable install's shipped data is the checkout's profiles/ folder.
    assert checkout_lock() == REPO_ROOT / "profiles" / "images.lock.yaml"
    wheel = tmp_path / "site-packages" / "appliance" / "profiles"
    wheel.mkdir(parents=True)
    monkeypatch.setattr(images, "shipped", lambda *parts: wheel.joinpath(*parts))
    assert checkout_lock() is None
    monkeypatch.setattr(lock_command, "checkout_lock", lambda: None)
    code, _, err = run(["lock", "--image", "quay.io/a/b:1"], capsys)
    assert (code, err.strip()) == (2,
        "error: appliance lock needs --output FILE here: the shipped lock of an installed wheel is "
        "package data, not a file to edit (fix: give --output FILE, then render with --lock FILE)")

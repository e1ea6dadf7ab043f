"""Image preload decisions: digests left to the node, pulls retried with back-off, one archive, verified."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_runner import (
    DOCKER_DAEMON_DOWN,
    DOCKER_PULL_RATE_LIMIT,
    FakeRunner,
    crictl_images,
    docker_inspect,
    docker_inspect_missing,
    docker_pull_not_found,
    docker_pull_ok,
    kind_load_3795,
)

from appliance.errors import EXIT_EXTERNAL, ExternalCommandFailed
from appliance.targets.kind import preload
from appliance.targets.kind.cluster import KindCluster

MYSQL = "mysql:8.4"
API = "ghcr.io/kubeflow/kfp-api-server:2.17.0"
STUBS = "appliance-stubs:0.1.0"
PINNED = "quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z@sha256:" + "a" * 64
NODE = "appliance-dev-control-plane"


def test_plan_preloads_tags_and_leaves_digests_to_the_node() -> None:
    chosen = preload.plan([STUBS, PINNED, MYSQL, MYSQL, API])
    assert chosen.preload == (STUBS, API, MYSQL)
    assert chosen.by_digest == (PINNED,)


@pytest.mark.parametrize(("ref", "name"), [
    (MYSQL, "docker.io/library/mysql:8.4"),
    (STUBS, "docker.io/library/appliance-stubs:0.1.0"),
    ("busybox", "docker.io/library/busybox:latest"),
    ("kserve/kserve-controller:v0.20.0", "docker.io/kserve/kserve-controller:v0.20.0"),
    (API, API),
    ("localhost:5000/team/model:1", "localhost:5000/team/model:1"),
])
def test_normalize_names_images_as_containerd_lists_them(ref: str, name: str) -> None:
    assert preload.normalize(ref) == name


def test_parse_inspect() -> None:
    assert preload.parse_inspect(docker_inspect("sha256:" + "1" * 64, "arm64", MYSQL)) == preload.LocalImage(
        "sha256:" + "1" * 64, "linux", "arm64")
    assert preload.parse_inspect(docker_inspect_missing(MYSQL)) is None


def test_pull_failures_that_retrying_cannot_fix() -> None:
    assert preload.permanent_pull_failure(docker_pull_not_found("mysql:9.99")) is True
    assert preload.permanent_pull_failure(
        "Error response from daemon: pull access denied for appliance-stubs, repository does not exist or "
        "may require 'docker login': denied: requested access to the resource is denied\n") is True
    assert preload.permanent_pull_failure(DOCKER_PULL_RATE_LIMIT) is False


def test_archive_name_depends_on_images_ids_and_platform_only() -> None:
    one = preload.archive_name([(MYSQL, "sha256:1"), (API, "sha256:2")], "linux/amd64")
    assert one == preload.archive_name([(API, "sha256:2"), (MYSQL, "sha256:1")], "linux/amd64")
    assert one != preload.archive_name([(MYSQL, "sha256:1"), (API, "sha256:3")], "linux/amd64")
    assert one != preload.archive_name([(MYSQL, "sha256:1"), (API, "sha256:2")], "linux/arm64")
    assert one.startswith("images-") and one.endswith(".tar")


class World:
    """A FakeRunner scripted as a host with some images and a kind node that reports what was loaded."""

    def __init__(self, tmp_path: Path, present: dict[str, str], node_tags: list[str] | None = None,
                 load_ok: bool = True) -> None:
        self.runner = FakeRunner()
        self.sleeps: list[float] = []
        self.cache = tmp_path / "cache" / "images"
        self.cluster = KindCluster(self.runner, "appliance-dev", tmp_path / "run")
        for ref, arch in present.items():
            self.runner.on(["docker", "image", "inspect", ref], docker_inspect(f"sha256:{ref}", arch, ref))
        self.runner.on(["docker", "save"], effect=self._write_archive)
        if load_ok:
            self.runner.on(["kind", "load", "image-archive"])
        if node_tags is not None:
            self.runner.on(["docker", "exec", NODE, "crictl"], crictl_images(node_tags))

    @staticmethod
    def _write_archive(argv: tuple[str, ...]) -> None:
        Path(argv[argv.index("-o") + 1]).write_bytes(b"archive")

    def preloader(self, architecture: str = "amd64", keep_archive: bool = False) -> preload.Preloader:
        return preload.Preloader(self.runner, self.cluster, architecture, self.cache,
                                 sleep=self.sleeps.append, keep_archive=keep_archive)


def test_preload_pulls_what_is_missing_saves_one_platform_loads_and_verifies(tmp_path: Path) -> None:
    world = World(tmp_path, {MYSQL: "amd64"}, node_tags=[preload.normalize(r) for r in (MYSQL, API)])
    world.runner.on(["docker", "image", "inspect", API], docker_inspect_missing(API), returncode=1)
    world.runner.on(["docker", "image", "inspect", API], docker_inspect("sha256:api", "amd64", API))
    world.runner.on(["docker", "pull"], docker_pull_ok(API))
    report = world.preloader().run([PINNED, MYSQL, API])

    archive = world.cache / preload.archive_name([(API, "sha256:api"), (MYSQL, f"sha256:{MYSQL}")],
                                                 "linux/amd64")
    assert world.runner.calls == [
        ("docker", "image", "inspect", API),
        ("docker", "pull", "--platform", "linux/amd64", API),
        ("docker", "image", "inspect", API),
        ("docker", "image", "inspect", MYSQL),
        ("docker", "save", "--platform", "linux/amd64", "-o", str(archive.with_suffix(".partial")),
         API, MYSQL),
        ("kind", "load", "image-archive", str(archive), "--name", "appliance-dev"),
        ("docker", "exec", NODE, "crictl", "images", "-o", "json"),
    ]
    assert report == preload.Report((API, MYSQL), (API,), (PINNED,), None)
    assert list(world.cache.iterdir()) == []  # the third copy of every image is gone once loaded
    assert world.sleeps == []


def test_a_kept_archive_is_reported_and_an_unchanged_image_set_reuses_it(tmp_path: Path) -> None:
    world = World(tmp_path, {MYSQL: "amd64"}, node_tags=["docker.io/library/mysql:8.4"])
    first = world.preloader(keep_archive=True).run([MYSQL])
    second = world.preloader(keep_archive=True).run([MYSQL])
    assert first.archive is not None and first.archive == second.archive
    assert first.archive.read_bytes() == b"archive"
    assert not first.archive.with_suffix(".partial").exists()
    assert len(world.runner.called(["docker", "save"])) == 1
    assert len(world.runner.called(["kind", "load"])) == 2


def test_a_failed_save_leaves_no_archive(tmp_path: Path) -> None:
    world = World(tmp_path, {MYSQL: "amd64"})
    too_old = '"--platform" requires API version 1.48, but the Docker daemon API version is 1.47\n'
    world.runner.on(["docker", "save", "--platform"], too_old, returncode=1, effect=World._write_archive)
    with pytest.raises(ExternalCommandFailed):
        preload.Preloader(world.runner, world.cluster, "amd64", world.cache).save([(MYSQL, "sha256:1")])
    assert list(world.cache.iterdir()) == []


def test_transient_pull_failures_are_retried_with_growing_back_off(tmp_path: Path) -> None:
    world = World(tmp_path, {}, node_tags=[preload.normalize(MYSQL)])
    world.runner.on(["docker", "image", "inspect", MYSQL], docker_inspect_missing(MYSQL), returncode=1)
    world.runner.on(["docker", "image", "inspect", MYSQL], docker_inspect("sha256:m", "amd64", MYSQL))
    world.runner.on(["docker", "pull"], DOCKER_PULL_RATE_LIMIT, returncode=1)
    world.runner.on(["docker", "pull"], DOCKER_PULL_RATE_LIMIT, returncode=1)
    world.runner.on(["docker", "pull"], docker_pull_ok(MYSQL))
    report = world.preloader().run([MYSQL])
    assert report.pulled == (MYSQL,)
    assert len(world.runner.called(["docker", "pull"])) == 3
    assert world.sleeps == [20.0, 40.0]


def test_a_pull_that_keeps_failing_gives_up_after_five_attempts(tmp_path: Path) -> None:
    world = World(tmp_path, {})
    world.runner.on(["docker", "image", "inspect", MYSQL], docker_inspect_missing(MYSQL), returncode=1)
    world.runner.on(["docker", "pull"], DOCKER_PULL_RATE_LIMIT, returncode=1)
    with pytest.raises(ExternalCommandFailed) as caught:
        world.preloader().run([MYSQL])
    assert len(world.runner.called(["docker", "pull"])) == 5
    assert world.sleeps == [20.0, 40.0, 60.0, 80.0]
    assert caught.value.why == "failed 5 times"
    assert "toomanyrequests" in caught.value.render()
    assert world.runner.called(["docker", "save"]) == []


def test_a_tag_that_does_not_exist_is_not_retried(tmp_path: Path) -> None:
    world = World(tmp_path, {})
    world.runner.on(["docker", "image", "inspect", "mysql:9.99"], docker_inspect_missing("mysql:9.99"),
                    returncode=1)
    world.runner.on(["docker", "pull"], docker_pull_not_found("mysql:9.99"), returncode=1)
    with pytest.raises(ExternalCommandFailed) as caught:
        world.preloader().run(["mysql:9.99"])
    assert len(world.runner.called(["docker", "pull"])) == 1
    assert world.sleeps == []
    assert caught.value.why == "the registry refused this reference"


def test_a_daemon_gone_mid_preload_is_not_retried(tmp_path: Path) -> None:
    world = World(tmp_path, {})
    world.runner.on(["docker", "image", "inspect", MYSQL], f"[]\n{DOCKER_DAEMON_DOWN}\n", returncode=1)
    world.runner.on(["docker", "pull"], DOCKER_DAEMON_DOWN + "\n", returncode=1)
    with pytest.raises(ExternalCommandFailed) as caught:
        world.preloader().run([MYSQL])
    assert world.sleeps == []
    assert caught.value.why == "the Docker daemon is not running"


def test_a_host_copy_for_another_platform_is_replaced_by_the_nodes_platform(tmp_path: Path) -> None:
    world = World(tmp_path, {}, node_tags=[preload.normalize(MYSQL)])
    world.runner.on(["docker", "image", "inspect", MYSQL], docker_inspect("sha256:amd", "amd64", MYSQL))
    world.runner.on(["docker", "image", "inspect", MYSQL], docker_inspect("sha256:arm", "arm64", MYSQL))
    world.runner.on(["docker", "pull"], docker_pull_ok(MYSQL))
    world.preloader("arm64").run([MYSQL])
    assert world.runner.called(["docker", "pull"]) == [("docker", "pull", "--platform", "linux/arm64", MYSQL)]
    assert world.runner.called(["docker", "save"])[0][2:4] == ("--platform", "linux/arm64")


def test_images_missing_from_the_node_after_load_are_a_clear_error(tmp_path: Path) -> None:
    world = World(tmp_path, {MYSQL: "amd64", STUBS: "amd64"}, node_tags=["docker.io/library/mysql:8.4"])
    with pytest.raises(ExternalCommandFailed) as caught:
        world.preloader().run([MYSQL, STUBS])
    error = caught.value
    assert error.exit_code == EXIT_EXTERNAL
    assert error.command == f"docker exec {NODE} crictl images -o json"
    assert error.why == "1 of 2 images missing after 'kind load image-archive'"
    assert error.output == f"not in node: {STUBS}"
    assert "kubernetes-sigs/kind#3795" in error.fix


def test_a_load_failing_like_kind_3795_stops_before_verification(tmp_path: Path) -> None:
    world = World(tmp_path, {MYSQL: "amd64"}, load_ok=False)
    world.runner.on(["kind", "load", "image-archive"], kind_load_3795(NODE), returncode=1)
    with pytest.raises(ExternalCommandFailed) as caught:
        world.preloader().run([MYSQL])
    assert "kubernetes-sigs/kind#3795" in caught.value.why
    assert world.runner.called(["docker", "exec"]) == []
    assert list(world.cache.iterdir()) == []


def test_an_inventory_of_digests_only_loads_nothing(tmp_path: Path) -> None:
    world = World(tmp_path, {})
    report = world.preloader().run([PINNED])
    assert report == preload.Report((), (), (PINNED,), None)
    assert world.runner.calls == []

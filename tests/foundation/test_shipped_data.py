"""Shipped data (profiles, catalog, image lock) comes from the installed package, not the checkout."""

from __future__ import annotations

import importlib.resources
import re
import zipfile
from pathlib import Path

import pytest
from checkout import REPO_ROOT

from appliance import paths
from appliance.catalog import CATALOG_PATH
from appliance.config import profile as profiles
from appliance.errors import MissingPrerequisite
from appliance.sources.images import LOCK_PATH


def test_the_profiles_folder_is_installed_as_appliance_profiles() -> None:
    # An editable install reads the repository's profiles/ itself: one copy, nothing to keep in sync.
    assert paths.shipped() == REPO_ROOT / "profiles"
    assert (profiles.PROFILES_DIR, CATALOG_PATH, LOCK_PATH) == (
        paths.shipped(), paths.shipped("catalog.yaml"), paths.shipped("images.lock.yaml"))
    assert profiles.available() == ["minimal", "serving", "standard"]
    assert profiles.load("standard").source == REPO_ROOT / "profiles" / "standard.yaml"


def test_missing_package_is_a_missing_prerequisite(monkeypatch: pytest.MonkeyPatch) -> None:
    def absent(name: str) -> None:
        raise ModuleNotFoundError(f"No module named {name!r}")

    monkeypatch.setattr(importlib.resources, "files", absent)
    with pytest.raises(MissingPrerequisite) as info:
        paths.shipped("catalog.yaml")
    assert info.value.what == "the shipped profiles are not installed"
    assert info.value.exit_code == 3


def test_data_inside_an_archive_is_refused_with_the_fix(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    archive = tmp_path / "appliance.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("appliance/profiles/catalog.yaml", "kind: Catalog\n")
    inside = zipfile.Path(archive, "appliance/profiles/")
    monkeypatch.setattr(importlib.resources, "files", lambda name: inside)
    with pytest.raises(MissingPrerequisite) as info:
        paths.shipped()
    assert info.value.what == "the shipped profiles are not files on disk"
    assert info.value.fix == "install the appliance with pip instead of importing it from an archive"


def test_no_product_module_refers_to_the_repository_layout() -> None:
    # The product runs from a wheel: nothing in it may reach for the checkout or folders beside it.
    pattern = re.compile(r"REPO_ROOT|[\"']shared[\"']|__file__.*(\.parent){2}|__file__.*\.parents\[[1-9]\]")
    offenders = [
        f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}"
        for package in ("appliance", "stubs", "conformance")
        for path in sorted((REPO_ROOT / package).rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []

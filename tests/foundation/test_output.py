"""appliance.runtime.output: output paths refused before the work, written whole, errors one line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from appliance.errors import BadInput
from appliance.runtime import output

FIX = "(fix: choose another --report path in a directory you can write)"
PROC = pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")


@pytest.mark.parametrize(("path", "why"), [
    pytest.param("/proc/x.json", f"creating a file in /proc failed: No such file or directory {FIX}",
                 marks=PROC),
    pytest.param("/proc/nope/x.json",
                 f"creating a directory in /proc failed: No such file or directory {FIX}", marks=PROC),
    ("{tmp}/file/x.json", f"{{tmp}}/file is not a directory {FIX}"),
    ("{tmp}/file/a/b/x.json", f"{{tmp}}/file is not a directory {FIX}"),
    ("{tmp}", "it is a directory (fix: give a file path)"),
])
def test_check_file_refuses_unwritable_paths(tmp_path: Path, path: str, why: str) -> None:
    (tmp_path / "file").write_text("")
    target = path.format(tmp=tmp_path)
    with pytest.raises(BadInput) as bad:
        output.check_file(Path(target), "--report")
    assert bad.value.exit_code == 2
    assert bad.value.render() == f"--report {target}: cannot write: {why.format(tmp=tmp_path)}"


def test_check_file_refuses_a_file_os_access_calls_not_writable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Runs as root too (root may write a file whatever its mode): os.access says "not writable"
    # for this one file, the real answer for everything else.
    target = tmp_path / "r.json"
    target.write_text("{}")
    real = os.access

    def access(path: str | os.PathLike[str], mode: int) -> bool:
        return False if (Path(path), mode) == (target, os.W_OK) else real(path, mode)

    monkeypatch.setattr(output.os, "access", access)
    with pytest.raises(BadInput) as bad:
        output.check_file(target, "-o")
    assert bad.value.render() == (f"-o {target}: cannot write: the file is not writable "
                                  "(fix: fix its mode or choose another path)")
    output.check_file(tmp_path / "other.json", "-o")  # only that file is refused


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write a file whatever its mode")
def test_check_file_refuses_a_read_only_file(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    target.write_text("{}")
    target.chmod(0o444)
    with pytest.raises(BadInput) as bad:
        output.check_file(target, "-o")
    assert bad.value.render() == (f"-o {target}: cannot write: the file is not writable "
                                  "(fix: fix its mode or choose another path)")


def test_check_dir_refuses_a_file_and_takes_the_fix_given(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(BadInput) as bad:
        output.check_dir(tmp_path / "file", "-o", "give a directory")
    assert bad.value.render() == (f"-o {tmp_path}/file: cannot write: it exists and is not a directory "
                                  "(fix: give a directory)")
    with pytest.raises(BadInput) as bad:
        output.check_dir(tmp_path / "file" / "sub", "-o")
    assert bad.value.render() == (f"-o {tmp_path}/file/sub: cannot write: {tmp_path}/file is not a "
                                  "directory (fix: choose another -o path in a directory you can write)")


def test_writable_paths_pass_leave_nothing_behind_and_missing_directories_are_created(
        tmp_path: Path) -> None:
    output.check_file(tmp_path / "r.json", "--report")
    output.check_file(tmp_path / "new" / "dir" / "j.xml", "--junitxml")
    output.check_dir(tmp_path, "-o")
    output.check_dir(tmp_path / "new" / "bundle", "-o")
    assert list(tmp_path.iterdir()) == []
    output.write_text(tmp_path / "new" / "dir" / "j.xml", "<testsuites/>", "--junitxml")
    assert (tmp_path / "new" / "dir" / "j.xml").read_text() == "<testsuites/>"
    assert sorted(p.name for p in (tmp_path / "new" / "dir").iterdir()) == ["j.xml"]  # no temp left


def test_a_failed_write_is_one_line_bad_input(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(BadInput) as bad:
        output.write_text(tmp_path / "file" / "r.md", "# report", "--report")
    assert bad.value.render() == (f"--report {tmp_path}/file/r.md: cannot write: {tmp_path}/file: File "
                                  "exists (fix: choose another --report path in a directory you can write)")


def test_writing_names_the_file_that_failed_inside_a_directory(tmp_path: Path) -> None:
    with pytest.raises(BadInput) as bad, output.writing(tmp_path / "out", "-o"):
        (tmp_path / "out" / "001.yaml").write_text("a: 1\n")
    assert bad.value.render() == (
        f"-o {tmp_path}/out: cannot write: {tmp_path}/out/001.yaml: No such file or directory "
        "(fix: choose another -o path in a directory you can write)")

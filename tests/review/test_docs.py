"""docs/review.md: its examples run as shown, and its rule tables list every rule and severity."""

from __future__ import annotations

import re
import shlex

import pytest
from checkout import REPO_ROOT

from appliance.cli import main
from appliance.review.rules import CATALOG

DOC = (REPO_ROOT / "docs" / "review.md").read_text()


def test_examples_run_as_documented(tmp_path, monkeypatch, capsys) -> None:
    files = re.findall(r"<!-- example-file: (\S+) -->\n```yaml\n(.*?)```", DOC, re.S)
    runs = re.findall(r"<!-- example-run -->\n```console\n(.*?)```", DOC, re.S)
    assert len(files) == 2 and len(runs) == 2
    for name, text in files:
        (tmp_path / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    for block in runs:
        lines = block.strip().splitlines()
        command = shlex.split(lines[0].removeprefix("$ "))
        expected_exit = int(lines[-1].removeprefix("# exit "))
        assert command[0] == "appliance"
        with pytest.raises(SystemExit) as info:
            main(command[1:])
        out, err = capsys.readouterr()
        assert int(info.value.code or 0) == expected_exit
        # The whole output, exactly: the report (stdout), then what -q leaves on stderr.
        assert out + err == "".join(line + "\n" for line in lines[1:-1]), lines[0]


def test_rule_tables_list_every_rule_with_its_severity() -> None:
    documented = set(re.findall(r"`((?:pss|rbac|sa|exposure|netpol|images|resources|secrets|"
                                r"namespace)\.[a-z.-]+)`", DOC))
    assert documented == set(CATALOG)
    for rule_id, severity in re.findall(r"\| `(pss\.[a-z.-]+)` \| (\w+) ", DOC):
        assert CATALOG[rule_id].severity.value == severity, rule_id

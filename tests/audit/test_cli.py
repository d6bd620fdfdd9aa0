"""``trustyard audit`` as a user runs it: formats, exit codes, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from trustyard.audit.yamlnodes import parse_yaml
from trustyard.audit.zizmor import ZizmorFailed, parse_findings, run_zizmor
from trustyard.errors import InvalidInput

FIXTURES = Path(__file__).parent / "fixtures"


def audit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trustyard", "audit", *args],
        capture_output=True,
        text=True,
        check=False,
    )


def test_table_lists_every_check_and_finding() -> None:
    done = audit(str(FIXTURES / "trusted-publishing" / "fail"))
    assert done.returncode == 1
    assert "Trusted-Publishing          0/10" in done.stdout
    assert "[high] Trusted-Publishing: .github/workflows/release.yml:13" in done.stdout
    assert "  fix: register the workflow as a Trusted Publisher" in done.stdout


def test_json_and_fail_on() -> None:
    root = str(FIXTURES / "security-policy" / "weak")
    done = audit(root, "--format", "json", "--fail-on", "critical")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    policy = next(c for c in data["checks"] if c["name"] == "Security-Policy")
    assert policy["score"] == 3
    assert policy["findings"][0]["severity"] == "low"
    assert audit(root, "--fail-on", "low").returncode == 1


def test_sarif_is_sarif() -> None:
    done = audit(str(FIXTURES / "dangerous-workflow" / "fail"), "--format", "sarif")
    sarif = json.loads(done.stdout)
    assert sarif["version"] == "2.1.0"
    results = sarif["runs"][0]["results"]
    dangerous = [r for r in results if r["ruleId"] == "Dangerous-Workflow"]
    assert {r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in dangerous} == {
        12,
        17,
    }
    assert {r["level"] for r in dangerous} == {"error"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fail-on", "severe"], "--fail-on: unknown severity 'severe'"),
        (["/nonexistent/repo"], "/nonexistent/repo is not a directory"),
        ([str(FIXTURES / "invalid-yaml")], ".github/workflows/broken.yml:2: not valid YAML"),
        (["--github", "octo"], "must be OWNER/REPO"),
    ],
)
def test_bad_input_is_one_precise_line(args: list[str], message: str) -> None:
    done = (
        audit(*args)
        if args[0].startswith("/")
        else audit(
            *(args if not args[0].startswith("--") else [str(FIXTURES / "sast" / "pass"), *args])
        )
    )
    assert done.returncode == 1
    assert done.stderr.startswith("trustyard: error: ")
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_yaml_keeps_on_as_a_string_key() -> None:
    node = parse_yaml("on: push\njobs:\n  a:\n    runs-on: x\n", "w.yml")
    assert node.get("on") is not None
    assert node.mapping["jobs"].mapping["a"].where == 3


def test_yaml_error_names_file_and_line() -> None:
    with pytest.raises(InvalidInput, match=r"^w\.yml:2: not valid YAML"):
        parse_yaml("a: [1\nb: 2\n", "w.yml")


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("not json", "not JSON"),
        ('{"a": 1}', "not a list of findings"),
        ('[{"ident": "x"}]', "unexpected zizmor finding shape"),
    ],
)
def test_zizmor_output_errors(output: str, message: str) -> None:
    with pytest.raises(ZizmorFailed, match=message):
        parse_findings(output, Path("/repo"))


def test_zizmor_unknown_persona() -> None:
    with pytest.raises(ZizmorFailed, match="unknown zizmor persona 'paranoid'"):
        run_zizmor(FIXTURES / "zizmor" / "pass", "paranoid")

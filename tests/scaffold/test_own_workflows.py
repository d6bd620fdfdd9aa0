"""trustyard's own workflows: made by its generator and templates, pinned from its pins table.

The release workflow is ``trustyard workflow generate``'s output for this repository (its
``[tool.trustyard.workflow]`` asks for ``trustyard build --check``); CodeQL and Scorecard are the
templates ``trustyard init`` ships; the hand-written CI uses only pins from the table. When a
pin moves (``trustyard workflow update-pins``) these tests say which file to regenerate.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from tests.scaffold.projects import trustyard
from trustyard.errors import InvalidInput
from trustyard.scaffold.pins import load_pins
from trustyard.scaffold.render import render, template_text
from trustyard.scaffold.workflow import TrustyardBuild, builder_config, release_workflow

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
REGENERATE = "regenerate it: uv run trustyard workflow generate --force ."


def test_release_workflow_is_the_generators_output() -> None:
    done = trustyard("workflow", "generate", "--stdout", str(REPO))
    assert done.returncode == 0, done.stderr
    committed = (WORKFLOWS / "release.yml").read_text(encoding="utf-8")
    assert committed == done.stdout, REGENERATE


def test_release_workflow_builds_with_trustyard_build_check() -> None:
    """What this repository's release needs, as the generator's config says it."""
    assert builder_config(REPO) == TrustyardBuild(".ci/uv-requirements.txt")
    release = yaml.safe_load((WORKFLOWS / "release.yml").read_text(encoding="utf-8"))
    assert release[True] == {"push": {"tags": ["v*"]}}  # YAML 1.1 reads the key `on` as True
    build_runs = [s.get("run", "") for s in release["jobs"]["build"]["steps"]]
    assert any("uv run --frozen trustyard build --check" in run for run in build_runs)
    assert release["jobs"]["publish-pypi"]["environment"]["name"] == "pypi"
    collect = release["jobs"]["provenance"]["steps"][4]["run"]
    assert 'cp records/build-env.json "release/build-env$SUFFIX.json"' in collect
    # the record is a subject of the signed provenance, beside the distributions
    attest = release["jobs"]["provenance"]["steps"][3]
    assert attest["id"] == "attest"
    assert attest["with"]["subject-path"].split() == ["dist/*", "records/build-env.json"]


@pytest.mark.parametrize("name", ["codeql", "scorecard"])
def test_codeql_and_scorecard_are_the_shipped_templates(name: str) -> None:
    template = f"workflows/{name}.yml"
    expected = render(template_text(template), {}, load_pins(), template)
    committed = (WORKFLOWS / f"{name}.yml").read_text(encoding="utf-8")
    assert committed == expected, f"render {template} with the pins table into {name}.yml"


_USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(\S+(?:\s+#\s*\S+)?)\s*$", re.MULTILINE)


def test_every_action_is_pinned_from_the_pins_table() -> None:
    pins = load_pins()
    allowed = set()
    for pin in pins.values():
        allowed.add(pin.uses())
        allowed |= {pin.uses(p) for p in ("init", "analyze", "upload-sarif")}
    found = {
        (path.name, uses)
        for path in sorted(WORKFLOWS.glob("*.yml"))
        for uses in _USES.findall(path.read_text(encoding="utf-8"))
    }
    assert {name for name, _ in found} == {"ci.yml", "codeql.yml", "release.yml", "scorecard.yml"}
    assert {(name, uses) for name, uses in found if uses not in allowed} == set()


def test_pre_commit_hooks_are_pinned() -> None:
    """Remote hook repositories at a full commit SHA with the version beside it; local hooks
    from uv.lock (``uv run --frozen``), so they run the versions the suite runs."""
    text = (REPO / ".pre-commit-config.yaml").read_text(encoding="utf-8")
    config = yaml.safe_load(text)
    hook_ids = set()
    for repo in config["repos"]:
        hook_ids |= {h["id"] for h in repo["hooks"]}
        if repo["repo"] == "local":
            assert all(h["entry"].startswith("uv run --frozen ") for h in repo["hooks"])
            continue
        assert re.fullmatch(r"[0-9a-f]{40}", repo["rev"]), repo
        assert re.search(rf"rev: {repo['rev']} # v\d+(\.\d+)+\n", text), repo
    assert hook_ids == {"ruff", "ruff-format", "mypy", "zizmor", "actionlint"}


def _project(tmp_path: Path, workflow_table: str, *, lock: str | None = None) -> Path:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "demo"\nversion = "1.0"\n\n'
        '[build-system]\nrequires = ["hatchling==1.33.0"]\nbuild-backend = "hatchling.build"\n\n'
        f"[tool.trustyard.workflow]\n{workflow_table}",
        encoding="utf-8",
    )
    (tmp_path / "uv.lock").write_text(
        lock if lock is not None else 'version = 1\n\n[[package]]\nname = "trustyard"\n',
        encoding="utf-8",
    )
    (tmp_path / "ci").mkdir()
    shutil.copy(REPO / ".ci" / "uv-requirements.txt", tmp_path / "ci" / "uv.txt")
    (tmp_path / "ci" / "loose.txt").write_text("uv==0.13.8\n", encoding="utf-8")
    return tmp_path


def test_builder_config_for_another_uv_project(tmp_path: Path) -> None:
    root = _project(tmp_path, 'builder = "trustyard"\nuv-requirements = "ci/uv.txt"\n')
    builder = builder_config(root)
    assert builder == TrustyardBuild("ci/uv.txt")
    text = release_workflow("demo", extension=False, pins=load_pins(), builder=builder)
    assert "run: python -m pip install --require-hashes -r ci/uv.txt\n" in text
    assert "https://pypi.org/project/demo/" in text


@pytest.mark.parametrize(
    ("table", "lock", "problems"),
    [
        (
            'builder = "make"\nextra = 1\n',
            None,
            ["unknown key 'extra'", "builder must be one of build, trustyard, got 'make'"],
        ),
        (
            'builder = "trustyard"\n',
            None,
            ["builder = 'trustyard' needs uv-requirements, the repository-relative path"],
        ),
        (
            'builder = "trustyard"\nuv-requirements = "../uv.txt"\n',
            None,
            ["uv-requirements '../uv.txt' must stay inside the repository"],
        ),
        (
            'builder = "trustyard"\nuv-requirements = "ci/loose.txt"\n',
            'version = 1\n\n[[package]]\nname = "demo"\n',
            [
                "uv-requirements ci/loose.txt: no `uv==VERSION` line with --hash options",
                "builder = 'trustyard' needs trustyard in uv.lock",
            ],
        ),
        (
            'builder = "build"\nuv-requirements = "ci/uv.txt"\n',
            None,
            ["uv-requirements is only used with builder = 'trustyard'"],
        ),
    ],
)
def test_builder_config_reports_every_problem(
    tmp_path: Path, table: str, lock: str | None, problems: list[str]
) -> None:
    root = _project(tmp_path, table, lock=lock)
    with pytest.raises(InvalidInput) as caught:
        builder_config(root)
    for problem in problems:
        assert problem in caught.value.message
    done = trustyard("workflow", "generate", str(root))
    assert done.returncode == 1
    assert problems[0] in done.stderr
    assert not (root / ".github").exists()


def test_trustyard_builder_refuses_extension_projects() -> None:
    with pytest.raises(InvalidInput, match="extension wheels come from cibuildwheel"):
        release_workflow("demo", extension=True, pins=load_pins(), builder=TrustyardBuild("x"))

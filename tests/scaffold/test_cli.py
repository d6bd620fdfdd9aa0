"""``trustyard init`` and ``trustyard workflow``: options, detection, pins, and bad input."""

from __future__ import annotations

import re
import shutil
import tomllib
from pathlib import Path

import pytest

from tests.audit.github_server import serve_recorded
from tests.scaffold.projects import trustyard
from trustyard.errors import InvalidInput
from trustyard.scaffold.backends import BACKENDS, detect_project
from trustyard.scaffold.pins import load_pins, parse_pins
from trustyard.scaffold.project import make_spec, project_files
from trustyard.scaffold.render import render
from trustyard.scaffold.update_pins import GitHubUnavailable, resolve_pin
from trustyard.scaffold.workflow import release_workflow

PINS_SERVER = Path(__file__).parent / "fixtures" / "github" / "pins"
SHA = "a" * 40


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["9lives"], "project name '9lives' is not a valid name"),
        (
            ["ok", "--backend", "flit", "--extension"],
            "--extension needs a backend that compiles C extensions; flit (flit-core) builds "
            "pure-Python packages only, by design "
            "(use --backend hatchling, pdm, poetry, setuptools)",
        ),
        (
            ["ok", "--backend", "uv", "--extension"],
            "--extension needs a backend that compiles C extensions; uv (uv-build) builds "
            "pure-Python packages only, by design "
            "(use --backend hatchling, pdm, poetry, setuptools)",
        ),
        (["ok", "--owner", "octo"], "--owner 'octo' must be a GitHub @user or @org/team"),
        (["ok", "--repository", "nope"], "--repository 'nope' must be OWNER/REPO"),
    ],
)
def test_init_rejects_bad_options(args: list[str], message: str, tmp_path: Path) -> None:
    done = trustyard("init", *args, "--dir", str(tmp_path / "p"))
    assert done.returncode == 1
    assert message in done.stderr
    assert not (tmp_path / "p").exists()


def test_init_reports_every_problem_at_once() -> None:
    with pytest.raises(InvalidInput) as caught:
        make_spec("-x", "flit", extension=True, owner="x", repository=None)
    text = caught.value.diagnostics()
    assert "not a valid name" in text
    assert "--extension needs" in text
    assert "--owner 'x'" in text


def test_init_unknown_backend_via_argparse(tmp_path: Path) -> None:
    done = trustyard("init", "ok", "--backend", "maturin", "--dir", str(tmp_path / "p"))
    assert done.returncode == 2
    assert "invalid choice: 'maturin'" in done.stderr


def test_init_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine", encoding="utf-8")
    done = trustyard("init", "demo", "--dir", str(tmp_path))
    assert done.returncode == 1
    assert "already exists and is not empty" in done.stderr
    assert (tmp_path / "keep.txt").read_text(encoding="utf-8") == "mine"


COMBINATIONS = [(b, False) for b in sorted(BACKENDS)] + [
    (b, True) for b in sorted(BACKENDS) if BACKENDS[b].can_build_extensions
]


@pytest.mark.parametrize(("backend", "extension"), COMBINATIONS)
def test_backend_is_pinned_to_its_lock(backend: str, extension: bool) -> None:
    spec = make_spec("demo", backend, extension=extension, owner="@octo", repository=None)
    files = project_files(spec)
    requires = tomllib.loads(files["pyproject.toml"])["build-system"]["requires"]
    chosen = spec.backend
    expected = [f"{chosen.distribution}=={chosen.pinned_version()}"]
    if extension and backend != "setuptools":
        # the extension hook compiles with setuptools, pinned as setuptools' own lock pins it
        expected.append(f"setuptools=={BACKENDS['setuptools'].pinned_version()}")
    assert requires == expected
    for pin in requires:
        assert f"{pin} \\\n    --hash=sha256:" in files["requirements/build.txt"], pin
    lock_pins = re.findall(r"^([a-z0-9-]+)==", files["requirements/build.txt"], re.MULTILINE)
    assert set(lock_pins) - {"build"} >= {r.split("==")[0] for r in requires}
    wanted_in = {chosen.distribution, *(["setuptools"] if extension else [])}
    assert set(files["requirements/build.in"].split("\n")[1:-1]) == {"build", *wanted_in}
    assert "--hash=sha256:" in files["requirements/test.txt"]


# The documented extension mechanism of each backend, as it must appear in the project.
EXTENSION_SHAPE = {
    "setuptools": ("setup.py", ["ext_modules=[Extension("], []),
    "hatchling": (
        "hatch_build.py",
        [
            "class CustomBuildHook(BuildHookInterface)",
            'build_data["pure_python"] = False',
            'build_data["infer_tag"] = True',
            'build_data["force_include"]',
            "from setuptools.command.build_ext import build_ext",
        ],
        ["tool.hatch.build.targets.wheel.hooks.custom"],
    ),
    "pdm": (
        "pdm_build.py",
        ["def pdm_build_update_setup_kwargs(", "ext_modules=[Extension("],
        ["tool.pdm.build.run-setuptools"],
    ),
    "poetry": (
        "build_extension.py",
        ["command.inplace = True", "from setuptools.command.build_ext import build_ext"],
        ["tool.poetry.build.script", "tool.poetry.build.generate-setup-file"],
    ),
}


@pytest.mark.parametrize("backend", sorted(EXTENSION_SHAPE))
def test_extension_uses_the_backends_documented_hook(backend: str) -> None:
    assert sorted(EXTENSION_SHAPE) == sorted(
        b for b in BACKENDS if BACKENDS[b].can_build_extensions
    )
    spec = make_spec("demo-x", backend, extension=True, owner="@octo", repository=None)
    files = project_files(spec)
    hook, code, keys = EXTENSION_SHAPE[backend]
    assert BACKENDS[backend].extension_hook == hook
    assert all(c in files[hook] for c in code), files[hook]
    assert '"demo_x._speedups", ["src/demo_x/_speedups.c"]' in files[hook]
    assert "src/demo_x/_speedups.c" in files
    config = tomllib.loads(files["pyproject.toml"])
    for key in keys:
        value: object = config
        for part in key.split("."):
            assert isinstance(value, dict), key
            value = value[part]
    tool = config.get("tool", {})
    if backend == "pdm":
        assert tool["pdm"]["build"]["run-setuptools"] is True
    if backend == "poetry":
        assert tool["poetry"]["build"] == {
            "script": "build_extension.py",
            "generate-setup-file": False,
        }
    assert "from demo_x import add" in files["tests/test_demo_x_ext.py"]
    assert "cibuildwheel" in files[".github/workflows/release.yml"]
    # the other backends' hooks are absent
    others = {EXTENSION_SHAPE[b][0] for b in EXTENSION_SHAPE} - {hook}
    assert not others & set(files)


def test_every_uses_is_pinned_from_the_table() -> None:
    pins = load_pins()
    spec = make_spec("demo", "setuptools", extension=True, owner="@octo", repository=None)
    workflows = [t for p, t in project_files(spec).items() if p.startswith(".github/workflows/")]
    uses = [
        line.split("uses: ", 1)[1] for t in workflows for line in t.splitlines() if "uses: " in line
    ]
    assert uses
    shipped = {pin.uses(): pin for pin in pins.values()}
    for value in uses:
        repo_part, _, rest = value.partition("@")
        owner_repo = "/".join(repo_part.split("/")[:2])
        assert rest == f"{pins[owner_repo].sha} # {pins[owner_repo].version}", value
    assert shipped


@pytest.mark.parametrize(
    ("backend", "extension"),
    [
        ("hatchling", False),
        ("poetry", False),
        ("setuptools", True),
        ("hatchling", True),
        ("pdm", True),
        ("poetry", True),
    ],
)
def test_workflow_generate_detects_the_project(
    backend: str, extension: bool, tmp_path: Path
) -> None:
    variant = f"{backend}-ext" if extension else backend
    spec = make_spec(f"demo-{variant}", backend, extension=extension, owner="@o", repository=None)
    root = tmp_path / "p"
    for rel, text in project_files(spec).items():
        if not rel.startswith(".github/"):
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text, encoding="utf-8")
    shape = detect_project(root)
    assert (shape.backend.name, shape.has_extension) == (backend, extension)
    done = trustyard("workflow", "generate", str(root))
    assert done.returncode == 0, done.stderr
    written = (root / ".github" / "workflows" / "release.yml").read_text(encoding="utf-8")
    assert written == release_workflow(spec.name, extension=extension, pins=load_pins())
    assert ("cibuildwheel" in written) is extension
    again = trustyard("workflow", "generate", str(root))
    assert again.returncode == 1
    assert "release.yml exists; pass --force to replace it" in again.stderr
    assert trustyard("workflow", "generate", str(root), "--force").returncode == 0


@pytest.mark.parametrize(
    ("pyproject", "message"),
    [
        (None, "cannot read it"),
        ("[project\n", "not valid TOML"),
        ('[project]\nname = "x"\n', "no [build-system] build-backend"),
        ('[build-system]\nbuild-backend = "maturin"\n', "unsupported build-backend 'maturin'"),
        ('[build-system]\nbuild-backend = "hatchling.build"\n', "no [project] name"),
    ],
)
def test_workflow_generate_bad_projects(
    pyproject: str | None, message: str, tmp_path: Path
) -> None:
    if pyproject is not None:
        (tmp_path / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    done = trustyard("workflow", "generate", str(tmp_path))
    assert done.returncode == 1
    assert message in done.stderr


def test_update_pins_from_recorded_api(tmp_path: Path) -> None:
    pins = tmp_path / "pins.toml"
    pins.write_text(
        f'[actions."actions/checkout"]\nsha = "{SHA}"\nversion = "v5.0.0"\n\n'
        f'[actions."pypa/gh-action-pypi-publish"]\nsha = "{SHA}"\nversion = "v1.13.0"\n',
        encoding="utf-8",
    )
    with serve_recorded(PINS_SERVER) as server:
        done = trustyard(
            "workflow", "update-pins", "--pins", str(pins), "--github-api-url", server.url
        )
    assert done.returncode == 0, done.stderr
    table = load_pins(pins)
    assert table["actions/checkout"].sha == "8e8c483db84b4bee98b60c0593521ed34d9990e8"
    assert table["actions/checkout"].version == "v6.0.1"
    # the annotated tag is peeled to its commit
    assert table["pypa/gh-action-pypi-publish"].sha == "cef221092ed1bacb1cc03d23a2d87d1d172e277b"
    assert "actions/checkout: v5.0.0 (aaaaaaaaaaaa) -> v6.0.1 (8e8c483db84b)" in done.stdout


def test_update_pins_errors_are_precise() -> None:
    with (
        serve_recorded(PINS_SERVER) as server,
        pytest.raises(GitHubUnavailable, match=r"releases/latest: GitHub answered 404"),
    ):
        resolve_pin("octo/unknown", server.url)
    with pytest.raises(GitHubUnavailable, match="cannot reach the GitHub API"):
        resolve_pin("actions/checkout", "http://127.0.0.1:9")
    with pytest.raises(InvalidInput, match="must be an http"):
        resolve_pin("actions/checkout", "ftp://example.org")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[actions\n", "not valid TOML"),
        ("x = 1\n", r"expected a non-empty \[actions\] table"),
        ('[actions."a/b"]\nsha = "abc"\nversion = "v1"\n', "sha must be a 40-hex commit SHA"),
        (f'[actions."a/b"]\nsha = "{SHA}"\nversion = "latest"\n', "version must look like v1.2.3"),
        (f'[actions."nope"]\nsha = "{SHA}"\nversion = "v1"\n', "not an owner/repo name"),
    ],
)
def test_pins_file_errors(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_pins(text)


def test_shipped_pins_are_full_shas() -> None:
    table = load_pins()
    assert len(table) == 9
    assert all(len(p.sha) == 40 for p in table.values())


def test_render_refuses_unknown_placeholders() -> None:
    with pytest.raises(InvalidInput, match=r"no pin for action x/y; no value for \[\[nope\]\]"):
        render("[[nope]] [[uses:x/y]]", {}, load_pins(), "t")


def test_generated_cli_output(tmp_path: Path) -> None:
    done = trustyard("init", "demo", "--dir", str(tmp_path / "d"))
    assert done.returncode == 0, done.stderr
    assert "replace @OWNER in .github/CODEOWNERS" in done.stdout
    stdout = trustyard("workflow", "generate", str(tmp_path / "d"), "--stdout")
    assert stdout.stdout == (tmp_path / "d/.github/workflows/release.yml").read_text("utf-8")
    shutil.rmtree(tmp_path / "d")

"""``trustyard init``: a complete new project with a secure release set-up.

The file set answers Scorecard's file-based checks (Security-Policy, License,
Dependency-Update-Tool, SAST, Packaging, Pinned-Dependencies, Token-Permissions) and the
release checks of ``trustyard audit``; see the module docstrings of ``trustyard.audit``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from trustyard.errors import Conflict, InvalidInput
from trustyard.scaffold.backends import Backend, extension_backends, get_backend, locks_dir
from trustyard.scaffold.pins import PinTable, load_pins
from trustyard.scaffold.render import render, template_text
from trustyard.scaffold.workflow import release_workflow

# PEP 508 names, restricted to what also makes a valid import name after normalisation.
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*([-_.][A-Za-z0-9]+)*$")
_OWNER = re.compile(r"^@[A-Za-z0-9][A-Za-z0-9-]*(/[A-Za-z0-9_.-]+)?$")

_BACKEND_CONFIG = {
    "hatchling": '\n[tool.hatch.build.targets.wheel]\npackages = ["src/{module}"]\n',
    "setuptools": "",
    "flit": '\n[tool.flit.module]\nname = "{module}"\n',
    "pdm": "",
    "poetry": '\n[tool.poetry]\npackages = [{{ include = "{module}", from = "src" }}]\n',
    "uv": '\n[tool.uv.build-backend]\nmodule-name = "{module}"\n',
}

# The extension variants: each backend's documented hook for compiled code (see the comment
# on ``BACKENDS`` in ``backends.py``). The C source stays out of the wheel; the sdist has it.
_EXTENSION_CONFIG = {
    "hatchling": (
        "\n[tool.hatch.build.targets.wheel]\n"
        'packages = ["src/{module}"]\n'
        'exclude = ["*.c"]\n'
        "\n# hatch_build.py compiles src/{module}/_speedups.c with setuptools' build_ext.\n"
        "[tool.hatch.build.targets.wheel.hooks.custom]\n"
    ),
    "setuptools": (
        "\n# setup.py compiles the C extension (ext_modules); its source stays out of the wheel.\n"
        '[tool.setuptools.exclude-package-data]\n"*" = ["*.c"]\n'
    ),
    "pdm": (
        "\n[tool.pdm.build]\n"
        "# pdm_build.py adds the C extension to setuptools' ext_modules.\n"
        "run-setuptools = true\n"
        "# Out of the wheel: the .gitignore pdm-backend puts in its .pdm-build directory, and\n"
        "# the C source setuptools copies there (pdm_build.py drops the other copy; the sdist\n"
        "# keeps src/{module}/*.c).\n"
        'excludes = [".gitignore", "{module}/*.c"]\n'
    ),
    "poetry": (
        "\n[tool.poetry]\n"
        'packages = [{{ include = "{module}", from = "src" }}]\n'
        "# The compiled module is git-ignored; include it in the wheel explicitly.\n"
        "include = [\n"
        '    {{ path = "src/{module}/*.so", format = "wheel" }},\n'
        '    {{ path = "src/{module}/*.pyd", format = "wheel" }},\n'
        '    {{ path = "src/{module}/*.c", format = "sdist" }},\n'
        "]\n"
        "# The C source goes in the sdist only (an explicit include wins over exclude).\n"
        'exclude = ["src/{module}/*.c"]\n'
        "\n[tool.poetry.build]\n"
        "# build_extension.py compiles src/{module}/_speedups.c in place with setuptools.\n"
        'script = "build_extension.py"\n'
        "generate-setup-file = false\n"
    ),
}


@dataclass(frozen=True)
class ProjectSpec:
    """What ``trustyard init`` was asked for, validated."""

    name: str
    backend: Backend
    extension: bool
    owner: str
    repository: str

    @property
    def module(self) -> str:
        return re.sub(r"[-.]+", "_", self.name).lower()


def make_spec(
    name: str, backend: str, *, extension: bool, owner: str, repository: str | None
) -> ProjectSpec:
    """Validate the options together and report every problem at once."""
    problems: list[str] = []
    if not _NAME.match(name):
        problems.append(
            f"project name {name!r} is not a valid name (letters, digits, and - _ . between them)"
        )
    try:
        chosen = get_backend(backend)
    except InvalidInput as exc:
        problems.append(exc.message)
        chosen = None
    if chosen is not None and extension and not chosen.can_build_extensions:
        problems.append(
            f"--extension needs a backend that compiles C extensions; {backend} "
            f"({chosen.distribution}) builds pure-Python packages only, by design "
            f"(use --backend {', '.join(sorted(extension_backends()))})"
        )
    if not _OWNER.match(owner):
        problems.append(f"--owner {owner!r} must be a GitHub @user or @org/team")
    repo = repository or f"{owner.lstrip('@').split('/')[0]}/{name}"
    if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", repo):
        problems.append(f"--repository {repo!r} must be OWNER/REPO")
    if problems or chosen is None:
        raise InvalidInput("cannot create the project:\n  " + "\n  ".join(problems))
    return ProjectSpec(name, chosen, extension, owner, repo)


def project_files(spec: ProjectSpec, pins: PinTable | None = None) -> dict[str, str]:
    """Every file of the new project, relative path to text."""
    table = pins if pins is not None else load_pins()
    backend = spec.backend
    requires = backend.build_requires(extension=spec.extension)
    extra = backend.extension_requires if spec.extension else ()
    values = {
        "name": spec.name,
        "module": spec.module,
        "description": f"The {spec.name} package.",
        "owner": spec.owner,
        "owner_name": spec.owner.lstrip("@").split("/")[0],
        "repository": spec.repository,
        "year": str(dt.datetime.now(tz=dt.UTC).year),
        "requires": "[" + ", ".join(f'"{r}"' for r in requires) + "]",
        "build_backend": backend.build_backend,
        "backend_config": (_EXTENSION_CONFIG if spec.extension else _BACKEND_CONFIG)[
            backend.name
        ].format(module=spec.module),
        "build_distributions": "\n".join([backend.distribution, *extra]),
    }

    def fill(template: str) -> str:
        return render(template_text(template), values, table, template)

    module_dir = f"src/{spec.module}"
    files = {
        "pyproject.toml": fill("pyproject.toml"),
        "README.md": fill("README.md"),
        "CHANGELOG.md": fill("CHANGELOG.md"),
        "SECURITY.md": fill("SECURITY.md"),
        "LICENSE": fill("LICENSE"),
        ".gitignore": fill("gitignore"),
        ".github/CODEOWNERS": fill("CODEOWNERS"),
        ".github/dependabot.yml": fill("dependabot.yml"),
        ".github/workflows/ci.yml": fill("workflows/ci.yml"),
        ".github/workflows/codeql.yml": fill("workflows/codeql.yml"),
        ".github/workflows/scorecard.yml": fill("workflows/scorecard.yml"),
        ".github/workflows/release.yml": release_workflow(
            spec.name, extension=spec.extension, pins=table
        ),
        "requirements/build.in": fill("requirements-build.in"),
        "requirements/build.txt": backend.lock_text(extension=spec.extension),
        "requirements/test.in": fill("requirements-test.in"),
        "requirements/test.txt": _lock("test.txt"),
        "requirements/publish.in": fill("requirements-publish.in"),
        "requirements/publish.txt": _lock("publish.txt"),
        "requirements/fuzz.in": fill("requirements-fuzz.in"),
        "requirements/fuzz.txt": _lock("fuzz.txt"),
        "fuzz/fuzz_greet.py": fill("fuzz.py"),
        f"{module_dir}/__init__.py": fill("init_ext.py" if spec.extension else "init.py"),
        f"{module_dir}/py.typed": "",
        f"tests/test_{spec.module}.py": fill("test_basic.py"),
    }
    if spec.extension and backend.extension_hook is not None:
        files[f"{module_dir}/_speedups.c"] = fill("speedups.c")
        files[backend.extension_hook] = fill(backend.extension_hook)
        files[f"tests/test_{spec.module}_ext.py"] = fill("test_ext.py")
    return files


def _lock(name: str) -> str:
    return locks_dir().joinpath(name).read_text(encoding="utf-8")


def write_project(spec: ProjectSpec, target: Path, pins: PinTable | None = None) -> list[Path]:
    """Write the project into ``target``, which must be absent or empty."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise Conflict(f"{target} already exists and is not empty; choose another --dir")
    files = project_files(spec, pins)
    written = []
    for relative, text in files.items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written

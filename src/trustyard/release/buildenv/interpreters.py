"""The base interpreters builds run on: the running one, or another installed one found by uv
or in pyenv's versions directory (never downloaded), and what each says about itself."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sysconfig
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from trustyard.release.buildenv.uv import child_env, run_tool, uv_binary
from trustyard.release.errors import BuildFailed

__all__ = ["Interpreter", "find_interpreter", "pyenv_interpreter", "this_interpreter"]


def this_interpreter() -> dict[str, str]:
    """Python version, implementation and platform tag, for the record."""
    return {
        "python_version": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "platform": sysconfig.get_platform(),
    }


# Run by another interpreter: the facts a record, a cache key and PEP 508 markers need
# (the marker variables as PEP 508 defines them), using nothing but the standard library.
_PROBE = """
import json, os, platform, sys, sysconfig
def full(info):
    text = "%d.%d.%d" % (info.major, info.minor, info.micro)
    return text if info.releaselevel == "final" else text + info.releaselevel[0] + str(info.serial)
base = os.path.abspath(os.sep + "trustyard-base")
# The "venv" scheme (Python 3.11+): Debian's default scheme would say local/.../dist-packages;
# before 3.11 a venv's layout is the prefix scheme's.
scheme = "venv" if "venv" in sysconfig.get_scheme_names() else (
    "nt" if os.name == "nt" else "posix_prefix")
purelib = sysconfig.get_path("purelib", scheme, vars={"base": base, "platbase": base})
print(json.dumps({
    "version": platform.python_version(),
    "implementation": platform.python_implementation(),
    "platform": sysconfig.get_platform(),
    "nodot": "%d%d" % sys.version_info[:2],
    "free_threaded": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
    "purelib": os.path.relpath(purelib, base),
    "markers": {
        "implementation_name": sys.implementation.name,
        "implementation_version": full(sys.implementation.version),
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "platform_python_implementation": platform.python_implementation(),
        "python_version": "%d.%d" % sys.version_info[:2],
        "sys_platform": sys.platform,
    },
}))
"""


@dataclass(frozen=True)
class Interpreter:
    """A base interpreter other than the running one, to build wheels with (found by
    :func:`find_interpreter`): where it is, and what it says about itself."""

    executable: str
    version: str
    implementation: str
    platform: str
    tag: str  # the wheel python tag it builds for: cp311, cp314t
    purelib: str  # site-packages of a venv made from it, relative to the venv
    markers: Mapping[str, str]

    def record_fields(self) -> dict[str, str]:
        """What :func:`this_interpreter` gives for the running one."""
        return {
            "python_version": self.version,
            "python_implementation": self.implementation,
            "platform": self.platform,
        }


_PYENV_VERSION_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
_MINOR_REQUEST_RE = re.compile(r"^cpython@(\d+)\.(\d+)$")


def pyenv_interpreter(request: str) -> str | None:
    """The newest CPython of ``request``'s minor (``cpython@3.8``) that pyenv installed under
    ``$PYENV_ROOT/versions`` (default ``~/.pyenv``). uv does not look there: it finds pyenv's
    *shims* on ``PATH``, and a shim fails unless its version is the selected one."""
    wanted = _MINOR_REQUEST_RE.match(request)
    if wanted is None:
        return None
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    try:
        names = [p.name for p in root.iterdir()]
    except OSError:
        return None
    found = []
    for name in names:
        parts = _PYENV_VERSION_RE.match(name)
        if parts and parts.groups()[:2] == wanted.groups():
            executable = root / name / "bin" / f"python{wanted[1]}.{wanted[2]}"
            if executable.is_file() and os.access(executable, os.X_OK):
                found.append((int(parts[3]), str(executable)))
    return max(found)[1] if found else None


def find_interpreter(request: str, cache_dir: Path | None = None) -> Interpreter:
    """The installed base interpreter (no virtual environment's) that ``uv python find``
    picks for ``request`` (``cpython@3.14``, ``cpython@3.14t``), else pyenv's of that minor,
    never downloading one; :class:`BuildFailed` naming the request otherwise."""
    args = [uv_binary(), "python", "find", "--system", "--no-project", "--no-python-downloads"]
    args += ["--", request]
    result = subprocess.run(
        args, capture_output=True, text=True, env=child_env(cache_dir), check=False
    )
    executable = result.stdout.strip()
    if result.returncode != 0 or not executable:
        executable = pyenv_interpreter(request) or ""
    if not executable:
        found = result.stderr.strip().splitlines()
        detail = next((line for line in found if line.startswith("error:")), "")
        raise BuildFailed(
            f"no installed Python interpreter matches {request} (`uv python find` never "
            f"downloads one here): install it first, e.g. `uv python install {request}`"
            + (f" ({detail.removeprefix('error: ')})" if detail else "")
        )
    output = run_tool(
        [executable, "-I", "-S", "-c", _PROBE], child_env(cache_dir), f"asking {executable}"
    )
    try:
        facts = json.loads(output)
        free = "t" if facts["free_threaded"] else ""
        prefix = "cp" if facts["implementation"] == "CPython" else "pp"
        return Interpreter(
            executable=executable,
            version=str(facts["version"]),
            implementation=str(facts["implementation"]),
            platform=str(facts["platform"]),
            tag=f"{prefix}{facts['nodot']}{free}",
            purelib=str(facts["purelib"]),
            markers={str(k): str(v) for k, v in facts["markers"].items()},
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BuildFailed(f"{executable} did not describe itself: {output[:200]!r}") from exc


def __dir__() -> list[str]:
    return __all__

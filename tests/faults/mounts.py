"""A small or read-only filesystem under an index's data directory, made by the test.

As root (or with CAP_SYS_ADMIN) the test mounts it itself with ``mount``. Where mounting is not
allowed (an unprivileged CI runner) the server process mounts it instead, in user and mount
namespaces of its own (``inject/sitecustomize.py``, as ``unshare -rm`` would); the test then
sees the server's view through ``/proc/PID/root`` and undoes a mount with ``nsenter``. The
mode is chosen once per session; ``FAULTS_MOUNT=namespace`` forces the fallback.
"""

from __future__ import annotations

import functools
import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import IndexServer


class CannotMount(RuntimeError):
    """Neither ``mount`` nor a private namespace works here (the message says why)."""


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


@functools.cache
def mount_mode() -> str:
    """``host`` when this process may mount, else ``namespace`` when that works."""
    forced = os.environ.get("FAULTS_MOUNT")
    if forced in {"host", "namespace"}:
        return forced
    with tempfile.TemporaryDirectory() as probe:
        if _run("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", probe).returncode == 0:
            _run("umount", probe)
            return "host"
    check = _run("unshare", "--user", "--map-root-user", "--mount", "true")
    if check.returncode == 0:
        return "namespace"
    raise CannotMount(
        "cannot mount a filesystem here: `mount` is refused and unprivileged user namespaces"
        f" are not available ({check.stderr.strip()})"
    )


@dataclass
class Mounted:
    """A filesystem mounted on ``target`` for one server; ``server_env`` goes to the server."""

    target: Path
    mode: str
    server_env: dict[str, str] = field(default_factory=dict)
    server: IndexServer | None = None  # set once the server runs (namespace mode needs it)
    active: bool = True

    def seen(self, path: Path) -> Path:
        """``path`` as the server sees it."""
        if self.mode == "host" or self.server is None:
            return path
        return Path(f"/proc/{self.server.process.pid}/root{path}")

    def unmount(self) -> None:
        """Remove the mount (lazily: open files keep working, new ones land underneath)."""
        if not self.active:
            return
        self.active = False
        if self.mode == "host":
            done = _run("umount", "-l", str(self.target))
        else:
            if self.server is None or self.server.process.poll() is not None:
                return  # the namespace, and its mounts, died with the server
            done = _run(
                "nsenter",
                f"--target={self.server.process.pid}",
                "--user",
                "--mount",
                "--preserve-credentials",
                "umount",
                "-l",
                str(self.target),
            )
        if done.returncode != 0:
            raise RuntimeError(f"umount {self.target} failed: {done.stderr}")


def small_disk(target: Path, size: str) -> Mounted:
    """A tmpfs of ``size`` (``8m``) on ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    mode = mount_mode()
    if mode == "namespace":
        return Mounted(target, mode, {"FAULTS_PRIVATE_TMPFS": f"{target}:{size}"})
    done = _run("mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(target))
    if done.returncode != 0:
        raise CannotMount(f"mount tmpfs on {target}: {done.stderr}")
    return Mounted(target, mode)


def read_only(target: Path) -> Mounted:
    """``target`` bound onto itself read-only (``chmod`` would not stop root)."""
    mode = mount_mode()
    if mode == "namespace":
        return Mounted(target, mode, {"FAULTS_PRIVATE_READONLY": str(target)})
    for command in (
        ("mount", "--bind", str(target), str(target)),
        ("mount", "-o", "remount,bind,ro", str(target)),
    ):
        done = _run(*command)
        if done.returncode != 0:
            raise CannotMount(f"{' '.join(command)}: {done.stderr}")
    return Mounted(target, mode)

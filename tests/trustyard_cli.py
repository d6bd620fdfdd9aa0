"""``trustyard`` commands for the fixtures, forked from a process that has already imported it.

A ``python -m trustyard admin ...`` spends about a second starting Python and importing the
index's modules (more on a busy machine) before milliseconds of work, and the fixtures run
hundreds of them. So each test process starts one *zygote* on first use: this file run as a
script, which imports the CLI once and then forks a child per command. The child is a process
of its own that takes the command's environment, working directory and standard streams, and
runs the same ``main()`` that ``python -m trustyard`` runs, exiting with its code. Tests about
the command line itself still start ``python -m trustyard``.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

PYTHON = sys.executable
# The command modules the fixtures run (the others are imported by the child when asked for).
PRELOAD = ("admin", "publisher", "issuer")

_lock = threading.Lock()
_zygote: dict[str, tuple[subprocess.Popen[bytes], str]] = {}  # "running": (process, socket)


def run_trustyard(
    args: Sequence[str], env: dict[str, str], stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``trustyard ARGS`` with ``env`` and ``stdin``, as ``subprocess.run`` would report it."""
    command = [PYTHON, "-m", "trustyard", *args]
    with tempfile.TemporaryDirectory(prefix="trustyard-cli-") as tmp:
        streams = {name: Path(tmp) / name for name in ("stdin", "stdout", "stderr")}
        streams["stdin"].write_text(stdin or "")
        request = {
            "argv": list(args),
            "env": env,
            "cwd": os.getcwd(),
            "timeout": int(timeout),
            **{name: str(path) for name, path in streams.items()},
        }
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout + 10)  # the child's own alarm fires first
            conn.connect(_started())
            conn.sendall(json.dumps(request).encode())
            conn.shutdown(socket.SHUT_WR)
            reply = _read_all(conn)
        out, err = streams["stdout"].read_text(), streams["stderr"].read_text()
    if not reply:  # killed before it could answer (its alarm, or a signal)
        raise subprocess.TimeoutExpired(command, timeout, out, err)
    return subprocess.CompletedProcess(command, int(reply), out, err)


def _started() -> str:
    """The zygote's socket, starting the zygote if this process has none running."""
    with _lock:
        if "running" not in _zygote or _zygote["running"][0].poll() is not None:
            path = os.path.join(tempfile.mkdtemp(prefix="trustyard-zygote-"), "socket")
            env = {k: v for k, v in os.environ.items() if not k.startswith("TRUSTYARD_")}
            process = subprocess.Popen(
                [PYTHON, __file__, path, str(os.getpid())],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                env=env,
            )
            assert process.stdout is not None
            if process.stdout.readline() != b"ready\n":
                process.kill()
                raise RuntimeError("the trustyard CLI zygote did not start")
            _zygote["running"] = (process, path)
        return _zygote["running"][1]


def _read_all(conn: socket.socket) -> bytes:
    chunks = []
    while chunk := conn.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


# --- the zygote (this file run as a script) ---------------------------------------------------


def _serve(path: str, parent: int) -> None:
    """Import the CLI, then fork a child per connection until the parent process is gone."""
    main = importlib.import_module("trustyard.cli.main").main
    for name in PRELOAD:
        importlib.import_module(f"trustyard.cli.{name}")
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the children
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(64)
    server.settimeout(1.0)
    print("ready", flush=True)
    while os.getppid() == parent:
        try:
            conn, _ = server.accept()
        except TimeoutError:
            continue
        conn.settimeout(None)
        if os.fork() == 0:
            server.close()
            _child(conn, main)
        conn.close()
    server.close()
    os.unlink(path)
    os.rmdir(os.path.dirname(path))


def _child(conn: socket.socket, main: Callable[[list[str]], int]) -> None:
    """Become the command: its environment, directory and streams; run it; never return."""
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        request = json.loads(_read_all(conn))
        signal.alarm(request["timeout"])  # as subprocess.run's timeout: the command dies
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
            flags = os.O_RDONLY if fd == 0 else os.O_WRONLY | os.O_TRUNC | os.O_CREAT
            opened = os.open(request[name], flags, 0o600)
            os.dup2(opened, fd)
            os.close(opened)
        code = _exit_code(main, request["argv"])
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
            conn.sendall(str(code).encode())
        finally:
            os._exit(code)  # whatever happened: a child must never go back to the zygote's loop


def _exit_code(main: Callable[[list[str]], int], argv: list[str]) -> int:
    """What ``sys.exit(main())`` under ``python -m`` exits with, tracebacks included."""
    try:
        return main(argv)
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)
        return 1
    except BaseException:  # noqa: BLE001 - as the interpreter: a traceback, exit code 1
        traceback.print_exc()
        return 1


if __name__ == "__main__":
    _serve(sys.argv[1], int(sys.argv[2]))

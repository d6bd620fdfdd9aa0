"""The atomic-write helper on a real file system: whole or nothing, permissions, durability."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from trustyard.atomicfiles import atomic_writer, write_atomic


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_replaces_the_file_and_leaves_nothing_else(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    target.write_text("old")
    write_atomic(target, "new ✓")
    assert target.read_text(encoding="utf-8") == "new ✓"
    assert _names(tmp_path) == ["state.json"]


def test_an_error_while_writing_keeps_the_old_file_and_removes_the_temporary(
    tmp_path: Path,
) -> None:
    target = tmp_path / "key.pem"
    target.write_bytes(b"old key")

    def write_half() -> None:
        with atomic_writer(target) as out:
            out.write(b"half a new ")
            raise RuntimeError("disk went away")

    with pytest.raises(RuntimeError):
        write_half()
    assert target.read_bytes() == b"old key"
    assert _names(tmp_path) == ["key.pem"]


def test_a_secret_is_private_from_its_first_byte_and_stays_so(tmp_path: Path) -> None:
    target = tmp_path / "key.pem"
    target.write_bytes(b"public before")
    target.chmod(0o644)
    with atomic_writer(target, mode=0o600) as out:
        [temporary] = [p for p in tmp_path.iterdir() if p.name != "key.pem"]
        assert temporary.name.startswith(".key.pem.")
        assert stat.S_IMODE(temporary.stat().st_mode) == 0o600
        out.write(b"secret")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.read_bytes() == b"secret"


def test_a_public_file_gets_the_mode_asked_for(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        write_atomic(tmp_path / "a.intoto.jsonl", b"{}", mode=0o644)
        write_atomic(tmp_path / "plain", b"")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "a.intoto.jsonl").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "plain").stat().st_mode) == 0o644  # 0o666 less the umask


def test_text_is_written_with_newlines_as_given(tmp_path: Path) -> None:
    target = tmp_path / "SHA256SUMS"
    with atomic_writer(target, encoding="utf-8") as out:
        out.write("a  x.whl\nb  x.tar.gz\n")
    assert target.read_bytes() == b"a  x.whl\nb  x.tar.gz\n"


def test_a_reader_never_sees_a_partial_file(tmp_path: Path) -> None:
    """Readers racing a writer see one whole version or the other, never a mix or a prefix."""
    target = tmp_path / "page"
    size = 256 * 1024
    write_atomic(target, b"a" * size)
    stop = threading.Event()
    seen: list[bytes] = []

    def read() -> None:
        while not stop.is_set():
            data = target.read_bytes()
            if len(data) != size or len(set(data)) != 1:
                seen.append(data[:16] + b"..." + str(len(data)).encode())

    readers = [threading.Thread(target=read) for _ in range(2)]
    for reader in readers:
        reader.start()
    try:
        for round_ in range(200):
            with atomic_writer(target) as out:
                for _ in range(4):  # several writes: a non-atomic writer would show prefixes
                    out.write((b"b" if round_ % 2 else b"a") * (size // 4))
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    assert seen == []
    assert _names(tmp_path) == ["page"]


def test_the_file_is_synced_before_the_rename_and_the_directory_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The order that makes the rename durable: fsync(file), rename, fsync(directory)."""
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(source: str | Path, target: str | Path) -> None:
        events.append(("replace", str(target)))
        real_replace(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    target = tmp_path / "manifest.json"
    write_atomic(target, b"{}")
    monkeypatch.undo()
    assert [kind for kind, _ in events] == ["fsync", "replace", "fsync"]
    assert Path(events[0][1]).parent == tmp_path
    assert Path(events[0][1]).name.startswith(".manifest.json.")
    assert events[1][1] == str(target)
    assert events[2][1] == str(tmp_path)

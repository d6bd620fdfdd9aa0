"""Fault injection for ``tests/faults``, loaded into a ``trustyard serve`` process by Python itself.

The fault tests start the real server with this directory first on ``PYTHONPATH``, so Python
imports this module at start-up (``site`` imports any ``sitecustomize``). It changes nothing
unless the test set one of these variables, which no HTTP client can reach:

- ``FAULTS_KILL_AT=POINT:MARK``: SIGKILL the process when an upload whose filename contains
  ``MARK`` reaches ``POINT`` (see :data:`POINTS`); other uploads pass untouched.
- ``FAULTS_TRACE=FILE``: append the name of every point an upload reaches to ``FILE``, so that
  a kill at a random moment can be attributed to the last point passed.
- ``FAULTS_PRIVATE_TMPFS=PATH:SIZE``: before anything else, enter new user and mount namespaces
  and mount a tmpfs of ``SIZE`` on ``PATH`` (for machines where the test may not mount).
- ``FAULTS_PRIVATE_READONLY=PATH``: likewise, bind ``PATH`` read-only in a private namespace.

The wrapped functions still run in full; the hooks only observe, and kill.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

# In the order an upload reaches them; "mid-file-put" only exists on S3 (a local put is one
# rename, atomic), "after-metadata-put" only for wheels (sdists have no PEP 658 file).
POINTS = (
    "spool-write",  # part of the file's bytes are in the spool, the rest not yet received
    "before-store",  # every check passed; nothing written
    "before-file-put",  # write transaction open (release row may be flushed), file not stored
    "mid-file-put",  # S3: the PUT of the file has started sending, not finished
    "after-file-put",  # the file is stored, its metadata file not yet, no row committed
    "after-metadata-put",  # both files stored, file row not yet flushed
    "before-commit",  # every row flushed, COMMIT not yet sent
    "after-commit",  # committed; the response not yet sent
)

_CLONE_NEWNS = 0x00020000
_CLONE_NEWUSER = 0x10000000
_MS_BIND = 0x1000
_MS_RDONLY = 0x1
_MS_REMOUNT = 0x20

_current = threading.local()  # the filename of the upload this thread is storing


def _armed() -> tuple[str, str] | None:
    spec = os.environ.get("FAULTS_KILL_AT", "")
    point, sep, mark = spec.partition(":")
    return (point, mark) if sep and point in POINTS and mark else None


def reached(point: str, filename: str) -> None:
    """Record ``point`` (if tracing) and die there if the test armed it for ``filename``."""
    trace = os.environ.get("FAULTS_TRACE")
    if trace:
        fd = os.open(trace, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{point} {filename}\n".encode())
        finally:
            os.close(fd)
    armed = _armed()
    if armed is not None and armed[0] == point and armed[1] in filename:
        os.kill(os.getpid(), signal.SIGKILL)


def _storing() -> str | None:
    name: str | None = getattr(_current, "filename", None)
    return name


class _Sending:
    """A request body that reaches "mid-file-put" when its first block is read to be sent;
    everything else (seek, tell, length) is the wrapped file's."""

    def __init__(self, body: Any, filename: str) -> None:
        self._body = body
        self._filename = filename

    def read(self, *args: Any) -> Any:
        block = self._body.read(*args)
        if block:
            reached("mid-file-put", self._filename)
        return block

    def __getattr__(self, name: str) -> Any:
        return getattr(self._body, name)


def _install_upload_hooks() -> None:
    from sqlalchemy import event  # noqa: PLC0415 - only when faults are asked for
    from sqlalchemy.orm import Session  # noqa: PLC0415

    from trustyard.index import upload_form  # noqa: PLC0415
    from trustyard.index.services import uploads  # noqa: PLC0415
    from trustyard.index.storage.local import LocalStorage  # noqa: PLC0415
    from trustyard.index.storage.s3 import S3Storage  # noqa: PLC0415

    original_hand_on = upload_form._FormBuilder.hand_on

    def hand_on(self: Any) -> None:
        # The file's bytes parsed so far have gone to the spool's lanes (SpoolStream).
        original_hand_on(self)
        stream = self._stream
        if stream is not None and stream.size:
            reached("spool-write", self._file_name)

    upload_form._FormBuilder.hand_on = hand_on  # type: ignore[method-assign]

    original_store = uploads._store

    def store(**kwargs: Any) -> Any:
        filename = kwargs["form"].file.filename
        reached("before-store", filename)
        _current.filename = filename
        try:
            return original_store(**kwargs)
        finally:
            _current.filename = None

    uploads._store = store

    def wrap_put(cls: Any) -> None:
        original_put: Callable[..., bool] = cls.put
        original_put_bytes: Callable[..., bool] = cls.put_bytes

        def put(self: Any, key: str, source: Path) -> bool:
            name = _storing()
            if name is None or key.endswith(".metadata"):
                return original_put(self, key, source)
            reached("before-file-put", name)
            done = original_put(self, key, source)
            reached("after-file-put", name)
            return done

        def put_bytes(self: Any, key: str, data: bytes) -> bool:
            done = original_put_bytes(self, key, data)
            name = _storing()
            if name is not None:
                reached("after-metadata-put", name)
            return done

        cls.put = put
        cls.put_bytes = put_bytes

    wrap_put(LocalStorage)
    wrap_put(S3Storage)

    # A small file goes up in one PutObject: just before it is sent, its body is wrapped so
    # that the point is reached once the first block has been read for sending. A large one
    # goes through boto3's ``upload_file`` (multipart), whose progress callback says the same.
    original_init = S3Storage.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.client.meta.events.register("before-send.s3.PutObject", announce_sending)

    S3Storage.__init__ = init  # type: ignore[method-assign]

    def announce_sending(request: Any, **_: Any) -> None:
        name = _storing()
        is_file = not request.url.split("?")[0].endswith(".metadata")
        if name is not None and is_file and hasattr(request.body, "read"):
            request.body = _Sending(request.body, name)

    # boto3 binds ``upload_file`` to each client class when the class is first made: wrapping
    # the function here, before any client exists, makes every S3 client use the wrapper.
    import boto3.s3.inject  # noqa: PLC0415

    original_upload_file = boto3.s3.inject.upload_file

    def upload_file(self: Any, *args: Any, **kwargs: Any) -> Any:
        name = _storing()
        if name is None:
            return original_upload_file(self, *args, **kwargs)

        def progress(sent: int) -> None:
            if sent:
                reached("mid-file-put", name)

        kwargs["Callback"] = progress
        return original_upload_file(self, *args, **kwargs)

    boto3.s3.inject.upload_file = upload_file

    def before_commit(_session: Session) -> None:
        name = _storing()
        if name is not None:
            reached("before-commit", name)

    def after_commit(_session: Session) -> None:
        name = _storing()
        if name is not None:
            reached("after-commit", name)

    event.listen(Session, "before_commit", before_commit)
    event.listen(Session, "after_commit", after_commit)


def _libc_call(name: str, *args: Any) -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if getattr(libc, name)(*args) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{name}: {os.strerror(errno)}")


def _private_namespace() -> None:
    """New user and mount namespaces in which this process is root (``unshare -rm``)."""
    uid, gid = os.getuid(), os.getgid()
    _libc_call("unshare", _CLONE_NEWUSER | _CLONE_NEWNS)
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"0 {uid} 1")
    Path("/proc/self/gid_map").write_text(f"0 {gid} 1")


def _mount(source: str, target: str, fstype: str | None, flags: int, options: str | None) -> None:
    _libc_call(
        "mount",
        source.encode(),
        target.encode(),
        fstype.encode() if fstype else None,
        ctypes.c_ulong(flags),
        options.encode() if options else None,
    )


def _install_private_mounts() -> None:
    tmpfs = os.environ.get("FAULTS_PRIVATE_TMPFS")
    readonly = os.environ.get("FAULTS_PRIVATE_READONLY")
    if not tmpfs and not readonly:
        return
    _private_namespace()
    if tmpfs:
        path, _, size = tmpfs.rpartition(":")
        _mount("tmpfs", path, "tmpfs", 0, f"size={size}")
    if readonly:
        _mount(readonly, readonly, None, _MS_BIND, None)
        _mount(readonly, readonly, None, _MS_BIND | _MS_REMOUNT | _MS_RDONLY, None)


_install_private_mounts()
if os.environ.get("FAULTS_KILL_AT") or os.environ.get("FAULTS_TRACE"):
    _install_upload_hooks()

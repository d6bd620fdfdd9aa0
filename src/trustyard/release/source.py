"""A clean export of a git commit, and its ``SOURCE_DATE_EPOCH``.
Follows reproducible-builds.org's SOURCE_DATE_EPOCH spec: the last commit's committer time.
The repository may be a work tree (or a directory inside one) or a bare repository: the export
reads objects only.
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from trustyard.dists.extract import extract_tar, link_stays_inside
from trustyard.release.errors import DirtyTree, SourceError

__all__ = [
    "SourceTree",
    "checkout_tree",
    "dirty_files",
    "exact_tag",
    "export_tree",
    "is_bare",
    "resolve_commit",
    "run_git",
]


@dataclass(frozen=True)
class SourceTree:
    """An exported tree: where it is, which commit it is, that commit's committer time, and
    the version tag on it (``None``: not at a tag), which git-versioned projects need."""

    path: Path
    commit: str
    source_date_epoch: int
    tag: str | None = None


def run_git(repo: Path, *args: str) -> bytes:
    """Run ``git -C repo args`` and return stdout; a failure raises :class:`SourceError`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env["GIT_TERMINAL_PROMPT"] = "0"
    try:
        result = subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, env=env, check=False
        )
    except FileNotFoundError as exc:
        raise SourceError("git is not installed (needed to export the source tree)") from exc
    if result.returncode != 0:
        detail = result.stderr.decode("utf-8", "replace").strip()
        raise SourceError(f"git {' '.join(args)} failed in {repo}: {detail}")
    return result.stdout


def is_bare(repo: Path) -> bool:
    """Whether ``repo`` is a bare repository (no work tree: nothing can be dirty)."""
    return run_git(repo, "rev-parse", "--is-bare-repository").decode().strip() == "true"


def _check_repository(repo: Path) -> tuple[Path, bool]:
    """The top of ``repo``'s work tree, or ``repo`` itself when it is a bare repository; and
    whether it is bare."""
    if not repo.is_dir():
        raise SourceError(f"{repo} is not a directory")
    try:
        if is_bare(repo):
            return repo, True
        top = run_git(repo, "rev-parse", "--show-toplevel").decode().strip()
    except SourceError as exc:
        raise SourceError(f"{repo} is not inside a git repository") from exc
    return Path(top), False


def resolve_commit(repo: Path, ref: str) -> str:
    """The full commit id ``ref`` names in ``repo``."""
    _check_repository(repo)
    return _resolve(repo, ref)


def _resolve(repo: Path, ref: str) -> str:
    """:func:`resolve_commit` in a repository already checked."""
    if ref.startswith("-"):
        raise SourceError(f"invalid ref {ref!r}")
    try:
        return (
            run_git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").decode().strip()
        )
    except SourceError as exc:
        raise SourceError(f"{ref!r} does not name a commit in {repo}") from exc


def exact_tag(repo: Path, commit: str) -> str | None:
    """The tag on ``commit`` that setuptools-scm would read (``git describe --tags --match
    *[0-9]*``, as its git parser runs it, at distance 0); ``None`` when the commit has none."""
    try:
        out = run_git(repo, "describe", "--tags", "--exact-match", "--match", "*[0-9]*", commit)
    except SourceError:
        return None
    return out.decode().strip() or None


def dirty_files(repo: Path) -> list[str]:
    """Tracked files with changes, and untracked files that are not ignored (``git status``);
    none in a bare repository."""
    return [] if is_bare(repo) else _dirty(repo)


def _dirty(repo: Path) -> list[str]:
    """:func:`dirty_files` of a work tree."""
    out = run_git(repo, "status", "--porcelain=v1", "-z", "--untracked-files=all")
    entries = [e for e in out.decode("utf-8", "surrogateescape").split("\0") if e]
    files: list[str] = []
    skip_next = False
    for entry in entries:
        if skip_next:  # the source path of a rename
            skip_next = False
            continue
        status, path = entry[:2], entry[3:]
        files.append(f"{status.strip() or '?'} {path}")
        skip_next = status[0] in "RC"
    return sorted(files, key=lambda f: f.split(" ", 1)[1])


def export_tree(
    repo: Path, ref: str, dest: Path, *, allow_dirty: bool = False, umask: int = 0o022
) -> SourceTree:
    """Write the tree of ``ref`` into ``dest`` as ``git archive`` has it (untracked files never
    come; ``export-ignore``/``export-subst`` apply).

    The package directory inside ``repo`` is exported when ``repo`` is a subdirectory of the
    git work tree. Files get the mode a checkout under ``umask`` would give them; mtimes are
    the commit time, as ``git archive`` sets them. When no export attribute applies, git
    writes the files itself (``checkout-index``, which checks every path) instead of a tar
    that Python would unpack: the same files, a second or more less for a large tree.
    """
    top, bare = _check_repository(repo)
    commit = _resolve(repo, ref)
    if not allow_dirty and not bare:
        dirty = _dirty(repo)
        if dirty:
            raise DirtyTree(dirty)
    epoch = int(run_git(repo, "log", "-1", "--pretty=%ct", commit).decode().strip())
    prefix = repo.resolve().relative_to(top.resolve()).as_posix()
    dest.mkdir(parents=True, exist_ok=True)
    root = dest if prefix == "." else dest / prefix
    if _checkout_plain(top, commit, prefix, dest):
        _apply_umask(root, umask, mtime=epoch)
    else:
        args = ["archive", "--format=tar", commit]
        if prefix != ".":
            args += ["--", prefix]
        data = run_git(top, *args)
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
            extract_tar(archive, dest)
        _apply_umask(root, umask)
    if not (root / "pyproject.toml").is_file() and not (root / "setup.py").is_file():
        raise SourceError(
            f"{ref} ({commit[:12]}) has no pyproject.toml or setup.py in {prefix}: nothing to build"
        )
    return SourceTree(
        path=root, commit=commit, source_date_epoch=epoch, tag=exact_tag(repo, commit)
    )


_PLAIN_MODES = frozenset({b"100644", b"100755"})
_LINK_MODE = b"120000"


def _checkout_plain(top: Path, commit: str, prefix: str, dest: Path) -> bool:
    """Write ``commit``'s files under ``prefix`` into ``dest`` with ``git checkout-index``
    (from a private index: the repository is not written to) and return ``True``, when that
    gives what ``git archive`` would. It does not when an ``export-ignore`` or ``export-subst``
    attribute applies (gitattributes(5): from the commit's ``.gitattributes``, the
    repository's ``info/attributes`` or the user's and system's files, all of which
    ``check-attr --cached`` reads), the tree holds submodules, or a symbolic link that the
    "data" filter would have to judge (:func:`link_stays_inside`): then ``False``, and
    nothing is written. Content filters (``eol``, ``ident``, LFS) apply in both."""
    dest = dest.resolve()  # git runs in the repository: a relative path would point there
    index = dest.parent / f".{dest.name}.export-index"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_TERMINAL_PROMPT="0", GIT_INDEX_FILE=str(index))
    try:
        _git_in(top, env, "read-tree", commit)
        staged = _git_in(top, env, "ls-files", "--stage", "-z").split(b"\0")
        paths: list[bytes] = []
        links: list[tuple[bytes, bytes]] = []  # (blob id, path)
        for entry in filter(None, staged):
            info, path = entry.split(b"\t", 1)
            if prefix != "." and not path.startswith(prefix.encode() + b"/"):
                continue
            mode, blob = info.split(b" ")[:2]
            if mode == _LINK_MODE:
                links.append((blob, path))
            elif mode not in _PLAIN_MODES:
                return False
            paths.append(path)
        if links and not _plain_links(top, env, links):
            return False
        listing = b"".join(path + b"\0" for path in paths)
        attrs = _git_in(
            top,
            env,
            "check-attr",
            "--cached",
            "-z",
            "--stdin",
            "export-ignore",
            "export-subst",
            stdin=listing,
        ).split(b"\0")
        if any(value not in (b"unspecified", b"unset") for value in attrs[2::3]):
            return False
        _git_in(
            top,
            env,
            "-c",
            "core.symlinks=true",  # links as git archive writes them, whatever the config
            f"--work-tree={dest}",
            "checkout-index",
            "--force",
            "-z",
            "--stdin",
            f"--prefix={dest}/",
            stdin=listing,
        )
        return True
    finally:
        index.unlink(missing_ok=True)


def _plain_links(top: Path, env: dict[str, str], links: list[tuple[bytes, bytes]]) -> bool:
    """Whether every symbolic link (blob id, path) plainly stays inside the export."""
    ids = b"".join(blob + b"\n" for blob, _ in links)
    batch = _git_in(top, env, "cat-file", "--batch", stdin=ids)
    names = {path.decode("utf-8", "surrogateescape") for _, path in links}
    offset = 0
    for blob, path in links:
        header_end = batch.index(b"\n", offset)
        found, kind, size = batch[offset:header_end].split(b" ")
        if found != blob or kind != b"blob":
            return False
        target = batch[header_end + 1 : header_end + 1 + int(size)]
        offset = header_end + 1 + int(size) + 1
        name = path.decode("utf-8", "surrogateescape")
        if not link_stays_inside(name, target.decode("utf-8", "surrogateescape"), names):
            return False
    return True


def _git_in(top: Path, env: dict[str, str], *args: str, stdin: bytes = b"") -> bytes:
    """:func:`run_git` with this environment (a private index) and ``stdin``."""
    result = subprocess.run(
        ["git", "-C", str(top), *args], input=stdin, capture_output=True, env=env, check=False
    )
    if result.returncode != 0:
        detail = result.stderr.decode("utf-8", "replace").strip()
        raise SourceError(f"git {' '.join(args)} failed in {top}: {detail}")
    return result.stdout


def checkout_tree(repo: Path, ref: str, dest: Path, *, umask: int = 0o022) -> SourceTree:
    """Write the tree of ``ref`` into ``dest`` as a CI checkout has it, for rebuilding releases
    built elsewhere: unlike :func:`export_tree` (``git archive``) it keeps ``export-ignore``
    paths and leaves ``export-subst`` placeholders (``.git_archival.txt``) unexpanded, which
    sdists built from a checkout carry. ``git read-tree`` into a private index file, then
    ``git checkout-index``: the repository (work tree or bare) is not written to."""
    top, _ = _check_repository(repo)
    commit = _resolve(repo, ref)
    epoch = int(run_git(repo, "log", "-1", "--pretty=%ct", commit).decode().strip())
    dest.mkdir(parents=True, exist_ok=True)
    dest = dest.resolve()  # git runs in the repository: a relative path would point there
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_TERMINAL_PROMPT="0", GIT_INDEX_FILE=str(dest.parent / f".{dest.name}.index"))
    for args in (
        ["read-tree", commit],
        [f"--work-tree={dest}", "checkout-index", "--all", "--force", f"--prefix={dest}/"],
    ):
        result = subprocess.run(
            ["git", "-C", str(top), *args], capture_output=True, env=env, check=False
        )
        if result.returncode != 0:
            detail = result.stderr.decode("utf-8", "replace").strip()
            raise SourceError(f"git {' '.join(args)} failed in {top}: {detail}")
    Path(env["GIT_INDEX_FILE"]).unlink(missing_ok=True)
    prefix = repo.resolve().relative_to(top.resolve()).as_posix()
    root = dest if prefix == "." else dest / prefix
    _apply_umask(root, umask)
    if not (root / "pyproject.toml").is_file() and not (root / "setup.py").is_file():
        raise SourceError(
            f"{ref} ({commit[:12]}) has no pyproject.toml or setup.py in {prefix}: nothing to build"
        )
    return SourceTree(
        path=root, commit=commit, source_date_epoch=epoch, tag=exact_tag(repo, commit)
    )


def _apply_umask(root: Path, umask: int, *, mtime: int | None = None) -> None:
    """Give every path under ``root`` the mode a checkout under ``umask`` gives it, and
    ``mtime`` (when given) as its modification time, as ``git archive``'s tar has them."""
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        executable = path.is_dir() or bool(path.stat().st_mode & 0o111)
        path.chmod((0o777 if executable else 0o666) & ~umask)
        if mtime is not None:
            os.utime(path, (mtime, mtime))


def __dir__() -> list[str]:
    return __all__

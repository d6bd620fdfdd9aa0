"""Exporting a commit: only committed files, the commit's time, and precise refusals."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.release.conftest import COMMIT_EPOCH, git, make_repo
from trustyard.release.errors import DirtyTree, SourceError
from trustyard.release.source import checkout_tree, export_tree


def test_exports_only_committed_files_with_the_commit_time(tmp_path: Path) -> None:
    repo = make_repo("hatchling", tmp_path / "repo")
    (repo / "untracked.py").write_text("x = 1\n")
    tree = export_tree(repo, "HEAD", tmp_path / "out", allow_dirty=True)
    assert tree.source_date_epoch == COMMIT_EPOCH
    assert tree.commit == git(repo, "rev-parse", "HEAD").strip()
    assert (tree.path / "pyproject.toml").is_file()
    assert not (tree.path / "untracked.py").exists()
    assert not (tree.path / ".git").exists()


def test_refuses_a_dirty_tree_and_names_the_files(tmp_path: Path) -> None:
    repo = make_repo("hatchling", tmp_path / "repo")
    (repo / "README.md").write_text("changed\n")
    (repo / "new.txt").write_text("new\n")
    with pytest.raises(DirtyTree) as caught:
        export_tree(repo, "HEAD", tmp_path / "out")
    assert caught.value.files == ["M README.md", "?? new.txt"]
    assert "--allow-dirty" in caught.value.diagnostics()


def test_older_ref_uses_its_own_commit_time(tmp_path: Path) -> None:
    repo = make_repo("hatchling", tmp_path / "repo")
    (repo / "CHANGES.txt").write_text("later\n")
    git(repo, "add", "CHANGES.txt")
    git(repo, "commit", "-qm", "later", date="2025-01-01T00:00:00+00:00")
    old = export_tree(repo, "v0.1.0", tmp_path / "old")
    new = export_tree(repo, "HEAD", tmp_path / "new")
    assert old.source_date_epoch == COMMIT_EPOCH
    assert new.source_date_epoch == 1735689600
    assert not (old.path / "CHANGES.txt").exists()


def test_project_in_a_subdirectory(tmp_path: Path) -> None:
    repo = tmp_path / "mono"
    make_repo("flit_core", repo / "pkg", tag=None)
    tree = export_tree(repo / "pkg", "HEAD", tmp_path / "out")
    assert (tree.path / "pyproject.toml").is_file()


def test_umask_decides_checkout_modes(tmp_path: Path) -> None:
    repo = make_repo("hatchling", tmp_path / "repo")
    tree = export_tree(repo, "HEAD", tmp_path / "out", umask=0o002)
    assert (tree.path / "pyproject.toml").stat().st_mode & 0o777 == 0o664


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("no-such-ref", "'no-such-ref' does not name a commit in"),
        ("--output=x", "invalid ref '--output=x'"),
    ],
)
def test_bad_ref(tmp_path: Path, ref: str, message: str) -> None:
    repo = make_repo("hatchling", tmp_path / "repo")
    with pytest.raises(SourceError, match=message):
        export_tree(repo, ref, tmp_path / "out")


def test_not_a_repository(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    with pytest.raises(SourceError, match="is not inside a git repository"):
        export_tree(tmp_path / "plain", "HEAD", tmp_path / "out")
    with pytest.raises(SourceError, match="is not a directory"):
        export_tree(tmp_path / "missing", "HEAD", tmp_path / "out")


def test_commit_without_a_project(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "notes.txt").write_text("hi\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "notes")
    with pytest.raises(SourceError, match=r"has no pyproject\.toml or setup\.py"):
        export_tree(repo, "HEAD", tmp_path / "out")


def test_bare_repository_exports_like_its_work_tree(tmp_path: Path) -> None:
    repo = make_repo("hatchling", tmp_path / "repo")
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "--quiet", "--bare", str(repo), str(bare))
    tree = export_tree(bare, "v0.1.0", tmp_path / "out")
    assert tree.commit == git(repo, "rev-parse", "HEAD").strip()
    assert tree.source_date_epoch == COMMIT_EPOCH
    assert tree.tag == "v0.1.0"
    assert (tree.path / "pyproject.toml").read_text() == (repo / "pyproject.toml").read_text()
    assert tree.path == tmp_path / "out"
    with pytest.raises(SourceError, match="'no-such-ref' does not name a commit in"):
        export_tree(bare, "no-such-ref", tmp_path / "out2")


def test_the_version_tag_on_the_commit(tmp_path: Path) -> None:
    repo = make_repo("hatchling", tmp_path / "repo", tag=None)
    git(repo, "tag", "release-notes")  # no digit: setuptools-scm's describe skips it
    assert export_tree(repo, "HEAD", tmp_path / "a").tag is None
    git(repo, "tag", "v0.1.0")
    assert export_tree(repo, "HEAD", tmp_path / "b").tag == "v0.1.0"
    (repo / "NEWS").write_text("later\n")
    git(repo, "add", "NEWS")
    git(repo, "commit", "-qm", "later")
    assert export_tree(repo, "HEAD", tmp_path / "c").tag is None
    assert export_tree(repo, "v0.1.0", tmp_path / "d").tag == "v0.1.0"


def test_checkout_keeps_what_git_archive_rewrites(tmp_path: Path) -> None:
    """Releases built elsewhere come from a CI checkout: ``export-ignore`` paths are there and
    ``export-subst`` placeholders stay unexpanded (setuptools-scm's ``.git_archival.txt``);
    a bare repository works and is not written to."""
    repo = make_repo("hatchling", tmp_path / "repo")
    (repo / ".gitattributes").write_text(
        ".git_archival.txt export-subst\nnotes.txt export-ignore\n"
    )
    (repo / ".git_archival.txt").write_text("node: $Format:%H$\n")
    (repo / "notes.txt").write_text("kept in a checkout\n")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--message", "archival")
    git(repo, "tag", "v0.2.0")
    bare = tmp_path / "mirror.git"
    git(tmp_path, "clone", "--quiet", "--bare", str(repo), str(bare))
    before = sorted(p.name for p in bare.iterdir())
    tree = checkout_tree(bare, "v0.2.0", tmp_path / "out" / "tree")
    assert (tree.path / ".git_archival.txt").read_text() == "node: $Format:%H$\n"
    assert (tree.path / "notes.txt").is_file()
    assert tree.tag == "v0.2.0"
    assert tree.source_date_epoch == COMMIT_EPOCH
    assert sorted(p.name for p in bare.iterdir()) == before
    assert not (tree.path / ".git").exists()
    exported = export_tree(bare, "v0.2.0", tmp_path / "exported")
    assert not (exported.path / "notes.txt").exists()
    assert "$Format" not in (exported.path / ".git_archival.txt").read_text()


def archived(repo: Path, dest: Path, *paths: str) -> Path:
    """``git archive``'s tar of HEAD unpacked with tarfile: what an export must equal."""
    data = subprocess.run(
        ["git", "-C", str(repo), "archive", "--format=tar", "HEAD", *paths],
        capture_output=True,
        check=True,
    ).stdout
    dest.mkdir()
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
        archive.extractall(dest, filter="data")
    return dest


def files_of(root: Path, umask: int) -> dict[str, tuple[str, int, int, bytes | str]]:
    """Every path under ``root``: its kind, its mode as a checkout under ``umask`` gives it
    (what the export promises), its mtime, and its bytes or link target."""
    found: dict[str, tuple[str, int, int, bytes | str]] = {}
    for path in sorted(root.rglob("*")):
        name = path.relative_to(root).as_posix()
        if path.is_symlink():
            found[name] = ("link", 0, 0, os.readlink(path))
            continue
        info = path.stat()
        executable = path.is_dir() or bool(info.st_mode & 0o111)
        mode = (0o777 if executable else 0o666) & ~umask
        data = b"" if path.is_dir() else path.read_bytes()
        found[name] = ("dir" if path.is_dir() else "file", mode, int(info.st_mtime), data)
    return found


def test_export_gives_what_git_archive_gives(tmp_path: Path) -> None:
    """git writes the files itself when no export attribute applies: the same names, bytes,
    executable bits and mtimes (the commit's) as ``git archive``; the repository's own index
    is not touched and no private index is left behind."""
    repo = make_repo("hatchling", tmp_path / "repo")
    (repo / "scripts").mkdir()
    (repo / "scripts/run.sh").write_text("#!/bin/sh\n")
    (repo / "scripts/run.sh").chmod(0o755)
    (repo / "src/deep/er").mkdir(parents=True)
    (repo / "src/deep/er/mod.py").write_text("X = 1\n")
    (repo / ".gitattributes").write_text("*.py text\n")  # attributes, none for export
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--message", "more")
    index = (repo / ".git/index").read_bytes()
    tree = export_tree(repo, "HEAD", tmp_path / "work/out", umask=0o002)
    expected = archived(repo, tmp_path / "archived")
    assert files_of(tree.path, 0o002) == files_of(expected, 0o002)
    assert (tree.path / "scripts/run.sh").stat().st_mode & 0o777 == 0o775
    assert (tree.path / "src/deep").stat().st_mtime == COMMIT_EPOCH
    assert (repo / ".git/index").read_bytes() == index
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["out"]


def test_export_attributes_still_come_from_git_archive(tmp_path: Path) -> None:
    repo = make_repo("hatchling", tmp_path / "repo")
    (repo / ".gitattributes").write_text(
        "[attr]archival export-subst\n.git_archival.txt archival\n"
    )
    (repo / ".git_archival.txt").write_text("node: $Format:%H$\n")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--message", "archival")
    tree = export_tree(repo, "HEAD", tmp_path / "subst")
    commit = git(repo, "rev-parse", "HEAD").strip()
    assert (tree.path / ".git_archival.txt").read_text() == f"node: {commit}\n"


def test_export_writes_links_that_stay_inside_and_refuses_others(tmp_path: Path) -> None:
    repo = make_repo("hatchling", tmp_path / "repo")
    (repo / "link.txt").symlink_to("README.md")
    (repo / "src/same.txt").symlink_to("../README.md")  # the same blob as link.txt's
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--message", "links")
    tree = export_tree(repo, "HEAD", tmp_path / "linked")
    assert os.readlink(tree.path / "link.txt") == "README.md"
    assert os.readlink(tree.path / "src/same.txt") == "../README.md"
    assert files_of(tree.path, 0o022) == files_of(archived(repo, tmp_path / "ref"), 0o022)

    (repo / "escape").symlink_to("../../outside")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--message", "a link out")
    with pytest.raises(tarfile.TarError, match="outside the destination"):
        export_tree(repo, "HEAD", tmp_path / "escaping")
    assert not (tmp_path / "escaping/escape").is_symlink()


def test_subdirectory_export_holds_only_the_subdirectory(tmp_path: Path) -> None:
    repo = tmp_path / "mono"
    make_repo("flit_core", tmp_path / "sample", tag=None)
    shutil.copytree(tmp_path / "sample", repo / "pkg", ignore=shutil.ignore_patterns(".git"))
    (repo / "other").mkdir()
    (repo / "other/notes.txt").write_text("not this project's\n")
    git(repo, "init", "--quiet")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--message", "two projects")
    tree = export_tree(repo / "pkg", "HEAD", tmp_path / "out")
    assert tree.path == tmp_path / "out/pkg"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["pkg"]
    expected = archived(repo, tmp_path / "archived", "pkg") / "pkg"
    assert (expected / "pyproject.toml").is_file()
    assert files_of(tree.path, 0o022) == files_of(expected, 0o022)

"""What ``trustyard publish`` uploads: distributions, their metadata and PEP 740 attestation files.
Grouping copies uv's ``group_files`` (``<dist>.<kind>.attestation``); wheels go before sdists.

Every input is checked before anything touches the network, and every problem is reported
together: a missing path, an unknown file type, a filename that is not normalised (PEP 427 /
PEP 625, as PyPI requires), metadata that disagrees with its filename or breaks PyPI's rules,
an attestation that is not JSON or whose distribution was not given.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.metadata import parse_email
from packaging.utils import canonicalize_name

from trustyard.dists.archives import inspect_archive
from trustyard.dists.digests import digests_of_file
from trustyard.dists.filenames import (
    PUBLISHABLE_SUFFIXES,
    SDIST_SUFFIX,
    WHEEL_SUFFIX,
    ZIP_SDIST_SUFFIX,
    DistFilename,
    check_filename_matches_metadata,
    parse_dist_filename,
)
from trustyard.dists.metadata import metadata_from_file
from trustyard.errors import Error, InvalidInput

__all__ = [
    "ATTESTATION_SUFFIX",
    "MAX_ATTESTATION_SIZE",
    "Distribution",
    "PublishInputError",
    "collect_distributions",
]

ATTESTATION_SUFFIX = ".attestation"
MAX_ATTESTATION_SIZE = 1024 * 1024
"""The largest attestation file read (a real PEP 740 attestation is a few KiB)."""
# License-File arrived with Metadata-Version 2.4 (PEP 639).
_BEFORE_LICENSE_FILE = frozenset({"1.0", "1.1", "1.2", "2.1", "2.2", "2.3"})

# uv's FormMetadata: single-valued fields after name/version/filetype/pyversion, in this order;
# then requires_python (always sent, even empty); then the multiple-use fields.
_OPTIONAL_FIELDS = (
    ("author", "author"),
    ("author_email", "author_email"),
    ("description", "description"),
    ("description_content_type", "description_content_type"),
    ("download_url", "download_url"),
    ("home_page", "home_page"),
    ("keywords", "keywords"),
    ("license", "license"),
    ("license_expression", "license_expression"),
    ("maintainer", "maintainer"),
    ("maintainer_email", "maintainer_email"),
    ("summary", "summary"),
)
_MULTIPLE_FIELDS = (
    ("classifiers", "classifiers"),
    ("dynamic", "dynamic"),
    ("license_file", "license_files"),
    ("obsoletes_dist", "obsoletes_dist"),
    ("platform", "platforms"),
    ("project_urls", "project_urls"),
    ("provides_dist", "provides_dist"),
    ("provides_extra", "provides_extra"),
    ("import_names", "import_names"),
    ("import_namespaces", "import_namespaces"),
    ("requires_dist", "requires_dist"),
    ("requires_external", "requires_external"),
)


class PublishInputError(InvalidInput):
    """The files given to publish cannot be uploaded as they are; every problem is listed."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        if len(self.problems) == 1:
            super().__init__(self.problems[0])
        else:
            listed = "\n".join(f"  {problem}" for problem in self.problems)
            super().__init__(f"{len(self.problems)} problems with the files to publish:\n{listed}")


@dataclass(frozen=True)
class Distribution:
    """One distribution file ready to upload: digests, upload-form metadata, attestations.

    ``metadata_fields`` are the form fields after the digests, in uv's order (``name``,
    ``version``, ``filetype``, ``pyversion``, ...); ``attestations`` are the parsed JSON
    objects of its ``<filename>.<kind>.attestation`` files, ordered by kind.
    """

    path: Path
    dist: DistFilename
    sha256: str
    blake2_256: str
    size: int
    metadata_fields: tuple[tuple[str, str], ...]
    attestation_files: tuple[Path, ...]
    attestations: tuple[dict[str, object], ...]

    @property
    def filename(self) -> str:
        """The file's name, as uploaded."""
        return self.dist.filename


def collect_distributions(paths: Sequence[Path]) -> list[Distribution]:
    """The distributions named by ``paths`` (files, or directories of ``*.whl``/``*.tar.gz``).

    A directory contributes its wheels, sdists and ``*.attestation`` files, and nothing else
    (``SHA256SUMS``, provenance, ``build-env.json`` stay behind). Wheels come first, then
    sdists, each sorted by filename, as uv uploads them. Raises :class:`PublishInputError`
    with every problem found.
    """
    problems: list[str] = []
    dist_paths: list[Path] = []
    attestation_paths: list[Path] = []
    if not paths:
        problems.append("no files to publish were given")
    for path in paths:
        if path.is_dir():
            found = _directory_entries(path)
            if not any(p.name.endswith(PUBLISHABLE_SUFFIXES) for p in found):
                problems.append(f"{path}: the directory holds no .whl or .tar.gz files")
            for entry in found:
                _sort_input(entry, dist_paths, attestation_paths, problems)
        elif path.is_file():
            _sort_input(path, dist_paths, attestation_paths, problems)
        elif path.exists():
            problems.append(f"{path}: not a regular file or a directory")
        else:
            problems.append(f"{path}: no such file or directory")

    by_filename: dict[str, Path] = {}
    parsed: dict[str, DistFilename] = {}
    for path in dist_paths:
        if path.name in by_filename and by_filename[path.name] != path:
            problems.append(f"{path}: given twice (also {by_filename[path.name]})")
            continue
        by_filename[path.name] = path
        try:
            parsed[path.name] = _normalised_filename(path.name)
        except Error as exc:
            problems.append(f"{path}: {exc.message}")

    attached = _group_attestations(attestation_paths, set(by_filename), problems)
    distributions = []
    for filename, dist in parsed.items():
        try:
            distributions.append(
                _distribution(by_filename[filename], dist, attached.get(filename, {}))
            )
        except Error as exc:
            problems.append(f"{by_filename[filename]}: {exc.message}")
    if problems:
        raise PublishInputError(problems)
    return sorted(distributions, key=lambda d: (d.dist.filetype != "bdist_wheel", d.filename))


def _directory_entries(directory: Path) -> list[Path]:
    """The regular files of ``directory`` that publish reads (not recursive)."""
    return sorted(
        entry
        for entry in directory.iterdir()
        if entry.is_file() and entry.name.endswith((*PUBLISHABLE_SUFFIXES, ATTESTATION_SUFFIX))
    )


def _sort_input(
    path: Path, dists: list[Path], attestations: list[Path], problems: list[str]
) -> None:
    name = path.name
    if name.endswith(ATTESTATION_SUFFIX):
        attestations.append(path)
    elif name.endswith(PUBLISHABLE_SUFFIXES):
        dists.append(path)
    elif name.endswith(ZIP_SDIST_SUFFIX):
        problems.append(f"{path}: .zip sdists cannot be uploaded; an sdist is a .tar.gz (PEP 625)")
    else:
        problems.append(
            f"{path}: not a distribution (.whl, .tar.gz) or an attestation "
            "(<distribution>.<kind>.attestation)"
        )


def _normalised_filename(filename: str) -> DistFilename:
    """Parse ``filename`` and insist on the normalised form PyPI requires (PEP 427, PEP 625)."""
    dist = parse_dist_filename(filename)
    if dist.filetype == "sdist":
        name_part, _, version_part = filename.removesuffix(SDIST_SUFFIX).rpartition("-")
    else:
        name_part, version_part = filename.split("-")[:2]
    expected_name = canonicalize_name(dist.name).replace("-", "_")
    if name_part != expected_name or version_part != str(dist.version):
        rest = filename[len(name_part) + 1 + len(version_part) :]
        expected = f"{expected_name}-{dist.version}{rest}"
        raise InvalidInput(
            f"the filename is not normalised: expected {expected!r} "
            "(PEP 427/625 names, PEP 440 versions, as PyPI requires)"
        )
    return dist


def _group_attestations(
    paths: list[Path], dist_filenames: set[str], problems: list[str]
) -> dict[str, dict[str, Path]]:
    """``{dist filename: {kind: path}}`` for ``<dist>.<kind>.attestation`` files (uv's rule)."""
    grouped: dict[str, dict[str, Path]] = {}
    for path in paths:
        dist_filename, _, kind = path.name.removesuffix(ATTESTATION_SUFFIX).rpartition(".")
        if not dist_filename or not kind or not dist_filename.endswith(PUBLISHABLE_SUFFIXES):
            problems.append(
                f"{path}: an attestation file is named <distribution>.<kind>.attestation "
                "(e.g. foo-1.0.tar.gz.publish.attestation)"
            )
            continue
        if dist_filename not in dist_filenames:
            problems.append(f"{path}: attestation without its distribution {dist_filename!r}")
            continue
        kinds = grouped.setdefault(dist_filename, {})
        if kind in kinds and kinds[kind] != path:
            problems.append(f"{path}: given twice (also {kinds[kind]})")
            continue
        kinds[kind] = path
    return grouped


def _read_attestation(path: Path) -> dict[str, object]:
    size = path.stat().st_size
    if size > MAX_ATTESTATION_SIZE:
        raise InvalidInput(
            f"{path.name}: the attestation is {size} bytes, more than {MAX_ATTESTATION_SIZE}"
        )
    try:
        document = json.loads(path.read_bytes())
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput(f"{path.name}: the attestation is not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise InvalidInput(f"{path.name}: the attestation is not a JSON object")
    return document


def _distribution(path: Path, dist: DistFilename, attestations: dict[str, Path]) -> Distribution:
    """Digest ``path``, read its core metadata and attestations; raise on the first problem."""
    raw = inspect_archive(path, dist).metadata
    metadata = metadata_from_file(raw, filename=dist.filename)
    check_filename_matches_metadata(
        dist, name=metadata.name, version=metadata.version, filetype=dist.filetype
    )
    digests = digests_of_file(path)
    files = tuple(attestations[kind] for kind in sorted(attestations))
    return Distribution(
        path=path,
        dist=dist,
        sha256=digests.sha256,
        blake2_256=digests.blake2_256,
        size=digests.size,
        metadata_fields=tuple(_form_fields(raw, dist)),
        attestation_files=files,
        attestations=tuple(_read_attestation(p) for p in files),
    )


def _form_fields(raw: bytes, dist: DistFilename) -> list[tuple[str, str]]:
    """The metadata part of uv's upload form, taken from the file's own PKG-INFO/METADATA."""
    values, _ = parse_email(raw)
    data: dict[str, object] = dict(values)
    fields = [
        ("metadata_version", str(data.get("metadata_version", ""))),
        ("name", str(data.get("name", ""))),
        ("version", str(data.get("version", ""))),
        ("filetype", dist.filetype),
        ("pyversion", _pyversion(dist)),
    ]
    for form_key, raw_key in _OPTIONAL_FIELDS:
        value = data.get(raw_key)
        if isinstance(value, list):  # keywords
            value = ", ".join(str(v) for v in value)
        if value:
            fields.append((form_key, str(value)))
    fields.append(("requires_python", str(data.get("requires_python", ""))))
    for form_key, raw_key in _MULTIPLE_FIELDS:
        if raw_key == "license_files" and data.get("metadata_version") in _BEFORE_LICENSE_FILE:
            continue  # older setuptools wrote it too early; twine drops it, PyPI refuses it
        value = data.get(raw_key)
        if isinstance(value, dict):  # project_urls: "Label, URL", as the form spells it
            fields.extend((form_key, f"{label}, {url}") for label, url in value.items())
        elif isinstance(value, list):
            fields.extend((form_key, str(v)) for v in value)
    return fields


def _pyversion(dist: DistFilename) -> str:
    """``source`` for an sdist; a wheel's python tags as its filename writes them (``py2.py3``)."""
    if dist.filetype == "sdist":
        return "source"
    return dist.filename.removesuffix(WHEEL_SUFFIX).split("-")[-3]


def __dir__() -> list[str]:
    return __all__

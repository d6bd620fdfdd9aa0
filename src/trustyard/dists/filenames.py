"""Distribution filenames: wheel (PEP 427, PEP 491) and sdist (PEP 625) names, PyPI's upload rules.
Behaviour copied from warehouse ``forklift/legacy.py`` (``_validate_filename``, steps 16 and 17).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from packaging.tags import Tag
from packaging.utils import (
    BuildTag,
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    canonicalize_version,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from trustyard.dists.platforms import is_allowed_platform_tag
from trustyard.errors import InvalidInput

__all__ = [
    "DIST_SUFFIXES",
    "PUBLISHABLE_SUFFIXES",
    "SDIST_SUFFIX",
    "SDIST_SUFFIXES",
    "WHEEL_SUFFIX",
    "ZIP_SDIST_SUFFIX",
    "DistFilename",
    "Filetype",
    "InvalidFilename",
    "check_filename_matches_metadata",
    "check_upload_filename",
    "distribution_key",
    "parse_dist_filename",
]

Filetype = Literal["sdist", "bdist_wheel"]

WHEEL_SUFFIX = ".whl"  # PEP 427
SDIST_SUFFIX = ".tar.gz"  # PEP 625: the one sdist format an upload may have now
ZIP_SDIST_SUFFIX = ".zip"  # legacy sdists: past PyPI's filename gate, refused by PEP 625's check
SDIST_SUFFIXES = (SDIST_SUFFIX, ZIP_SDIST_SUFFIX)
# PEP 527: the only extensions PyPI still accepts.
DIST_SUFFIXES = (WHEEL_SUFFIX, SDIST_SUFFIX, ZIP_SDIST_SUFFIX)
# What a release builds and publishes: a wheel and a PEP 625 sdist.
PUBLISHABLE_SUFFIXES = (WHEEL_SUFFIX, SDIST_SUFFIX)

_DIST_FILE_RE = re.compile(
    rf".+?(?P<extension>{'|'.join(map(re.escape, DIST_SUFFIXES))})$", re.IGNORECASE
)
# PEP 527: which ``filetype`` each extension belongs to.
_FILETYPE_EXTENSIONS: dict[str, tuple[str, ...]] = {
    "sdist": SDIST_SUFFIXES,
    "bdist_wheel": (WHEEL_SUFFIX,),
}
_DISALLOWED_CHARS = frozenset({*map(chr, range(32)), chr(127)})

# The binary distribution format's grammar, by character: ``{name}-{version}[-{build}]-{python
# tag}-{abi tag}-{platform tag}.whl`` where every component holds only ASCII letters, digits,
# ``_`` and ``.`` (the spec's escaping rule), a version also PEP 440's ``!`` and ``+``, and a
# build tag starts with a digit. ``packaging`` parses far more (spaces, ``<``, ``"``, any
# Unicode in tags): such names are refused here, so every stored name is safe in an HTTP
# header, a URL and an nginx location as it is.
_WHEEL_GRAMMAR = re.compile(
    r"[A-Za-z0-9_.]+-[A-Za-z0-9_.!+]+(-[0-9][A-Za-z0-9_.]*)?"
    r"-[A-Za-z0-9_.]+-[A-Za-z0-9_.]+-[A-Za-z0-9_.]+\.whl",
    re.ASCII,
)
_WHEEL_SPEC = "https://packaging.python.org/specifications/binary-distribution-format/"


class InvalidFilename(InvalidInput):
    """A distribution filename that breaks a spec or one of PyPI's upload rules."""


@dataclass(frozen=True)
class DistFilename:
    """A parsed distribution filename.

    ``name`` is the name part exactly as written in the filename; ``version`` is parsed
    (PEP 440); ``tags`` is empty and ``build`` is ``()`` for an sdist.
    """

    filename: str
    filetype: Filetype
    name: str
    version: Version
    tags: frozenset[Tag]
    build: BuildTag

    @property
    def extension(self) -> str:
        """``.whl``, ``.tar.gz`` or ``.zip``."""
        for extension in DIST_SUFFIXES:
            if self.filename.endswith(extension):
                return extension
        return ""


def check_upload_filename(filename: str, *, filetype: str | None = None) -> None:
    """PyPI's filename gate for an upload (warehouse ``_validate_filename``; PEP 527).

    No characters 0-31 or DEL, no ``/`` or ``\\``, and an extension of ``.tar.gz``, ``.zip``
    or ``.whl`` (any case, as PyPI matches it). When ``filetype`` (the form field) is given,
    the extension must belong to it. ``.zip`` sdists pass here, as on PyPI, and fail the
    PEP 625 check of :func:`check_filename_matches_metadata`.
    """
    if any(char in _DISALLOWED_CHARS for char in filename):
        raise InvalidFilename(
            "Cannot upload a file with non-printable characters (ordinals 0-31) "
            "or the DEL character (ordinal 127) in the name."
        )
    if "/" in filename or "\\" in filename:
        raise InvalidFilename("Cannot upload a file with '/' or '\\' in the name.")
    match = _DIST_FILE_RE.match(filename)
    if match is None:
        raise InvalidFilename(
            "Invalid file extension: Use .tar.gz, .whl or .zip extension. "
            "See https://www.python.org/dev/peps/pep-0527 "
            "and https://peps.python.org/pep-0715/ for more information"
        )
    if filetype is not None:
        _check_filetype(match.group("extension"), filetype)


def parse_dist_filename(filename: str) -> DistFilename:
    """Parse a wheel (PEP 427) or sdist (``.tar.gz``/``.zip``) filename with ``packaging``.

    Raises :class:`InvalidFilename` naming the file; the ``packaging`` error is the cause.
    """
    if filename.endswith(WHEEL_SUFFIX):
        try:
            _, version, build, tags = parse_wheel_filename(filename)
        except InvalidWheelFilename as exc:
            raise InvalidFilename(_naming_the_file(str(exc), filename)) from exc
        return DistFilename(
            filename=filename,
            filetype="bdist_wheel",
            name=filename.split("-", 1)[0],
            version=version,
            tags=tags,
            build=build,
        )
    if filename.endswith(SDIST_SUFFIXES):
        try:
            _, version = parse_sdist_filename(filename)
        except InvalidSdistFilename as exc:
            raise InvalidFilename(f"Invalid source distribution filename: {filename}") from exc
        stem = filename.removesuffix(SDIST_SUFFIX).removesuffix(ZIP_SDIST_SUFFIX)
        return DistFilename(
            filename=filename,
            filetype="sdist",
            name=stem.rpartition("-")[0],
            version=version,
            tags=frozenset(),
            build=(),
        )
    raise InvalidFilename(
        f"Invalid distribution filename {filename!r}: "
        "expected a .whl, .tar.gz or .zip extension (PEP 527)."
    )


def check_filename_matches_metadata(
    dist: DistFilename, *, name: str, version: Version, filetype: str
) -> None:
    """Check that a filename agrees with its upload's metadata and form, as PyPI does.

    - ``filetype`` must be known and match the extension (PEP 527).
    - sdist (PEP 625): the filename must be exactly
      ``{normalized name with - as _}-{version}.tar.gz``, so ``.zip`` sdists fail here.
    - wheel (PEP 427/491): every platform tag must be on PyPI's allow-list, the name part must
      be exactly the normalized name with ``-`` as ``_``, and the version must equal the
      metadata's (as versions, so ``1.0`` and ``1.0.0`` agree). These problems are collected
      and reported together.
    """
    _check_filetype(dist.extension, filetype)
    expected_name = canonicalize_name(name).replace("-", "_")
    if dist.filetype == "sdist":
        expected_filename = f"{expected_name}-{version}.tar.gz"
        if dist.filename != expected_filename:
            raise InvalidFilename(
                f"Filename {dist.filename!r} is invalid, should be {expected_filename!r}."
            )
        return

    problems: list[str] = []
    if not _WHEEL_GRAMMAR.fullmatch(dist.filename):
        problems.append(
            f"Filename {dist.filename!r} is invalid: a wheel's name, version, build tag and"
            " compatibility tags hold only ASCII letters, digits, '_' and '.' (and '!' or '+'"
            f" in the version). See {_WHEEL_SPEC} for more information."
        )
    unsupported = sorted(t.platform for t in dist.tags if not is_allowed_platform_tag(t.platform))
    if unsupported:
        # PyPI names the first unsupported tag it meets; sorting makes "first" deterministic.
        problems.append(
            f"Binary wheel {dist.filename!r} has an unsupported platform tag {unsupported[0]!r}."
        )
    if dist.name != expected_name:
        problems.append(
            f"Filename {dist.filename!r} should contain the normalized project name "
            f"{expected_name!r}, not {dist.name!r}."
        )
    if dist.version != version:
        problems.append(
            f"Version in filename should be {str(version)!r} not {str(dist.version)!r}."
        )
    if problems:
        raise InvalidFilename(" ".join(problems))


def distribution_key(dist: DistFilename) -> str:
    """What a filename burns: its project, version, kind, build tag and tags, normalised.

    Two filenames with one key name the same distribution to an installer
    (``beta-2.0-py3-none-any.whl`` and ``beta-2.0.0-py3-none-any.whl`` are both beta 2.0 for
    py3-none-any: PEP 440 compares versions, not strings; a compressed tag set is a set), so a
    key, like a filename (warehouse's ``Filename`` table), is used once, ever. A build tag
    makes a different key: rebuilding is what it is for (binary distribution format).
    """
    name = canonicalize_name(dist.name)
    version = canonicalize_version(dist.version)
    if dist.filetype == "sdist":
        return f"{name} {version} sdist"
    build = f"{dist.build[0]}{dist.build[1]}" if dist.build else ""
    tags = ".".join(sorted(str(tag) for tag in dist.tags))
    return f"{name} {version} bdist_wheel {build} {tags}"


def _naming_the_file(message: str, filename: str) -> str:
    """packaging names a wheel without its ``.whl``; name the whole file instead."""
    named = message.replace(repr(filename.removesuffix(WHEEL_SUFFIX)), repr(filename))
    return named if repr(filename) in named else f"{message} (in {filename!r})"


def _check_filetype(extension: str, filetype: str) -> None:
    """The ``filetype`` form field must be known and own the extension (PEP 527)."""
    extensions = _FILETYPE_EXTENSIONS.get(filetype)
    if extensions is None:
        raise InvalidFilename("Invalid value for filetype. Error: Use a known file type.")
    if extension not in extensions:
        raise InvalidFilename(
            f"Invalid file extension: Extension {extension} is invalid for filetype "
            f"{filetype}. See https://www.python.org/dev/peps/pep-0527 for more information."
        )


def __dir__() -> list[str]:
    return __all__

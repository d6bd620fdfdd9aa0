"""Core metadata (PEP 241 to PEP 794) from the upload form or a PKG-INFO/METADATA file, validated.
Validation is ``packaging.metadata`` plus PyPI's own rules (warehouse ``forklift/metadata.py``).
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

from packaging.metadata import InvalidMetadata, Metadata, RawMetadata, parse_email
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from trove_classifiers import classifiers as known_classifiers
from trove_classifiers import deprecated_classifiers

from trustyard.errors import InvalidInput

__all__ = [
    "SUPPORTED_METADATA_VERSIONS",
    "FileDependencies",
    "InvalidMetadataError",
    "MetadataProblem",
    "check_dependencies_agree",
    "file_metadata_vouches",
    "metadata_from_file",
    "metadata_from_form",
]

SUPPORTED_METADATA_VERSIONS = frozenset({"1.0", "1.1", "1.2", "2.1", "2.2", "2.3", "2.4", "2.5"})
"""The Metadata-Version values PyPI accepts (2.0 was never a real version)."""

_SPEC_URL = "https://packaging.python.org/specifications/core-metadata"
_MAX_LENGTHS = {"summary": 512}  # warehouse _LENGTH_LIMITS
_MAX_URL_LABEL = 32
_URL_SCHEMES = frozenset({"http", "https"})
_URL_FORBIDDEN_RE = re.compile(r"[\x00-\x20\x7f<>\"{}|\\^`]")
_EMAIL_ADDRESS_RE = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")
_LIMITED_VALUE = 60  # warehouse shortens longer values to 30 + "..." + 30 in messages

# Every field of RawMetadata, spelled as the core metadata spec spells its header.
_FIELD_TITLES = {
    "metadata_version": "Metadata-Version",
    "name": "Name",
    "version": "Version",
    "dynamic": "Dynamic",
    "platforms": "Platform",
    "supported_platforms": "Supported-Platform",
    "summary": "Summary",
    "description": "Description",
    "description_content_type": "Description-Content-Type",
    "keywords": "Keywords",
    "home_page": "Home-page",
    "download_url": "Download-URL",
    "author": "Author",
    "author_email": "Author-email",
    "maintainer": "Maintainer",
    "maintainer_email": "Maintainer-email",
    "license": "License",
    "license_expression": "License-Expression",
    "license_files": "License-File",
    "classifiers": "Classifier",
    "requires_dist": "Requires-Dist",
    "requires_python": "Requires-Python",
    "requires_external": "Requires-External",
    "project_urls": "Project-URL",
    "provides_extra": "Provides-Extra",
    "provides_dist": "Provides-Dist",
    "obsoletes_dist": "Obsoletes-Dist",
    "import_names": "Import-Name",
    "import_namespaces": "Import-Namespace",
    "requires": "Requires",
    "provides": "Provides",
    "obsoletes": "Obsoletes",
}
_EMAIL_TO_RAW = {title.lower(): raw for raw, title in _FIELD_TITLES.items()}
_STRING_FIELDS = frozenset(
    {
        "metadata_version",
        "name",
        "version",
        "summary",
        "description",
        "description_content_type",
        "home_page",
        "download_url",
        "author",
        "author_email",
        "maintainer",
        "maintainer_email",
        "license",
        "license_expression",
        "requires_python",
    }
)
# Upload-form keys: the RawMetadata names, plus the singular spellings PyPI and twine use
# for multiple-use fields ("platform", "license_file", "import_name", ...).
_FORM_TO_RAW = {raw: raw for raw in _FIELD_TITLES} | {
    "platform": "platforms",
    "supported_platform": "supported_platforms",
    "license_file": "license_files",
    "import_name": "import_names",
    "import_namespace": "import_namespaces",
    "classifier": "classifiers",
}
_RawValues = dict[str, str | list[str] | dict[str, str]]
"""RawMetadata as this module builds it, before ``Metadata.from_raw`` checks it."""

# License-File arrived with Metadata-Version 2.4 (PEP 639).
_BEFORE_LICENSE_FILE = frozenset({"1.0", "1.1", "1.2", "2.1", "2.2", "2.3"})
# Report these first: they influence every other problem (warehouse _error_message_order).
_FIRST_FIELDS = ("Metadata-Version", "Name", "Version")


@dataclass(frozen=True)
class MetadataProblem:
    """One broken rule: the field (spelled as in the spec), the offending value, the reason."""

    field: str
    value: str
    detail: str

    def sentence(self) -> str:
        """PyPI's wording: "'{value}' is an invalid value for {field}. Error: {detail}"."""
        value = self.value
        if len(value) > _LIMITED_VALUE:
            value = f"{value[:30]}...{value[-30:]}"
        detail = self.detail if self.detail.endswith(".") else f"{self.detail}."
        return f"{value!r} is an invalid value for {self.field}. Error: {detail}"


class InvalidMetadataError(InvalidInput):
    """Core metadata that breaks the spec or PyPI's rules; every problem, in one message.

    ``problems`` lists them, the most influential first (Metadata-Version, Name, Version,
    then by field).
    """

    def __init__(self, problems: Sequence[MetadataProblem], *, prefix: str = "") -> None:
        self.problems = tuple(problems)
        sentences = " ".join(problem.sentence() for problem in self.problems)
        super().__init__(f"{prefix}{sentences} See {_SPEC_URL} for more information.")


def metadata_from_form(fields: Mapping[str, list[str]]) -> Metadata:
    """Validated metadata from the legacy upload form's fields (each key with all its values).

    Keys are the RawMetadata names twine and uv send (``requires_dist``, ``project_urls`` as
    "Label, URL", ...) or PyPI's singular spellings (``platform``, ``license_file``,
    ``import_name``); other keys are ignored, as PyPI ignores them. As PyPI does, values that
    are ``UNKNOWN`` are dropped and NUL characters are escaped as ``\\x00``; empty values
    count as absent. A single-use field given more than once is a problem whatever its values
    (``UNKNOWN`` and empty ones included): Warehouse's ``parse_form_metadata`` reads every
    value of a field and refuses a second one ("'version' has invalid data"), and its sanitizer
    drops UNKNOWN only when it is the field's value. Otherwise ``version=UNKNOWN`` plus
    ``version=2.0`` would be 2.0 here and "UNKNOWN" to a reader of the first value. Raises
    :class:`InvalidMetadataError` with every problem.
    """
    values: dict[str, list[str]] = {}
    problems: list[MetadataProblem] = []
    unparsed: set[str] = set()
    for key, field_values in fields.items():
        raw_key = _FORM_TO_RAW.get(key)
        if raw_key is None:
            continue
        if (raw_key in _STRING_FIELDS or raw_key == "keywords") and (
            len(field_values) + len(values.get(raw_key, [])) > 1
        ):
            given = [*values.get(raw_key, []), *field_values]
            problems.append(_problem(raw_key, ", ".join(given), "Give a single value."))
            unparsed.add(raw_key)
        cleaned = [v.replace("\x00", "\\x00") for v in field_values if v.strip() != "UNKNOWN"]
        values.setdefault(raw_key, []).extend(cleaned)

    raw: _RawValues = {}
    for raw_key, field_values in values.items():
        present = [v for v in field_values if v]
        if raw_key == "import_names" and field_values and not present:
            raw[raw_key] = []  # Metadata 2.5: one empty Import-Name means "none"
        elif not present or raw_key in unparsed:
            continue
        elif raw_key in _STRING_FIELDS or raw_key == "keywords":
            if raw_key == "keywords":
                raw[raw_key] = [keyword.strip() for keyword in present[0].split(",")]
            else:
                raw[raw_key] = present[0]
        elif raw_key == "project_urls":
            raw[raw_key] = _project_urls(present, problems)
        else:
            raw[raw_key] = present
    return _validated(raw, problems, unparsed=unparsed)


def metadata_from_file(raw: bytes, *, filename: str | None = None) -> Metadata:
    """Validated metadata from the bytes of a PKG-INFO or ``.dist-info/METADATA`` file.

    Parsed with ``packaging.metadata.parse_email``. Fields the spec does not define are
    ignored; a defined field that cannot be parsed (a repeated single-use field, bytes that
    are not UTF-8, a description both in a header and in the body) is a problem. Like twine,
    ``License-File`` is dropped from metadata older than 2.4, which older setuptools wrote.
    Raises :class:`InvalidMetadataError`, its message prefixed with the file it came from.
    """
    parsed, unparsed = parse_email(raw)
    data = cast("_RawValues", dict(parsed))
    unparsed_known = {key: v for key, v in unparsed.items() if key in _EMAIL_TO_RAW}
    problems = [
        _problem(_EMAIL_TO_RAW[key], _joined(v), f"{key!r} has invalid data")
        for key, v in unparsed_known.items()
    ]
    if data.get("metadata_version") in _BEFORE_LICENSE_FILE:
        data.pop("license_files", None)
    where = f"{filename!r}" if filename else "the distribution file"
    return _validated(
        data,
        problems,
        prefix=f"Invalid metadata in {where}: ",
        unparsed={_EMAIL_TO_RAW[key] for key in unparsed_known},
    )


def file_metadata_vouches(raw: bytes, *, wheel: bool) -> bool:
    """Whether a file's own metadata is what installers act on, so the index must show it.

    A wheel's METADATA always is (pip and uv read it, or its PEP 658 copy). An sdist's PKG-INFO
    is only from Metadata-Version 2.2 (PEP 643: its fields are then what the built wheel says,
    unless marked ``Dynamic``); before 2.2 it need not say anything about dependencies.
    """
    if wheel:
        return True
    parsed, _ = parse_email(raw)
    try:
        return Version(parsed.get("metadata_version", "")) >= Version("2.2")
    except InvalidVersion:
        return False


@dataclass(frozen=True)
class FileDependencies:
    """A distribution file's own Requires-Dist (as the file spells them) and Requires-Python
    (``""`` when it has none)."""

    requires_dist: tuple[str, ...]
    requires_python: str


def _requirement_key(requirement: Requirement) -> tuple[object, ...]:
    """A requirement as installers read it: names and extras normalised (PEP 503), the
    specifier as a set (``Specifier`` equality is PEP 440's: ``==1.0`` is ``==1.0.0``), the
    marker in packaging's canonical spelling."""
    return (
        canonicalize_name(requirement.name),
        frozenset(canonicalize_name(extra) for extra in requirement.extras),
        requirement.specifier,
        requirement.url,
        str(requirement.marker) if requirement.marker is not None else "",
    )


def _listed(requirements: Iterable[Requirement]) -> str:
    return ", ".join(repr(str(r)) for r in sorted(requirements, key=str)) or "none"


def check_dependencies_agree(form: Metadata, raw: bytes, *, filename: str) -> FileDependencies:
    """The upload form's Requires-Dist and Requires-Python must be the file's own.

    Installers read the file's metadata; the JSON API and project page show the release's.
    If the two could differ, a dependency could be installed that no page shows (issue 14,
    finding 14). Requires-Dist is compared as sets of normalised requirements (order, spelling
    of names, extras and specifiers aside), Requires-Python as specifier sets. Returns the
    file's; raises :class:`InvalidInput` naming every difference.
    """
    parsed, unparsed = parse_email(raw)
    problems: list[str] = []
    file_requirements: list[Requirement] = []
    for text in [*parsed.get("requires_dist", []), *unparsed.get("requires-dist", [])]:
        try:
            file_requirements.append(Requirement(str(text)))
        except InvalidRequirement as exc:
            problems.append(f"Requires-Dist {str(text)!r} in the file is invalid: {exc}.")
    form_by_key = {_requirement_key(r): r for r in form.requires_dist or []}
    file_by_key = {_requirement_key(r): r for r in file_requirements}
    only_file = [r for key, r in file_by_key.items() if key not in form_by_key]
    only_form = [r for key, r in form_by_key.items() if key not in file_by_key]
    if not problems and (only_file or only_form):
        problems.append(
            f"Requires-Dist: only in the file: {_listed(only_file)};"
            f" only in the form: {_listed(only_form)}."
        )
    file_python = str(parsed.get("requires_python", "")).strip()
    try:
        file_specifiers = SpecifierSet(file_python)
    except InvalidSpecifier as exc:
        problems.append(f"Requires-Python {file_python!r} in the file is invalid: {exc}.")
    else:
        if file_specifiers != (form.requires_python or SpecifierSet()):
            form_python = str(form.requires_python or "")
            problems.append(
                f"Requires-Python: the file says {file_python!r}, the form {form_python!r}."
            )
    if problems:
        raise InvalidInput(
            "Invalid distribution file. The upload form's dependencies differ from those in"
            f" {filename!r}, which installers read: " + " ".join(problems)
        )
    return FileDependencies(
        requires_dist=tuple(str(r) for r in file_requirements), requires_python=file_python
    )


def _joined(values: Sequence[str | bytes]) -> str:
    """Unparsed values for a message: packaging keeps a body that is not UTF-8 as bytes."""
    return ", ".join(
        value.decode("utf-8", "backslashreplace") if isinstance(value, bytes) else value
        for value in values
    )


def _validated(
    raw: _RawValues,
    problems: list[MetadataProblem],
    *,
    prefix: str = "",
    unparsed: Iterable[str] = (),
) -> Metadata:
    """``Metadata.from_raw(validate=True)`` plus PyPI's rules, all problems in one error."""
    skipped = set(unparsed) - set(raw)  # already reported as unparsable, not "missing" too
    metadata: Metadata | None = None
    cause: ExceptionGroup[Exception] | None = None
    try:
        metadata = Metadata.from_raw(cast("RawMetadata", raw), validate=True)
    except ExceptionGroup as group:
        cause = group
        for exc in _leaves(group):
            if isinstance(exc, InvalidMetadata) and _EMAIL_TO_RAW.get(exc.field) in skipped:
                continue
            problems.append(_problem_from_exception(exc, raw))
    problems.extend(_pypi_problems(raw))
    if problems or metadata is None:
        raise InvalidMetadataError(_ordered(problems), prefix=prefix) from cause
    return metadata


def _leaves(group: BaseExceptionGroup[Exception]) -> Iterable[Exception]:
    """The exceptions of a (possibly nested) exception group, in order."""
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            yield from _leaves(exc)
        else:
            yield exc


def _problem_from_exception(exc: Exception, raw: _RawValues) -> MetadataProblem:
    """Turn one ``packaging`` validation error into a problem naming the offending value."""
    if not isinstance(exc, InvalidMetadata):  # packaging only raises InvalidMetadata today
        return MetadataProblem(field="Metadata", value="", detail=str(exc))
    raw_key = _EMAIL_TO_RAW.get(exc.field, exc.field)
    if raw_key not in raw:  # a required field that is absent
        return _problem(raw_key, "", f"{exc.field!r} is a required field")
    return _problem(raw_key, _offending_value(raw_key, raw[raw_key]), str(exc))


def _offending_value(raw_key: str, value: str | list[str] | dict[str, str]) -> str:
    """The value an error is about: a list field's first item that fails on its own."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "; ".join(f"{label}, {url}" for label, url in value.items())
    for item in value:
        single = Metadata.from_raw(cast("RawMetadata", {raw_key: [item]}), validate=False)
        try:
            getattr(single, raw_key)
        except InvalidMetadata:
            return item
    return ", ".join(value)


def _problem(raw_key: str, value: str, detail: str) -> MetadataProblem:
    return MetadataProblem(field=_FIELD_TITLES.get(raw_key, raw_key), value=value, detail=detail)


def _project_urls(pairs: list[str], problems: list[MetadataProblem]) -> dict[str, str]:
    """``Project-URL`` values "Label, URL" as a mapping; a repeated label is a problem."""
    urls: dict[str, str] = {}
    for pair in pairs:
        label, _, url = (part.strip() for part in pair.partition(","))
        if label in urls:
            problems.append(_problem("project_urls", pair, f"Duplicate label {label!r}"))
        urls[label] = url
    return urls


def _pypi_problems(raw: _RawValues) -> list[MetadataProblem]:
    """PyPI's rules on top of the spec's (warehouse ``_validate_metadata``)."""
    problems: list[MetadataProblem] = []
    metadata_version = raw.get("metadata_version")
    if isinstance(metadata_version, str) and metadata_version not in SUPPORTED_METADATA_VERSIONS:
        detail = f"{metadata_version!r} is not a valid metadata version"
        problems.append(_problem("metadata_version", metadata_version, detail))
    version = raw.get("version")
    if isinstance(version, str) and _is_local_version(version):
        detail = f"The use of local versions in {version!r} is not allowed."
        problems.append(_problem("version", version, detail))
    for field, limit in _MAX_LENGTHS.items():
        value = raw.get(field)
        if isinstance(value, str) and len(value) > limit:
            detail = f"{field!r} field must be {limit} characters or less."
            problems.append(_problem(field, value, detail))
    if raw.get("license") and raw.get("license_expression"):
        detail = "License and License-Expression are mutually exclusive (PEP 639); keep one"
        problems.append(_problem("license", str(raw["license"]), detail))
    problems.extend(_classifier_problems(raw))
    problems.extend(_requirement_problems(raw))
    problems.extend(_url_problems(raw))
    problems.extend(_email_problems(raw))
    return problems


def _classifier_problems(raw: _RawValues) -> Iterable[MetadataProblem]:
    """Classifiers must be known and current (trove-classifiers, as warehouse checks them).

    Unlike PyPI, ``Private :: ...`` classifiers are accepted: they exist precisely to keep a
    package on a private index such as this one, and away from PyPI.
    """
    value = raw.get("classifiers")
    for classifier in value if isinstance(value, list) else ():
        if classifier.startswith("Private ::"):
            continue
        if classifier in deprecated_classifiers:
            alternatives = ", ".join(deprecated_classifiers[classifier]) or "none"
            detail = (
                f"Classifier {classifier!r} has been deprecated, use the following"
                f" classifier(s) instead: {alternatives}"
            )
            yield _problem("classifiers", classifier, detail)
        elif classifier not in known_classifiers:
            yield _problem(
                "classifiers", classifier, f"Classifier {classifier!r} is not a valid classifier."
            )


def _is_local_version(version: str) -> bool:
    """PyPI refuses local versions (``1.0+local``); invalid versions are reported elsewhere."""
    try:
        return Version(version).local is not None
    except InvalidVersion:
        return False


def _requirement_problems(
    raw: _RawValues,
) -> Iterable[MetadataProblem]:
    """No direct URL requirements; Provides-Dist and Obsoletes-Dist must parse (PEP 508)."""
    for field in ("requires_dist", "provides_dist", "obsoletes_dist"):
        value = raw.get(field)
        for item in value if isinstance(value, list) else ():
            try:
                requirement = Requirement(item)
            except InvalidRequirement as exc:
                if field != "requires_dist":  # packaging reports Requires-Dist itself
                    yield _problem(field, item, f"{item!r} is invalid: {exc}")
                continue
            if requirement.url is not None:
                yield _problem(field, item, f"Can't have direct dependency: {item}")


def _url_problems(raw: _RawValues) -> Iterable[MetadataProblem]:
    """Home-page, Download-URL and Project-URL values must be http(s) URLs; labels <= 32."""
    for field in ("home_page", "download_url"):
        url = raw.get(field)
        if isinstance(url, str) and not _is_valid_url(url):
            yield _problem(field, url, f"{url!r} is not a valid url.")
    urls = raw.get("project_urls")
    for label, url in urls.items() if isinstance(urls, dict) else ():
        pair = f"{label}, {url}"
        if not label:
            yield _problem("project_urls", pair, "Must have a label")
        elif len(label) > _MAX_URL_LABEL:
            yield _problem("project_urls", pair, f"{label!r} must be 32 characters or less.")
        elif not url:
            yield _problem("project_urls", pair, "Must have a URL")
        elif not _is_valid_url(url):
            yield _problem("project_urls", pair, f"{url!r} is not a valid url")


def _is_valid_url(url: str) -> bool:
    """An absolute http(s) URL without spaces or characters RFC 3986 forbids."""
    if _URL_FORBIDDEN_RE.search(url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in _URL_SCHEMES and bool(parts.netloc or parts.path)


def _email_problems(
    raw: _RawValues,
) -> Iterable[MetadataProblem]:
    """Author-email and Maintainer-email hold RFC 822 addresses (``Name <a@example.org>``)."""
    for field in ("author_email", "maintainer_email"):
        value = raw.get(field)
        if not isinstance(value, str):
            continue
        for _, address in email.utils.getaddresses([value]):
            if address and not _EMAIL_ADDRESS_RE.fullmatch(address):
                yield _problem(field, value, f"{address!r} is not a valid email address")


def _ordered(problems: Iterable[MetadataProblem]) -> list[MetadataProblem]:
    """Without repeats; Metadata-Version, Name and Version first, then by field name."""
    unique = list(dict.fromkeys(problems))
    return sorted(
        unique,
        key=lambda p: (
            _FIRST_FIELDS.index(p.field) if p.field in _FIRST_FIELDS else len(_FIRST_FIELDS),
            p.field.lower(),
        ),
    )


def __dir__() -> list[str]:
    return __all__

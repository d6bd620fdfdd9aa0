"""Tests for core metadata from the upload form and from PKG-INFO / METADATA files.
Spec: core metadata (packaging.metadata) plus PyPI's rules (warehouse ``forklift/metadata.py``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.metadata import Metadata
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from tests.dists.builders import build_sdist, build_wheel, core_metadata
from trustyard.dists.archives import inspect_archive
from trustyard.dists.filenames import parse_dist_filename
from trustyard.dists.metadata import (
    SUPPORTED_METADATA_VERSIONS,
    InvalidMetadataError,
    MetadataProblem,
    check_dependencies_agree,
    file_metadata_vouches,
    metadata_from_file,
    metadata_from_form,
)
from trustyard.errors import InvalidInput

SEE = "See https://packaging.python.org/specifications/core-metadata for more information."
BASE = {"metadata_version": ["2.4"], "name": ["foo"], "version": ["1.0"]}


def form(**fields: str | list[str]) -> dict[str, list[str]]:
    merged = dict(BASE)
    for key, value in fields.items():
        merged[key] = [value] if isinstance(value, str) else value
    return merged


def problems_of(fields: dict[str, list[str]]) -> list[MetadataProblem]:
    with pytest.raises(InvalidMetadataError) as caught:
        metadata_from_form(fields)
    assert isinstance(caught.value, InvalidInput)
    assert caught.value.message.endswith(SEE)
    return list(caught.value.problems)


def only_problem(fields: dict[str, list[str]]) -> MetadataProblem:
    problems = problems_of(fields)
    assert len(problems) == 1, problems
    return problems[0]


# -- the form: valid --------------------------------------------------------------------------


def test_minimal_form() -> None:
    metadata = metadata_from_form(BASE)
    assert metadata.metadata_version == "2.4"
    assert metadata.name == "foo"
    assert metadata.version == Version("1.0")


def test_full_form_as_twine_and_uv_send_it() -> None:
    fields = {
        ":action": ["file_upload"],
        "protocol_version": ["1"],
        "sha256_digest": ["0" * 64],
        "filetype": ["bdist_wheel"],
        "pyversion": ["py3"],
        "comment": [""],
        "attestations": ["[]"],
        "metadata_version": ["2.5"],
        "name": ["Foo.Bar"],
        "version": ["1.0.post1"],
        "summary": ["A package"],
        "description": ["# Foo\n\nLong text.\n"],
        "description_content_type": ["text/markdown; charset=UTF-8; variant=GFM"],
        "keywords": ["one, two ,three"],
        "home_page": ["https://example.org"],
        "download_url": ["https://example.org/download"],
        "author": ["Ann"],
        "author_email": ["Ann <ann@example.org>, bob@example.com"],
        "maintainer": ["Bob"],
        "maintainer_email": ["bob@example.com"],
        "license_expression": ["MIT OR Apache-2.0"],
        "license_file": ["LICENSE", "licenses/NOTICE"],
        "classifiers": ["Programming Language :: Python :: 3", "Typing :: Typed"],
        "platform": ["any"],
        "supported_platform": ["linux"],
        "requires_dist": ["requests>=2", "pytest; extra == 'test'"],
        "requires_python": [">=3.9"],
        "requires_external": ["libpng (>=1.5)"],
        "project_urls": ["Homepage, https://example.org", "Issues, https://example.org/issues"],
        "provides_extra": ["test"],
        "provides_dist": ["foo_bar (==1.0)"],
        "obsoletes_dist": ["old-foo"],
        "dynamic": ["Requires-Dist"],
        "import_names": ["foo_bar", "foo_bar._private; private"],
        "import_namespace": ["foo"],
    }
    metadata = metadata_from_form(fields)
    assert metadata.name == "Foo.Bar"
    assert metadata.version == Version("1.0.post1")
    assert metadata.keywords == ["one", "two", "three"]
    assert metadata.license_expression == "MIT OR Apache-2.0"
    assert metadata.license_files == ["LICENSE", "licenses/NOTICE"]
    assert metadata.platforms == ["any"]
    assert metadata.supported_platforms == ["linux"]
    assert metadata.requires_dist == [
        Requirement("requests>=2"),
        Requirement("pytest; extra == 'test'"),
    ]
    assert metadata.requires_python == SpecifierSet(">=3.9")
    assert metadata.project_urls == {
        "Homepage": "https://example.org",
        "Issues": "https://example.org/issues",
    }
    assert metadata.provides_extra == ["test"]
    assert metadata.dynamic == ["requires-dist"]
    assert metadata.import_names == ["foo_bar", "foo_bar._private; private"]
    assert metadata.import_namespaces == ["foo"]


@pytest.mark.parametrize(
    ("key", "attribute"),
    [
        ("platform", "platforms"),
        ("platforms", "platforms"),
        ("supported_platform", "supported_platforms"),
        ("license_file", "license_files"),
        ("license_files", "license_files"),
        ("import_name", "import_names"),
        ("import_names", "import_names"),
        ("classifier", "classifiers"),
    ],
)
def test_singular_and_plural_form_keys(key: str, attribute: str) -> None:
    value = "Typing :: Typed" if attribute == "classifiers" else "x"
    metadata = metadata_from_form(form(metadata_version="2.5", **{key: [value]}))
    assert getattr(metadata, attribute) == [value]


def test_both_spellings_are_merged() -> None:
    metadata = metadata_from_form(form(platform="a", platforms="b"))
    assert metadata.platforms == ["b", "a"] or metadata.platforms == ["a", "b"]


def test_empty_import_name_means_none() -> None:
    metadata = metadata_from_form(form(metadata_version="2.5", import_names=""))
    assert metadata.import_names == []


@pytest.mark.parametrize(
    ("fields", "attribute", "expected"),
    [
        ({"summary": "UNKNOWN"}, "summary", None),
        ({"summary": " UNKNOWN "}, "summary", None),
        ({"home_page": "UNKNOWN"}, "home_page", None),
        ({"license": "UNKNOWN"}, "license", None),
        ({"classifiers": ["UNKNOWN", "Typing :: Typed"]}, "classifiers", ["Typing :: Typed"]),
        ({"platform": "UNKNOWN"}, "platforms", None),
        ({"summary": "unknown"}, "summary", "unknown"),
        ({"requires_python": ""}, "requires_python", None),
        ({"description_content_type": ""}, "description_content_type", None),
        ({"classifiers": ["", "Typing :: Typed"]}, "classifiers", ["Typing :: Typed"]),
        ({"summary": "a\x00b"}, "summary", "a\\x00b"),
        ({"author": ["Ann\x00"]}, "author", "Ann\\x00"),
    ],
)
def test_form_clean_up(
    fields: dict[str, str | list[str]], attribute: str, expected: object
) -> None:
    metadata = metadata_from_form(form(**fields))
    assert getattr(metadata, attribute) == expected


def test_unknown_keys_are_ignored() -> None:
    metadata_from_form(form(gpg_signature="x", md5_digest="y", something_else="z"))


# -- the form: invalid ------------------------------------------------------------------------


def test_message_is_pypi_style() -> None:
    with pytest.raises(InvalidMetadataError) as caught:
        metadata_from_form(form(version="1.0+local"))
    assert caught.value.message == (
        "'1.0+local' is an invalid value for Version. Error: The use of local versions in "
        f"'1.0+local' is not allowed. {SEE}"
    )


def test_missing_required_fields() -> None:
    with pytest.raises(InvalidMetadataError) as caught:
        metadata_from_form({})
    assert caught.value.message == (
        "'' is an invalid value for Metadata-Version. Error: 'metadata-version' is a required "
        "field. '' is an invalid value for Name. Error: 'name' is a required field. "
        f"'' is an invalid value for Version. Error: 'version' is a required field. {SEE}"
    )


@pytest.mark.parametrize(
    ("fields", "field", "value", "detail"),
    [
        ({"metadata_version": "2.0"}, "Metadata-Version", "2.0", "not a valid metadata version"),
        ({"metadata_version": "2.6"}, "Metadata-Version", "2.6", "not a valid metadata version"),
        ({"metadata_version": "3.0"}, "Metadata-Version", "3.0", "not a valid metadata version"),
        ({"metadata_version": "UNKNOWN"}, "Metadata-Version", "", "is a required field"),
        ({"name": "-foo"}, "Name", "-foo", "'-foo' is invalid for 'name'"),
        ({"name": "foo bar"}, "Name", "foo bar", "is invalid for 'name'"),
        ({"name": "\u212aiwi"}, "Name", "\u212aiwi", "is invalid for 'name'"),
        ({"name": ""}, "Name", "", "'name' is a required field"),
        ({"name": ["a", "b"]}, "Name", "a, b", "Give a single value."),
        ({"version": "1.0.foo"}, "Version", "1.0.foo", "'1.0.foo' is invalid for 'version'"),
        ({"version": "2004d"}, "Version", "2004d", "is invalid for 'version'"),
        ({"version": "1.0+local"}, "Version", "1.0+local", "The use of local versions"),
        ({"version": "1.0+abc.5"}, "Version", "1.0+abc.5", "The use of local versions"),
        ({"summary": "x" * 513}, "Summary", "x" * 513, "'summary' field must be 512 characters"),
        ({"summary": "two\nlines"}, "Summary", "two\nlines", "must be a single line"),
        (
            {"license": "MIT", "license_expression": "MIT"},
            "License",
            "MIT",
            "mutually exclusive",
        ),
        ({"license_expression": "Not A License"}, "License-Expression", "Not A License", "invalid"),
        (
            {"metadata_version": "2.1", "license_expression": "MIT"},
            "License-Expression",
            "MIT",
            "introduced in metadata version 2.4, not 2.1",
        ),
        (
            {"requires_dist": ["ok>=1", "foo @ https://example.org/foo.whl"]},
            "Requires-Dist",
            "foo @ https://example.org/foo.whl",
            "Can't have direct dependency",
        ),
        ({"requires_dist": ["ok>=1", "bad>>>1"]}, "Requires-Dist", "bad>>>1", "is invalid for"),
        ({"provides_dist": ["bad>>>1"]}, "Provides-Dist", "bad>>>1", "is invalid"),
        (
            {"obsoletes_dist": ["foo @ file:///tmp/foo"]},
            "Obsoletes-Dist",
            "foo @ file:///tmp/foo",
            "Can't have direct dependency",
        ),
        ({"requires_python": ">=3.x"}, "Requires-Python", ">=3.x", "is invalid for"),
        (
            {"description_content_type": "text/html"},
            "Description-Content-Type",
            "text/html",
            "must be one of",
        ),
        (
            {"description_content_type": "text/markdown; variant=Other"},
            "Description-Content-Type",
            "text/markdown; variant=Other",
            "Markdown variants",
        ),
        ({"dynamic": "Name"}, "Dynamic", "Name", "not allowed as a dynamic field"),
        ({"dynamic": "Nope"}, "Dynamic", "Nope", "not a valid dynamic field"),
        ({"provides_extra": ["ok", "-bad"]}, "Provides-Extra", "-bad", "is invalid for"),
        ({"license_files": "../LICENSE"}, "License-File", "../LICENSE", "parent directory"),
        (
            {"metadata_version": "2.5", "import_names": "1abc"},
            "Import-Name",
            "1abc",
            "not a valid identifier",
        ),
        (
            {"home_page": "javascript:alert(1)"},
            "Home-page",
            "javascript:alert(1)",
            "not a valid url",
        ),
        (
            {"download_url": "ftp://example.org/x"},
            "Download-URL",
            "ftp://example.org/x",
            "not a valid url",
        ),
        (
            {"home_page": "https://exa mple.org"},
            "Home-page",
            "https://exa mple.org",
            "not a valid url",
        ),
        ({"home_page": "example.org"}, "Home-page", "example.org", "not a valid url"),
        (
            {"project_urls": "Home, ftp://example.org"},
            "Project-URL",
            "Home, ftp://example.org",
            "not a valid url",
        ),
        (
            {"project_urls": "x" * 33 + ", https://example.org"},
            "Project-URL",
            "x" * 33 + ", https://example.org",
            "must be 32 characters or less",
        ),
        (
            {"project_urls": ", https://example.org"},
            "Project-URL",
            ", https://example.org",
            "Must have a label",
        ),
        ({"project_urls": "Home"}, "Project-URL", "Home, ", "Must have a URL"),
        (
            {"project_urls": ["Home, https://a.org", "Home, https://b.org"]},
            "Project-URL",
            "Home, https://b.org",
            "Duplicate label 'Home'",
        ),
        ({"home_page": "http://[::1"}, "Home-page", "http://[::1", "not a valid url"),
        (
            {"metadata_version": "2.1", "license_file": ["A", "B"]},
            "License-File",
            "A, B",
            "introduced in metadata version 2.4",
        ),
        (
            {"metadata_version": "1.1", "project_urls": ["A, https://a.org", "B, https://b.org"]},
            "Project-URL",
            "A, https://a.org; B, https://b.org",
            "introduced in metadata version 1.2",
        ),
        ({"author_email": "not-an-email"}, "Author-email", "not-an-email", "not a valid email"),
        (
            {"maintainer_email": "Bob <bob@localhost>"},
            "Maintainer-email",
            "Bob <bob@localhost>",
            "'bob@localhost'",
        ),
    ],
)
def test_invalid_form_fields(
    fields: dict[str, str | list[str]], field: str, value: str, detail: str
) -> None:
    problem = only_problem(form(**fields))
    assert (problem.field, problem.value) == (field, value)
    assert detail in problem.detail


@pytest.mark.parametrize(
    "fields",
    [
        {"author_email": "Ann <ann@example.org>, bob@example.com"},
        {"maintainer_email": "x.y+tag@sub.example.co.uk"},
        {"home_page": "HTTPS://Example.org/path?q=1#frag"},
        {"home_page": "http://[::1]:8080/"},
        {"project_urls": ["Source, https://github.com/o/r", "Docs,https://example.org"]},
        {"project_urls": "x" * 32 + ", https://example.org"},
        {"summary": "x" * 512},
        {"license": "MIT"},
        {"requires_dist": ["foo[bar]>=1,<2; python_version >= '3.9'"]},
        {"metadata_version": "1.0"},
        {"metadata_version": "1.2"},
    ],
)
def test_valid_form_fields(fields: dict[str, str | list[str]]) -> None:
    metadata_from_form(form(**fields))


@pytest.mark.parametrize("version", sorted(SUPPORTED_METADATA_VERSIONS))
def test_supported_metadata_versions(version: str) -> None:
    assert metadata_from_form(form(metadata_version=version)).metadata_version == version


def test_all_problems_collected_most_influential_first() -> None:
    problems = problems_of(
        form(
            summary="x" * 600,
            author_email="nope",
            requires_dist=["foo @ https://example.org/foo.whl"],
            version="1.0+local",
            name="-foo",
            metadata_version="2.6",
        )
    )
    assert [p.field for p in problems] == [
        "Metadata-Version",
        "Name",
        "Version",
        "Author-email",
        "Requires-Dist",
        "Summary",
    ]


def test_several_problems_in_one_message() -> None:
    with pytest.raises(InvalidMetadataError) as caught:
        metadata_from_form(form(name="-foo", home_page="ftp://x"))
    assert caught.value.message == (
        "'-foo' is an invalid value for Name. Error: '-foo' is invalid for 'name'. "
        "'ftp://x' is an invalid value for Home-page. Error: 'ftp://x' is not a valid url. "
        f"{SEE}"
    )


def test_long_values_are_shortened_in_the_message() -> None:
    summary = "a" * 30 + "b" * 500 + "c" * 30
    with pytest.raises(InvalidMetadataError) as caught:
        metadata_from_form(form(summary=summary))
    assert caught.value.message.startswith(f"'{'a' * 30}...{'c' * 30}' is an invalid value")
    assert caught.value.problems[0].value == summary


def test_same_problem_reported_once() -> None:
    problem = only_problem(form(metadata_version="2.0"))
    assert problem.detail == "'2.0' is not a valid metadata version"


def test_unexpected_packaging_errors_are_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> Metadata:
        nested = ExceptionGroup("inner", [ValueError("surprise")])
        raise ExceptionGroup("invalid metadata", [nested])

    monkeypatch.setattr(Metadata, "from_raw", broken)
    problem = only_problem(form())
    assert (problem.field, problem.value, problem.detail) == ("Metadata", "", "surprise")


def test_raised_from_the_packaging_errors() -> None:
    with pytest.raises(InvalidMetadataError) as caught:
        metadata_from_form(form(name="-foo"))
    assert isinstance(caught.value.__cause__, ExceptionGroup)


# -- files ------------------------------------------------------------------------------------


def test_file_metadata() -> None:
    raw = core_metadata("foo", "1.0", metadata_extra="Requires-Dist: bar>=1\n").encode()
    metadata = metadata_from_file(raw + b"\nThe long description.\n")
    assert metadata.name == "foo"
    assert metadata.requires_dist == [Requirement("bar>=1")]
    assert metadata.description == "The long description.\n"


def test_file_metadata_from_real_archives(tmp_path: Path) -> None:
    for path in (
        build_wheel(tmp_path, "Foo-Bar", "2.0", metadata_extra="Requires-Dist: x\n"),
        build_sdist(tmp_path, "Foo-Bar", "2.0", metadata_extra="Requires-Dist: x\n"),
    ):
        contents = inspect_archive(path, parse_dist_filename(path.name))
        metadata = metadata_from_file(contents.metadata, filename=path.name)
        assert (metadata.name, metadata.version) == ("Foo-Bar", Version("2.0"))


def test_unknown_headers_are_ignored() -> None:
    raw = core_metadata("foo", "1.0", metadata_extra="X-Custom: 1\nSetuptools-Thing: y\n")
    assert metadata_from_file(raw.encode()).name == "foo"


def test_license_file_dropped_from_old_metadata_like_twine() -> None:
    raw = b"Metadata-Version: 2.1\nName: foo\nVersion: 1.0\nLicense-File: LICENSE\n"
    assert metadata_from_file(raw).license_files is None
    newer = raw.replace(b"2.1", b"2.4")
    assert metadata_from_file(newer).license_files == ["LICENSE"]


@pytest.mark.parametrize(
    ("raw", "field", "detail"),
    [
        (
            b"Metadata-Version: 2.4\nName: foo\nName: bar\nVersion: 1.0\n",
            "Name",
            "'name' has invalid data",
        ),
        (
            b"Metadata-Version: 2.4\nName: foo\nVersion: 1.0\nSummary: \xff\xfe\n",
            "Summary",
            "'summary' has invalid data",
        ),
        (
            b"Metadata-Version: 2.4\nName: foo\nVersion: 1.0\nDescription: a\n\nbody\n",
            "Description",
            "'description' has invalid data",
        ),
        (  # found by fuzz/fuzz_archives.py: packaging keeps this body as bytes (TypeError)
            b"Metadata-Version: 2.4\nName: foo\nVersion: 1.0\n\nbody \xff\n",
            "Description",
            "'description' has invalid data",
        ),
        (b"Metadata-Version: 2.4\nName: foo\nVersion: 1.0+local\n", "Version", "local versions"),
        (b"Metadata-Version: 2.0\nName: foo\nVersion: 1.0\n", "Metadata-Version", "2.0"),
        (b"Name: foo\nVersion: 1.0\n", "Metadata-Version", "required"),
        (
            b"Metadata-Version: 2.4\nName: foo\nVersion: 1.0\n"
            b"Requires-Dist: foo @ https://example.org/f.whl\n",
            "Requires-Dist",
            "direct dependency",
        ),
    ],
)
def test_invalid_file_metadata(raw: bytes, field: str, detail: str) -> None:
    with pytest.raises(InvalidMetadataError) as caught:
        metadata_from_file(raw)
    (problem,) = caught.value.problems
    assert problem.field == field
    assert detail in problem.detail
    assert caught.value.message.startswith("Invalid metadata in the distribution file: ")


def test_body_that_is_not_utf8_is_shown_escaped() -> None:
    with pytest.raises(InvalidMetadataError) as caught:
        metadata_from_file(b"Metadata-Version: 2.4\nName: foo\nVersion: 1.0\n\nbody \xff\n")
    assert caught.value.problems[0].value == "body \\xff\n"


def test_file_message_names_the_file() -> None:
    with pytest.raises(InvalidMetadataError) as caught:
        metadata_from_file(b"Metadata-Version: 2.4\nName: -x\nVersion: 1\n", filename="x-1.whl")
    assert caught.value.message == (
        "Invalid metadata in 'x-1.whl': '-x' is an invalid value for Name. "
        f"Error: '-x' is invalid for 'name'. {SEE}"
    )


def test_empty_file() -> None:
    with pytest.raises(InvalidMetadataError) as caught:
        metadata_from_file(b"")
    assert [p.field for p in caught.value.problems] == ["Metadata-Version", "Name", "Version"]


@pytest.mark.parametrize(
    ("classifier", "message"),
    [
        ("Programming Language :: Cobol :: 2099", "is not a valid classifier"),
        (
            "Framework :: Django CMS :: 4.2",
            "has been deprecated, use the following classifier(s) instead",
        ),
    ],
)
def test_classifiers_must_be_known_and_current(classifier: str, message: str) -> None:
    fields = {
        "metadata_version": ["2.1"],
        "name": ["x"],
        "version": ["1"],
        "classifiers": [classifier],
    }
    with pytest.raises(InvalidInput, match=re.escape(message)):
        metadata_from_form(fields)


@pytest.mark.parametrize(
    "classifier",
    [
        "Private :: Do Not Upload",
        "Programming Language :: Python :: 3",
        "License :: OSI Approved :: MIT License",
    ],
)
def test_known_and_private_classifiers_pass(classifier: str) -> None:
    fields = {
        "metadata_version": ["2.1"],
        "name": ["x"],
        "version": ["1"],
        "classifiers": [classifier],
    }
    assert metadata_from_form(fields).classifiers == [classifier]


# -- repeated single-use fields (issue 14 finding 11) -----------------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"version": ["UNKNOWN", "2.0"]}, "Version"),  # PyPI drops UNKNOWN only when alone
        ({"version": ["2.0", "UNKNOWN"]}, "Version"),
        ({"version": ["", "2.0"]}, "Version"),
        ({"version": ["2.0", "2.0"]}, "Version"),
        ({"name": ["foo", "bar"]}, "Name"),
        ({"name": ["foo", "UNKNOWN"]}, "Name"),
        ({"requires_python": ["UNKNOWN", ">=3.9"]}, "Requires-Python"),
        ({"metadata_version": ["2.4", "2.1"]}, "Metadata-Version"),
    ],
)
def test_repeated_single_use_field_is_refused(fields: dict[str, list[str]], field: str) -> None:
    """Warehouse reads every value of a single-use field and refuses more than one
    (``parse_form_metadata``: "'version' has invalid data"), whatever they say."""
    problem = only_problem(form(**fields))
    assert problem.field == field
    assert "single value" in problem.detail


def test_normalised_version() -> None:
    assert str(metadata_from_form(form(version="V3.0.0")).version) == "3.0.0"


# -- the file's own dependencies against the form's (issue 14 finding 14) ---------------------


def _form_with(**fields: str | list[str]) -> Metadata:
    return metadata_from_form(form(**fields))


@pytest.mark.parametrize(
    ("raw", "wheel", "vouches"),
    [
        (b"Metadata-Version: 2.1\nName: foo\nVersion: 1.0\n", True, True),
        (b"Metadata-Version: 2.1\nName: foo\nVersion: 1.0\n", False, False),
        (b"Metadata-Version: 1.2\nName: foo\nVersion: 1.0\n", False, False),
        (b"Metadata-Version: 2.2\nName: foo\nVersion: 1.0\n", False, True),
        (b"Metadata-Version: 2.4\nName: foo\nVersion: 1.0\n", False, True),
        (b"Metadata-Version: 2.10\nName: foo\nVersion: 1.0\n", False, True),
        (b"Metadata-Version: rubbish\nName: foo\nVersion: 1.0\n", False, False),
        (b"Name: foo\nVersion: 1.0\n", False, False),
    ],
)
def test_which_files_vouch_for_their_metadata(raw: bytes, wheel: bool, vouches: bool) -> None:
    """A wheel's METADATA is what installers read; an sdist's PKG-INFO only from 2.2 (PEP 643)."""
    assert file_metadata_vouches(raw, wheel=wheel) is vouches


@pytest.mark.parametrize(
    ("fields", "extra"),
    [
        ({}, ""),
        ({"requires_dist": ["bar>=1"]}, "Requires-Dist: bar>=1\n"),
        (
            {"requires_dist": ["Foo_Bar[B,a] >= 1.0, <2 ; python_version>='3.9'", "baz"]},
            'Requires-Dist: baz\nRequires-Dist: foo-bar[a,b]<2,>=1.0; python_version >= "3.9"\n',
        ),
        ({"requires_dist": ["x==1.0"]}, "Requires-Dist: x==1.0.0\n"),
        ({"requires_python": ">=3.9"}, "Requires-Python: >=3.9\n"),
        ({"requires_python": ">=3.9,<4"}, "Requires-Python: <4, >=3.9\n"),
    ],
)
def test_dependencies_that_agree(fields: dict[str, str | list[str]], extra: str) -> None:
    raw = core_metadata("foo", "1.0", metadata_extra=extra).encode()
    check_dependencies_agree(_form_with(**fields), raw, filename="foo-1.0-py3-none-any.whl")


@pytest.mark.parametrize(
    ("fields", "extra", "message"),
    [
        (
            {},
            "Requires-Dist: evil\n",
            "Requires-Dist: only in the file: 'evil'; only in the form: none.",
        ),
        (
            {"requires_dist": ["bar", "evil"]},
            "Requires-Dist: bar\n",
            "Requires-Dist: only in the file: none; only in the form: 'evil'.",
        ),
        (
            {"requires_dist": ["bar>=1"]},
            "Requires-Dist: bar>=2\n",
            "Requires-Dist: only in the file: 'bar>=2'; only in the form: 'bar>=1'.",
        ),
        (
            {"requires_dist": ["bar"]},
            "Requires-Dist: bar; sys_platform == 'win32'\n",
            "only in the file: 'bar; sys_platform == \"win32\"'",
        ),
        (
            {"requires_python": ">=3.8"},
            "Requires-Python: >=3.12\n",
            "Requires-Python: the file says '>=3.12', the form '>=3.8'.",
        ),
        ({}, "Requires-Python: >=3.12\n", "Requires-Python: the file says '>=3.12', the form ''."),
        (
            {"requires_python": ">=3.8"},
            "",
            "Requires-Python: the file says '', the form '>=3.8'.",
        ),
    ],
)
def test_dependencies_that_disagree(
    fields: dict[str, str | list[str]], extra: str, message: str
) -> None:
    raw = core_metadata("foo", "1.0", metadata_extra=extra).encode()
    with pytest.raises(InvalidInput) as caught:
        check_dependencies_agree(_form_with(**fields), raw, filename="foo-1.0-py3-none-any.whl")
    text = caught.value.message
    assert text.startswith(
        "Invalid distribution file. The upload form's dependencies differ from those in"
        " 'foo-1.0-py3-none-any.whl', which installers read:"
    ), text
    assert message in text


def test_unparsable_dependency_in_the_file_is_refused() -> None:
    raw = core_metadata("foo", "1.0", metadata_extra="Requires-Dist: bar >>> 1\n").encode()
    with pytest.raises(InvalidInput) as caught:
        check_dependencies_agree(_form_with(), raw, filename="foo-1.0.tar.gz")
    assert "'bar >>> 1'" in caught.value.message

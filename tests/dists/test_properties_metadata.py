"""Property tests (hypothesis) for core metadata from a PKG-INFO/METADATA file and the upload form.
Spec: the core metadata specification (Metadata-Version 1.0 to 2.5) and PyPI's extra rules.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from packaging.utils import canonicalize_name
from packaging.version import Version
from trove_classifiers import sorted_classifiers

from trustyard.dists.metadata import (
    InvalidMetadataError,
    metadata_from_file,
    metadata_from_form,
)
from trustyard.dists.names import PROJECT_NAME_RE

FIELDS = [
    "Metadata-Version",
    "Name",
    "Version",
    "Summary",
    "Description",
    "Description-Content-Type",
    "Keywords",
    "Home-page",
    "Author-email",
    "License",
    "License-Expression",
    "License-File",
    "Classifier",
    "Requires-Dist",
    "Requires-Python",
    "Project-URL",
    "Provides-Extra",
    "Dynamic",
    "Import-Name",
    "X-Unknown",
]
FORM_KEYS = [
    "metadata_version",
    "name",
    "version",
    "summary",
    "description",
    "keywords",
    "home_page",
    "author_email",
    "license",
    "license_expression",
    "classifiers",
    "classifier",
    "requires_dist",
    "requires_python",
    "project_urls",
    "provides_extra",
    "platform",
    "import_name",
    "dynamic",
    ":action",
]
FIRST = ("Metadata-Version", "Name", "Version")

values = st.sampled_from(
    ["2.4", "1.0", "2.0", "foo", "-x", "1.0+local", "UNKNOWN", "", ">=3.9", "MIT", "a, b"]
) | st.text(max_size=30)
raw_values = st.binary(max_size=30) | values.map(lambda v: v.encode("utf-8", "surrogatepass"))
names = st.from_regex(PROJECT_NAME_RE, fullmatch=True)
versions = st.builds(
    lambda parts, dev: ".".join(map(str, parts)) + dev,
    st.lists(st.integers(0, 99), min_size=1, max_size=3),
    st.sampled_from(["", "rc1", ".post2", ".dev3"]),
)
summaries = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")), max_size=60
).map(str.strip)
requirements = st.builds(
    lambda name, spec: f"{name}{spec}",
    names,
    st.sampled_from(["", ">=1", "<2,>=1.0", "[extra]>=0.1", "; python_version >= '3.9'"]),
)
classifiers = st.sampled_from(
    [c for c in sorted_classifiers if c.startswith(("License ::", "Programming Language ::"))]
)


def check_error(error: InvalidMetadataError) -> None:
    """Every refusal lists its problems, the most influential fields first."""
    assert error.problems
    ranks = [FIRST.index(p.field) if p.field in FIRST else len(FIRST) for p in error.problems]
    assert ranks == sorted(ranks)
    assert error.message.endswith("for more information.")


@given(
    lines=st.lists(st.tuples(st.sampled_from(FIELDS), raw_values), max_size=12),
    body=st.none() | raw_values,
)
def test_any_file_gives_metadata_or_our_error(
    lines: list[tuple[str, bytes]], body: bytes | None
) -> None:
    raw = b"".join(field.encode() + b": " + value + b"\n" for field, value in lines)
    if body is not None:
        raw += b"\n" + body
    try:
        metadata = metadata_from_file(raw)
    except InvalidMetadataError as error:
        check_error(error)
        return
    assert canonicalize_name(metadata.name)


@given(raw=st.binary(max_size=300))
def test_any_bytes_give_metadata_or_our_error(raw: bytes) -> None:
    try:
        metadata_from_file(raw)
    except InvalidMetadataError as error:
        check_error(error)


@given(
    fields=st.dictionaries(
        st.sampled_from(FORM_KEYS) | st.text(max_size=10), st.lists(values, max_size=3)
    )
)
def test_any_form_gives_metadata_or_our_error(fields: dict[str, list[str]]) -> None:
    try:
        metadata_from_form(fields)
    except InvalidMetadataError as error:
        check_error(error)


@given(
    name=names,
    version=versions,
    summary=summaries,
    requires=st.lists(requirements, max_size=3),
    trove=st.lists(classifiers, max_size=3, unique=True),
    python=st.sampled_from(["", ">=3.9", ">=3.8,<4"]),
)
def test_valid_metadata_reads_the_same_from_a_file_and_from_the_form(
    name: str, version: str, summary: str, requires: list[str], trove: list[str], python: str
) -> None:
    header = [("Metadata-Version", "2.4"), ("Name", name), ("Version", version)]
    header += [("Summary", summary)] if summary else []
    header += [("Requires-Python", python)] if python else []
    header += [("Requires-Dist", r) for r in requires] + [("Classifier", c) for c in trove]
    from_file = metadata_from_file("".join(f"{k}: {v}\n" for k, v in header).encode())
    form: dict[str, list[str]] = {}
    for key, value in header:
        form.setdefault(key.lower().replace("-", "_"), []).append(value)
    form["classifiers"] = form.pop("classifier", [])
    from_form = metadata_from_form(form)
    for metadata in (from_file, from_form):
        assert metadata.name == name
        assert metadata.version == Version(version)
        assert (metadata.summary or "") == summary
        assert [str(r) for r in metadata.requires_dist or []] == [
            str(r) for r in from_file.requires_dist or []
        ]
        assert (metadata.classifiers or []) == trove
        assert str(metadata.requires_python or "") == str(from_file.requires_python or "")

"""Tests for distribution filenames: PyPI's upload gate, parsing, agreement with metadata.
Spec: PEP 427/491 (wheel), PEP 625 (sdist), PEP 527; warehouse ``forklift/legacy.py``.
"""

from __future__ import annotations

import pytest
from packaging.tags import Tag
from packaging.utils import InvalidSdistFilename, InvalidWheelFilename
from packaging.version import Version

from trustyard.dists import filenames
from trustyard.dists.filenames import (
    DistFilename,
    InvalidFilename,
    check_filename_matches_metadata,
    check_upload_filename,
    parse_dist_filename,
)
from trustyard.dists.platforms import is_allowed_platform_tag
from trustyard.errors import InvalidInput

CONTROL_MESSAGE = (
    "Cannot upload a file with non-printable characters (ordinals 0-31) "
    "or the DEL character (ordinal 127) in the name."
)
SLASH_MESSAGE = "Cannot upload a file with '/' or '\\' in the name."
EXTENSION_MESSAGE = (
    "Invalid file extension: Use .tar.gz, .whl or .zip extension. "
    "See https://www.python.org/dev/peps/pep-0527 "
    "and https://peps.python.org/pep-0715/ for more information"
)


def filetype_message(extension: str, filetype: str) -> str:
    return (
        f"Invalid file extension: Extension {extension} is invalid for filetype {filetype}. "
        "See https://www.python.org/dev/peps/pep-0527 for more information."
    )


# -- check_upload_filename (PyPI step 8) ---------------------------------------------------


@pytest.mark.parametrize(
    "filename",
    [
        "foo-1.0.tar.gz",
        "foo-1.0.zip",
        "foo-1.0-py3-none-any.whl",
        "FOO-1.0.TAR.GZ",  # PyPI matches the extension case-insensitively
        "foo-1.0-py3-none-any.WHL",
        "x.whl",
        "naïve-1.0.tar.gz",  # non-ASCII is printable; later checks decide
    ],
)
def test_upload_filename_accepted(filename: str) -> None:
    check_upload_filename(filename)


@pytest.mark.parametrize(
    ("filename", "message"),
    [
        ("foo\x00-1.0.tar.gz", CONTROL_MESSAGE),
        ("foo\x01-1.0.tar.gz", CONTROL_MESSAGE),
        ("foo\t-1.0.tar.gz", CONTROL_MESSAGE),
        ("foo\n-1.0.tar.gz", CONTROL_MESSAGE),
        ("foo-1.0.tar.gz\n", CONTROL_MESSAGE),
        ("foo\x1f-1.0.whl", CONTROL_MESSAGE),
        ("foo\x7f-1.0.whl", CONTROL_MESSAGE),
        ("../foo-1.0.tar.gz", SLASH_MESSAGE),
        ("dir/foo-1.0.tar.gz", SLASH_MESSAGE),
        ("/foo-1.0.tar.gz", SLASH_MESSAGE),
        ("..\\foo-1.0.whl", SLASH_MESSAGE),
        ("c:\\foo-1.0.whl", SLASH_MESSAGE),
        ("foo-1.0.tar.bz2", EXTENSION_MESSAGE),
        ("foo-1.0.tgz", EXTENSION_MESSAGE),
        ("foo-1.0.egg", EXTENSION_MESSAGE),
        ("foo-1.0.exe", EXTENSION_MESSAGE),
        ("foo-1.0.win32.msi", EXTENSION_MESSAGE),
        ("foo-1.0.whl.txt", EXTENSION_MESSAGE),
        (".whl", EXTENSION_MESSAGE),
        (".tar.gz", EXTENSION_MESSAGE),
        ("foo", EXTENSION_MESSAGE),
        ("", EXTENSION_MESSAGE),
    ],
)
def test_upload_filename_refused(filename: str, message: str) -> None:
    with pytest.raises(InvalidFilename) as caught:
        check_upload_filename(filename)
    assert caught.value.message == message
    assert isinstance(caught.value, InvalidInput)


@pytest.mark.parametrize(
    ("filename", "filetype"),
    [
        ("foo-1.0.tar.gz", "sdist"),
        ("foo-1.0.zip", "sdist"),
        ("foo-1.0-py3-none-any.whl", "bdist_wheel"),
    ],
)
def test_upload_filename_matching_filetype(filename: str, filetype: str) -> None:
    check_upload_filename(filename, filetype=filetype)


@pytest.mark.parametrize(
    ("filename", "filetype", "message"),
    [
        ("foo-1.0-py3-none-any.whl", "sdist", filetype_message(".whl", "sdist")),
        ("foo-1.0.tar.gz", "bdist_wheel", filetype_message(".tar.gz", "bdist_wheel")),
        ("foo-1.0.zip", "bdist_wheel", filetype_message(".zip", "bdist_wheel")),
        ("FOO-1.0.WHL", "bdist_wheel", filetype_message(".WHL", "bdist_wheel")),
        (
            "foo-1.0.tar.gz",
            "bdist_egg",
            "Invalid value for filetype. Error: Use a known file type.",
        ),
        ("foo-1.0.tar.gz", "", "Invalid value for filetype. Error: Use a known file type."),
    ],
)
def test_upload_filename_filetype_mismatch(filename: str, filetype: str, message: str) -> None:
    with pytest.raises(InvalidFilename) as caught:
        check_upload_filename(filename, filetype=filetype)
    assert caught.value.message == message


# -- parse_dist_filename --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "filetype", "name", "version", "tags", "build"),
    [
        (
            "foo_bar-1.0-py3-none-any.whl",
            "bdist_wheel",
            "foo_bar",
            "1.0",
            {Tag("py3", "none", "any")},
            (),
        ),
        (
            "Foo.Bar-2.0.post1-1abc-cp312-cp312-manylinux_2_17_x86_64.whl",
            "bdist_wheel",
            "Foo.Bar",
            "2.0.post1",
            {Tag("cp312", "cp312", "manylinux_2_17_x86_64")},
            (1, "abc"),
        ),
        (
            "foo-1.0-py2.py3-none-any.whl",
            "bdist_wheel",
            "foo",
            "1.0",
            {Tag("py2", "none", "any"), Tag("py3", "none", "any")},
            (),
        ),
        ("foo_bar-1.0.tar.gz", "sdist", "foo_bar", "1.0", set(), ()),
        ("foo-bar-1.0rc1.tar.gz", "sdist", "foo-bar", "1.0rc1", set(), ()),
        ("Foo-1.0.zip", "sdist", "Foo", "1.0", set(), ()),
    ],
)
def test_parse_dist_filename(
    filename: str,
    filetype: str,
    name: str,
    version: str,
    tags: set[Tag],
    build: tuple[()] | tuple[int, str],
) -> None:
    dist = parse_dist_filename(filename)
    assert dist == DistFilename(
        filename=filename,
        filetype="sdist" if filetype == "sdist" else "bdist_wheel",
        name=name,
        version=Version(version),
        tags=frozenset(tags),
        build=build,
    )


@pytest.mark.parametrize(
    ("filename", "extension"),
    [("a-1-py3-none-any.whl", ".whl"), ("a-1.tar.gz", ".tar.gz"), ("a-1.zip", ".zip")],
)
def test_extension(filename: str, extension: str) -> None:
    assert parse_dist_filename(filename).extension == extension


def test_extension_of_a_hand_made_filename() -> None:
    dist = DistFilename("foo.egg", "sdist", "foo", Version("1"), frozenset(), ())
    assert dist.extension == ""


@pytest.mark.parametrize(
    ("filename", "cause"),
    [
        ("foo-1.0.whl", InvalidWheelFilename),
        ("foo-1.0-py3-none.whl", InvalidWheelFilename),
        ("foo-1.0-1-2-py3-none-any.whl", InvalidWheelFilename),
        ("foo-one-py3-none-any.whl", InvalidWheelFilename),
        ("foo__bar-1.0-py3-none-any.whl", InvalidWheelFilename),
        ("foo-1.0-x-py3-none-any.whl", InvalidWheelFilename),
        ("-1.0-py3-none-any.whl", InvalidWheelFilename),
        ("foo.tar.gz", InvalidSdistFilename),
        ("foo-bar.tar.gz", InvalidSdistFilename),
        ("-1.0.tar.gz", InvalidSdistFilename),
        ("foo-1.0-.zip", InvalidSdistFilename),
    ],
)
def test_parse_dist_filename_invalid(filename: str, cause: type[Exception]) -> None:
    with pytest.raises(InvalidFilename) as caught:
        parse_dist_filename(filename)
    assert isinstance(caught.value.__cause__, cause)
    assert repr(filename) in caught.value.message or f" {filename}" in caught.value.message


@pytest.mark.parametrize("filename", ["foo-1.0.egg", "foo-1.0.tar.bz2", "foo-1.0.WHL", ""])
def test_parse_dist_filename_unknown_extension(filename: str) -> None:
    with pytest.raises(InvalidFilename, match=r"expected a \.whl, \.tar\.gz or \.zip extension"):
        parse_dist_filename(filename)


def test_sdist_error_names_the_file() -> None:
    with pytest.raises(InvalidFilename) as caught:
        parse_dist_filename("foo-bar.tar.gz")
    assert caught.value.message == "Invalid source distribution filename: foo-bar.tar.gz"


# -- check_filename_matches_metadata (PyPI steps 16 and 17) ----------------------------------


def check(filename: str, name: str, version: str, filetype: str | None = None) -> None:
    dist = parse_dist_filename(filename)
    check_filename_matches_metadata(
        dist, name=name, version=Version(version), filetype=filetype or dist.filetype
    )


@pytest.mark.parametrize(
    ("filename", "name", "version"),
    [
        ("foo-1.0.tar.gz", "foo", "1.0"),
        ("foo_bar-1.0.tar.gz", "Foo-Bar", "1.0"),
        ("foo_bar-1.0.tar.gz", "foo.bar", "1.0"),
        ("foo_bar-1.0.tar.gz", "FOO__BAR", "1.0"),
        ("foo-1.0a1.tar.gz", "foo", "1.0-alpha1"),
        ("foo-1.0.post1.tar.gz", "foo", "1.0-1"),
        ("foo-1.0.0.tar.gz", "foo", "1.0.0"),
    ],
)
def test_sdist_matching(filename: str, name: str, version: str) -> None:
    check(filename, name, version)


@pytest.mark.parametrize(
    ("filename", "name", "version", "message"),
    [
        (
            "bar-1.0.tar.gz",
            "foo",
            "1.0",
            "Filename 'bar-1.0.tar.gz' is invalid, should be 'foo-1.0.tar.gz'.",
        ),
        (
            "foo-1.0.tar.gz",
            "foo-bar",
            "1.0",
            "Filename 'foo-1.0.tar.gz' is invalid, should be 'foo_bar-1.0.tar.gz'.",
        ),
        (
            "Foo-1.0.tar.gz",
            "Foo",
            "1.0",
            "Filename 'Foo-1.0.tar.gz' is invalid, should be 'foo-1.0.tar.gz'.",
        ),
        (
            "foo.bar-1.0.tar.gz",
            "foo.bar",
            "1.0",
            "Filename 'foo.bar-1.0.tar.gz' is invalid, should be 'foo_bar-1.0.tar.gz'.",
        ),
        (
            "foo-bar-1.0.tar.gz",
            "foo-bar",
            "1.0",
            "Filename 'foo-bar-1.0.tar.gz' is invalid, should be 'foo_bar-1.0.tar.gz'.",
        ),
        (
            "foo-1.0.zip",
            "foo",
            "1.0",
            "Filename 'foo-1.0.zip' is invalid, should be 'foo-1.0.tar.gz'.",
        ),
        (
            "foo-1.1.tar.gz",
            "foo",
            "1.0",
            "Filename 'foo-1.1.tar.gz' is invalid, should be 'foo-1.0.tar.gz'.",
        ),
        (
            "foo-1.0.tar.gz",
            "foo",
            "1.0.0",
            "Filename 'foo-1.0.tar.gz' is invalid, should be 'foo-1.0.0.tar.gz'.",
        ),
        (
            "foo-1.0a1.tar.gz",
            "foo",
            "1.0b1",
            "Filename 'foo-1.0a1.tar.gz' is invalid, should be 'foo-1.0b1.tar.gz'.",
        ),
        # A post-release written with a hyphen.
        (
            "foo-1.0-1.tar.gz",
            "foo",
            "1.0.post1",
            "Filename 'foo-1.0-1.tar.gz' is invalid, should be 'foo-1.0.post1.tar.gz'.",
        ),
        (
            "foo-bar-1.0-1.tar.gz",
            "foo-bar",
            "1.0.post1",
            "Filename 'foo-bar-1.0-1.tar.gz' is invalid, should be 'foo_bar-1.0.post1.tar.gz'.",
        ),
    ],
)
def test_sdist_mismatch(filename: str, name: str, version: str, message: str) -> None:
    with pytest.raises(InvalidFilename) as caught:
        check(filename, name, version)
    assert caught.value.message == message


def test_wheel_error_names_the_file_whatever_packaging_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def unhelpful(filename: str) -> object:
        raise InvalidWheelFilename("bad")

    monkeypatch.setattr(filenames, "parse_wheel_filename", unhelpful)
    with pytest.raises(InvalidFilename) as caught:
        parse_dist_filename("foo-1.0-py3-none-any.whl")
    assert caught.value.message == "bad (in 'foo-1.0-py3-none-any.whl')"


def test_wheel_error_names_the_whole_file() -> None:
    with pytest.raises(InvalidFilename) as caught:
        parse_dist_filename("victim.whl")
    assert caught.value.message == ("Invalid wheel filename (wrong number of parts): 'victim.whl'")


@pytest.mark.parametrize(
    ("filename", "name", "version"),
    [
        ("foo-1.0-py3-none-any.whl", "foo", "1.0"),
        ("foo_bar-1.0-py3-none-any.whl", "Foo.Bar", "1.0"),
        ("foo_bar-1.0-py3-none-any.whl", "foo-bar", "1.0.0"),  # compared as versions
        ("foo-1.0-1-py3-none-any.whl", "foo", "1.0"),  # build tag
        ("foo-1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "foo", "1.0"),
        ("foo-1.0-cp312-cp312-macosx_11_0_arm64.whl", "foo", "1.0"),
        ("foo-1.0-cp312-cp312-win_amd64.whl", "foo", "1.0"),
        ("foo-1.0-cp312-abi3-musllinux_1_2_aarch64.whl", "foo", "1.0"),
    ],
)
def test_wheel_matching(filename: str, name: str, version: str) -> None:
    check(filename, name, version)


@pytest.mark.parametrize(
    ("filename", "name", "version", "message"),
    [
        (
            "foo-1.0-cp312-cp312-linux_x86_64.whl",
            "foo",
            "1.0",
            "Binary wheel 'foo-1.0-cp312-cp312-linux_x86_64.whl' has an unsupported "
            "platform tag 'linux_x86_64'.",
        ),
        (
            "foo-1.0-cp312-cp312-manylinux_2_17_x86_64.linux_x86_64.whl",
            "foo",
            "1.0",
            "Binary wheel 'foo-1.0-cp312-cp312-manylinux_2_17_x86_64.linux_x86_64.whl' "
            "has an unsupported platform tag 'linux_x86_64'.",
        ),
        (
            "bar-1.0-py3-none-any.whl",
            "foo",
            "1.0",
            "Filename 'bar-1.0-py3-none-any.whl' should contain the normalized project name "
            "'foo', not 'bar'.",
        ),
        (
            "Foo-1.0-py3-none-any.whl",
            "foo",
            "1.0",
            "Filename 'Foo-1.0-py3-none-any.whl' should contain the normalized project name "
            "'foo', not 'Foo'.",
        ),
        (
            "foo.bar-1.0-py3-none-any.whl",
            "foo.bar",
            "1.0",
            "Filename 'foo.bar-1.0-py3-none-any.whl' should contain the normalized project "
            "name 'foo_bar', not 'foo.bar'.",
        ),
        (
            "foo-1.1-py3-none-any.whl",
            "foo",
            "1.0",
            "Version in filename should be '1.0' not '1.1'.",
        ),
        (
            "foo-1.0-py3-none-any.whl",
            "foo",
            "1.0.post1",
            "Version in filename should be '1.0.post1' not '1.0'.",
        ),
        # Independent problems are collected, in PyPI's order.
        (
            "Bar-2.0-cp312-cp312-linux_x86_64.whl",
            "foo",
            "1.0",
            "Binary wheel 'Bar-2.0-cp312-cp312-linux_x86_64.whl' has an unsupported platform "
            "tag 'linux_x86_64'. Filename 'Bar-2.0-cp312-cp312-linux_x86_64.whl' should "
            "contain the normalized project name 'foo', not 'Bar'. "
            "Version in filename should be '1.0' not '2.0'.",
        ),
    ],
)
def test_wheel_mismatch(filename: str, name: str, version: str, message: str) -> None:
    with pytest.raises(InvalidFilename) as caught:
        check(filename, name, version)
    assert caught.value.message == message


@pytest.mark.parametrize(
    ("filename", "filetype", "message"),
    [
        ("foo-1.0.tar.gz", "bdist_wheel", filetype_message(".tar.gz", "bdist_wheel")),
        ("foo-1.0-py3-none-any.whl", "sdist", filetype_message(".whl", "sdist")),
        (
            "foo-1.0.tar.gz",
            "bdist_egg",
            "Invalid value for filetype. Error: Use a known file type.",
        ),
    ],
)
def test_filetype_must_match_extension(filename: str, filetype: str, message: str) -> None:
    with pytest.raises(InvalidFilename) as caught:
        check(filename, "foo", "1.0", filetype)
    assert caught.value.message == message


# -- the platform allow-list -----------------------------------------------------------------


@pytest.mark.parametrize(
    "platform",
    [
        "any",
        "win32",
        "win_amd64",
        "win_arm64",
        "win_ia64",
        "manylinux1_x86_64",
        "manylinux1_i686",
        "manylinux2010_x86_64",
        "manylinux2010_i686",
        "manylinux2014_x86_64",
        "manylinux2014_aarch64",
        "manylinux2014_armv7l",
        "manylinux2014_ppc64",
        "manylinux2014_ppc64le",
        "manylinux2014_s390x",
        "manylinux_2_17_x86_64",
        "manylinux_2_28_aarch64",
        "manylinux_2_17_i686",
        "manylinux_2_17_ppc64",
        "manylinux_2_31_riscv64",
        "manylinux_2_36_loongarch64",
        "musllinux_1_1_x86_64",
        "musllinux_1_2_aarch64",
        "musllinux_1_2_armv7l",
        "musllinux_1_2_s390x",
        "musllinux_1_2_riscv64",
        "linux_armv6l",
        "linux_armv7l",
        "macosx_10_9_x86_64",
        "macosx_10_6_intel",
        "macosx_10_4_fat3",
        "macosx_10_15_universal2",
        "macosx_10_5_ppc",
        "macosx_11_0_arm64",
        "macosx_12_0_universal2",
        "macosx_14_0_x86_64",
        "macosx_15_0_arm64",
        "macosx_26_0_arm64",
        "ios_13_0_arm64_iphoneos",
        "ios_13_0_x86_64_iphonesimulator",
        "ios_12_0_arm64_iphonesimulator",
        "android_21_arm64_v8a",
        "android_21_armeabi_v7a",
        "android_24_x86",
        "android_24_x86_64",
        "pyemscripten_2026_0_wasm32",
    ],
)
def test_allowed_platform_tags(platform: str) -> None:
    assert is_allowed_platform_tag(platform)


@pytest.mark.parametrize(
    "platform",
    [
        "",
        "ANY",
        "linux_x86_64",
        "linux_aarch64",
        "linux_i686",
        "manylinux1_aarch64",
        "manylinux2010_aarch64",
        "manylinux2014_riscv64",
        "manylinux_2_17_sparc64",
        "manylinux_x_17_x86_64",
        "manylinux_2_17_x86_64_extra",
        "musllinux_1_2_ppc64",
        "musllinux_1_2_sparc",
        "macosx_11_1_arm64",
        "macosx_16_0_arm64",
        "macosx_9_0_x86_64",
        "macosx_10_9_arm65",
        "macosx_10_9",
        "macosx_10_9_fat32",
        "win_x86",
        "cygwin_x86_64",
        "freebsd_14_0_amd64",
        "emscripten_3_1_58_wasm32",
        "pyodide_2024_0_wasm32",
        "pyemscripten_2026_0_wasm64",
        "ios_13_0_arm64",
        "ios_13_0_armv7_iphoneos",
        "ios_13_0_arm64_iphoneos_extra",
        "android_21_mips",
        "android_x_arm64_v8a",
    ],
)
def test_refused_platform_tags(platform: str) -> None:
    assert not is_allowed_platform_tag(platform)


# -- the wheel grammar's characters (binary distribution format; issue 14 finding 15) -------


@pytest.mark.parametrize(
    "filename",
    [
        "foo-1.0-py3-none<script>-any.whl",
        "foo-1.0-py3-no>ne-any.whl",
        "foo-1.0-py3 x-none-any.whl",
        'foo-1.0-py3-"none"-any.whl',
        "foo-1.0-py3-none;x=1-any.whl",
        "foo-1.0-py3-non\u00e9-any.whl",  # non-ASCII
        "foo-1.0-py3-\u4e2d-any.whl",  # not even Latin-1
        "foo-1.0 -py3-none-any.whl",  # packaging strips the space from the version
        "foo-1.0-1<x-py3-none-any.whl",  # a build tag must be letters, digits, '_', '.'
    ],
)
def test_wheel_filename_outside_the_grammar_is_refused(filename: str) -> None:
    """Refused by ``packaging`` (which rejects some, such as spaces in tags) or by the grammar."""
    with pytest.raises(InvalidFilename) as caught:
        check(filename, "foo", "1.0")
    assert repr(filename) in caught.value.message


@pytest.mark.parametrize(
    "filename",
    [
        "foo-1.0-py3-none-any.whl",
        "foo-1.0-1_x.y-py3-none-any.whl",
        "foo-1.0-cp312-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "foo-1!1.0-py3-none-any.whl",  # an epoch
    ],
)
def test_wheel_filename_inside_the_grammar_passes(filename: str) -> None:
    version = str(parse_dist_filename(filename).version)
    check(filename, "foo", version)


# -- the key a filename burns (issue 14 finding 12) -----------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("beta-2.0-py3-none-any.whl", "beta-2.0.0-py3-none-any.whl"),
        ("beta-2.0-py3-none-any.whl", "beta-2-py3-none-any.whl"),
        ("beta-2.0-py3-none-any.whl", "Beta-0!2.0.0-py3-none-any.whl"),
        ("beta-2.0-py2.py3-none-any.whl", "beta-2.0.0-py3.py2-none-any.whl"),
        ("beta-2.0rc1-py3-none-any.whl", "beta-2.0.0rc1-py3-none-any.whl"),
        ("beta-2.0-1-py3-none-any.whl", "beta-2.0.0-1-py3-none-any.whl"),
        ("beta-2.0.tar.gz", "beta-2.0.0.tar.gz"),
        ("beta_x-2.0.tar.gz", "beta.x-2.tar.gz"),
    ],
)
def test_equivalent_filenames_burn_the_same_key(first: str, second: str) -> None:
    key = filenames.distribution_key(parse_dist_filename(first))
    assert key == filenames.distribution_key(parse_dist_filename(second))


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("beta-2.0-py3-none-any.whl", "beta-2.0.1-py3-none-any.whl"),
        ("beta-2.0-py3-none-any.whl", "beta-2.0-1-py3-none-any.whl"),  # a build tag
        ("beta-2.0-py3-none-any.whl", "beta-2.0-py2.py3-none-any.whl"),
        ("beta-2.0-py3-none-any.whl", "beta-2.0-cp312-cp312-win_amd64.whl"),
        ("beta-2.0-py3-none-any.whl", "beta-2.0.tar.gz"),
        ("beta-2.0-py3-none-any.whl", "gamma-2.0-py3-none-any.whl"),
        ("beta-2.0.post1.tar.gz", "beta-2.0.tar.gz"),
    ],
)
def test_different_distributions_burn_different_keys(first: str, second: str) -> None:
    key = filenames.distribution_key(parse_dist_filename(first))
    assert key != filenames.distribution_key(parse_dist_filename(second))


def test_grammar_refusal_names_the_spec() -> None:
    with pytest.raises(InvalidFilename) as caught:
        check("foo-1.0-py3-none<script>-any.whl", "foo", "1.0")
    assert caught.value.message.startswith(
        "Filename 'foo-1.0-py3-none<script>-any.whl' is invalid: a wheel's name, version,"
    )
    assert "binary-distribution-format" in caught.value.message

"""Property tests (hypothesis) for distribution filenames, versions in them, and platform tags.
Spec: PEP 427/491 (wheel), PEP 625 (sdist), PEP 440 (versions), PEP 425 and PyPI's platform list.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.tags import parse_tag
from packaging.utils import canonicalize_name
from packaging.version import Version

from trustyard.dists.filenames import (
    DistFilename,
    InvalidFilename,
    check_filename_matches_metadata,
    check_upload_filename,
    parse_dist_filename,
)
from trustyard.dists.names import PROJECT_NAME_RE
from trustyard.dists.platforms import is_allowed_platform_tag

small = st.integers(min_value=0, max_value=30)
# Text that is often close to a filename: pieces of real ones, separators, controls, anything.
any_text = st.lists(
    st.sampled_from(["a", "b", "1", "9", ".", "_", "-", "+", "!", "/", "\\", "\x00", "\x7f", " "])
    | st.sampled_from([".whl", ".tar.gz", ".zip", ".WHL", "-py3-none-any", "-1.0", "-1_a"])
    | st.characters(codec=None),
    max_size=20,
).map("".join)


@st.composite
def versions(draw: st.DrawFn) -> str:
    """Any PEP 440 public version, in its normalized spelling."""
    epoch = draw(st.sampled_from(["", "1!", "2!"]))
    release = ".".join(map(str, draw(st.lists(small, min_size=1, max_size=4))))
    pre = draw(st.sampled_from(["", "a", "b", "rc"]))
    pre = f"{pre}{draw(small)}" if pre else ""
    post = draw(st.sampled_from(["", f".post{draw(small)}"]))
    dev = draw(st.sampled_from(["", f".dev{draw(small)}"]))
    return str(Version(f"{epoch}{release}{pre}{post}{dev}"))


@st.composite
def allowed_platforms(draw: st.DrawFn) -> str:
    """Platform tags PyPI accepts, from every family it knows."""
    n, m = draw(small), draw(small)
    mac_arch = draw(st.sampled_from(["x86_64", "arm64", "universal2", "intel", "fat3", "ppc"]))
    linux_arch = draw(
        st.sampled_from(["x86_64", "i686", "aarch64", "armv7l", "ppc64le", "s390x", "riscv64"])
    )
    return draw(
        st.sampled_from(
            [
                "any",
                "win_amd64",
                "win32",
                "manylinux2014_x86_64",
                "linux_armv7l",
                f"macosx_10_{n}_{mac_arch}",
                f"macosx_{draw(st.sampled_from(['11', '12', '13', '14', '15', '26']))}_0_{mac_arch}",
                f"manylinux_{n}_{m}_{linux_arch}",
                f"manylinux_{n}_{m}_ppc64",
                f"musllinux_{n}_{m}_{linux_arch}",
                f"ios_{n}_{m}_{draw(st.sampled_from(['arm64', 'x86_64']))}_{draw(st.sampled_from(['iphoneos', 'iphonesimulator']))}",
                f"android_{n}_{draw(st.sampled_from(['armeabi_v7a', 'arm64_v8a', 'x86', 'x86_64']))}",
                f"pyemscripten_{2000 + n}_{m}_wasm32",
            ]
        )
    )


@st.composite
def wheel_tags(draw: st.DrawFn) -> str:
    """A (possibly compressed, PEP 425) tag triple with allowed platforms."""
    pythons = draw(
        st.lists(
            st.sampled_from(["py3", "py2", "cp311", "cp313t", "pp310"]),
            min_size=1,
            max_size=2,
            unique=True,
        )
    )
    abi = draw(st.sampled_from(["none", "abi3", "cp311"]))
    platforms = draw(st.lists(allowed_platforms(), min_size=1, max_size=2, unique=True))
    return f"{'.'.join(pythons)}-{abi}-{'.'.join(platforms)}"


names = st.from_regex(PROJECT_NAME_RE, fullmatch=True)
builds = st.none() | st.builds(
    lambda n, s: f"{n}{s}", small, st.from_regex(r"[a-z_]{0,4}", fullmatch=True)
)


def wheel_name(name: str) -> str:
    return canonicalize_name(name).replace("-", "_")


def rendered(dist: DistFilename, tag: str) -> str:
    """The filename again, from its parsed parts (and the tag string, which sets order)."""
    if dist.filetype == "sdist":
        return f"{dist.name}-{dist.version}{dist.extension}"
    build = f"-{dist.build[0]}{dist.build[1]}" if dist.build else ""
    return f"{dist.name}-{dist.version}{build}-{tag}.whl"


# -- any input: only our error ----------------------------------------------------------------


@given(filename=any_text)
def test_any_text_parses_or_is_refused(filename: str) -> None:
    try:
        dist: DistFilename | None = parse_dist_filename(filename)
    except InvalidFilename as exc:
        dist, message = None, exc.message
    if dist is None:
        assert message
    else:
        assert dist.filename == filename
        assert dist.extension in {".whl", ".tar.gz", ".zip"}


@given(
    filename=any_text,
    filetype=st.none() | st.sampled_from(["sdist", "bdist_wheel", "bdist_egg", ""]),
)
def test_any_upload_filename_passes_the_gate_or_is_refused(
    filename: str, filetype: str | None
) -> None:
    try:
        check_upload_filename(filename, filetype=filetype)
    except InvalidFilename:
        return
    assert not any(ord(c) < 32 or ord(c) == 127 or c in "/\\" for c in filename)
    assert filename.lower().endswith((".whl", ".tar.gz", ".zip"))


@given(platform=st.text(max_size=40) | allowed_platforms().map(lambda t: t[:-1]))
def test_any_platform_tag_is_a_yes_or_no(platform: str) -> None:
    assert is_allowed_platform_tag(platform) in {True, False}


# -- round trips --------------------------------------------------------------------------------


@given(name=names, version=versions(), build=builds, tag=wheel_tags())
def test_wheel_filename_round_trips(name: str, version: str, build: str | None, tag: str) -> None:
    filename = f"{wheel_name(name)}-{version}{f'-{build}' if build else ''}-{tag}.whl"
    dist = parse_dist_filename(filename)
    assert (dist.filetype, dist.name, dist.version) == (
        "bdist_wheel",
        wheel_name(name),
        Version(version),
    )
    assert dist.tags == parse_tag(tag)
    assert rendered(dist, tag) == filename
    check_filename_matches_metadata(
        dist, name=name, version=Version(version), filetype="bdist_wheel"
    )


@given(name=names, version=versions(), extension=st.sampled_from([".tar.gz", ".zip"]))
def test_sdist_filename_round_trips(name: str, version: str, extension: str) -> None:
    filename = f"{wheel_name(name)}-{version}{extension}"
    dist = parse_dist_filename(filename)
    assert (dist.filetype, dist.name, dist.version) == ("sdist", wheel_name(name), Version(version))
    assert rendered(dist, "") == filename
    if extension == ".tar.gz":
        check_filename_matches_metadata(dist, name=name, version=Version(version), filetype="sdist")
    else:  # PEP 625: .zip sdists pass the upload gate, then fail here, as on PyPI
        with pytest.raises(InvalidFilename):
            check_filename_matches_metadata(
                dist, name=name, version=Version(version), filetype="sdist"
            )


@given(name=names, version=versions(), tag=wheel_tags(), zeros=st.integers(0, 3))
def test_equal_versions_spelled_differently_agree(
    name: str, version: str, tag: str, zeros: int
) -> None:
    """``1.0`` in the filename and ``1.0.0`` in the metadata are one version (PEP 440)."""
    dist = parse_dist_filename(f"{wheel_name(name)}-{version}-{tag}.whl")
    public = Version(version)
    padded = Version(f"{public.epoch}!{'.'.join(map(str, public.release))}{'.0' * zeros}")
    if public == padded:
        check_filename_matches_metadata(dist, name=name, version=padded, filetype="bdist_wheel")


@given(name=names, other=names, version=versions(), tag=wheel_tags())
def test_another_project_or_version_is_refused(
    name: str, other: str, version: str, tag: str
) -> None:
    dist = parse_dist_filename(f"{wheel_name(name)}-{version}-{tag}.whl")
    if canonicalize_name(other) != canonicalize_name(name):
        with pytest.raises(InvalidFilename, match="normalized project name"):
            check_filename_matches_metadata(
                dist, name=other, version=Version(version), filetype="bdist_wheel"
            )
    with pytest.raises(InvalidFilename, match="Version in filename"):
        check_filename_matches_metadata(
            dist,
            name=name,
            version=Version(str(Version(version).major + 1)),
            filetype="bdist_wheel",
        )


# -- platform tags --------------------------------------------------------------------------------


@given(platform=allowed_platforms())
def test_allowed_platforms_are_allowed(platform: str) -> None:
    assert is_allowed_platform_tag(platform)


@given(platform=allowed_platforms(), suffix=st.sampled_from(["\n", " ", "Z", "!", "/", ".", "-x"]))
def test_allowed_platforms_match_whole(platform: str, suffix: str) -> None:
    assert not is_allowed_platform_tag(platform + suffix)
    assert not is_allowed_platform_tag(suffix + platform)

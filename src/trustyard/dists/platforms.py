"""Wheel platform tags PyPI accepts (PEP 425; PEP 513/571/599/600, 656, 730, 738, 783).
Copied from warehouse ``forklift/legacy.py`` ``_valid_platform_tag``, plus pyemscripten.
"""

from __future__ import annotations

import re

__all__ = ["is_allowed_platform_tag"]

# Tags accepted as they are: Windows, the legacy manylinux policies, two old Raspberry Pi tags.
_STATIC_PLATFORMS = frozenset(
    {
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
        "manylinux2014_i686",
        "manylinux2014_aarch64",
        "manylinux2014_armv7l",
        "manylinux2014_ppc64",
        "manylinux2014_ppc64le",
        "manylinux2014_s390x",
        "linux_armv6l",
        "linux_armv7l",
    }
)

# macOS: ``macosx_10_{minor}`` for the 10.x series, ``macosx_{major}_0`` from 11 on (PyPI only
# knows the majors listed). "fat3" is a real tag (i386, ppc, x86_64) and is what PyPI lists.
_MACOSX_RE = re.compile(r"macosx_(?P<major>\d+)_(?P<minor>\d+)_(?P<arch>.+)", re.ASCII)
_MACOSX_ARCHES = frozenset(
    {
        "ppc",
        "ppc64",
        "i386",
        "x86_64",
        "arm64",
        "intel",
        "fat",
        "fat3",
        "fat64",
        "universal",
        "universal2",
    }
)
_MACOSX_MAJORS_FROM_11 = frozenset({"11", "12", "13", "14", "15", "26"})

# PEP 600 manylinux_X_Y and PEP 656 musllinux_X_Y.
_LINUX_RE = re.compile(r"(?P<libc>many|musl)linux_\d+_\d+_(?P<arch>.+)", re.ASCII)
_MUSLLINUX_ARCHES = frozenset(
    {"x86_64", "i686", "aarch64", "armv7l", "ppc64le", "s390x", "riscv64", "loongarch64"}
)
_MANYLINUX_ARCHES = _MUSLLINUX_ARCHES | {"ppc64"}

# PEP 730 (iOS) and PEP 738 (Android).
_IOS_RE = re.compile(r"ios_\d+_\d+_(?P<arch>.+)_(?:iphoneos|iphonesimulator)", re.ASCII)
_IOS_ARCHES = frozenset({"arm64", "x86_64"})
_ANDROID_RE = re.compile(r"android_\d+_(?P<arch>.+)", re.ASCII)
_ANDROID_ARCHES = frozenset({"armeabi_v7a", "arm64_v8a", "x86", "x86_64"})

# PEP 783 (Emscripten/Pyodide): pyemscripten_{year}_{patch}_wasm32.
_PYEMSCRIPTEN_RE = re.compile(r"pyemscripten_\d+_\d+_wasm32", re.ASCII)


def is_allowed_platform_tag(platform: str) -> bool:
    """Whether PyPI accepts a wheel with this platform tag (one tag, e.g. ``win_amd64``).

    The whole tag must match; unlike warehouse's unanchored regexes, trailing text after a
    valid tag is refused.
    """
    if platform in _STATIC_PLATFORMS:
        return True
    if m := _MACOSX_RE.fullmatch(platform):
        major, minor, arch = m.group("major", "minor", "arch")
        if major == "10" or (major in _MACOSX_MAJORS_FROM_11 and minor == "0"):
            return arch in _MACOSX_ARCHES
        return False
    if m := _LINUX_RE.fullmatch(platform):
        arches = _MANYLINUX_ARCHES if m.group("libc") == "many" else _MUSLLINUX_ARCHES
        return m.group("arch") in arches
    if m := _IOS_RE.fullmatch(platform):
        return m.group("arch") in _IOS_ARCHES
    if m := _ANDROID_RE.fullmatch(platform):
        return m.group("arch") in _ANDROID_ARCHES
    return _PYEMSCRIPTEN_RE.fullmatch(platform) is not None


def __dir__() -> list[str]:
    return __all__

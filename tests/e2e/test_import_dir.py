"""``admin import-dir`` end to end: files imported into a running ``trustyard serve`` are
installed by uv, and uv's ``--exclude-newer`` sees the upload times the import gave them."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from tests.conftest import PYTHON, IndexServer, client_env, tool
from tests.dists.builders import build_sdist, build_wheel
from tests.e2e.conftest import installed_version, run


def test_uv_installs_an_imported_file_and_honours_its_upload_time(
    fresh_index: IndexServer, tmp_path: Path
) -> None:
    env = client_env(tmp_path)
    fresh_index.create_user("olga")
    tree = tmp_path / "pypiserver"
    old = [
        build_wheel(tree / "imported-demo", "imported-demo", "1.0"),
        build_sdist(tree / "imported-demo", "imported-demo", "1.0"),
    ]
    then = datetime(2022, 6, 1, tzinfo=UTC).timestamp()
    for path in old:
        os.utime(path, (then, then))
    fresh_index.cli("admin", "import-dir", str(tree), "--owner", "olga")
    newer = tmp_path / "later"
    build_wheel(newer, "imported-demo", "2.0")
    fresh_index.cli(
        "admin", "import-dir", str(newer), "--owner", "olga", "--upload-time", "2024-01-01T00:00Z"
    )

    def install(venv: Path, *extra: str) -> str:
        run([tool("uv"), "venv", "--python", PYTHON, str(venv)], env)
        run(
            [
                tool("uv"),
                "pip",
                "install",
                "--python",
                str(venv / "bin" / "python"),
                "--index-url",
                fresh_index.simple_url,
                *extra,
                "imported-demo",
            ],
            env,
        )
        site = next((venv / "lib").glob("python3*/site-packages"))
        return installed_version(site, "imported_demo")

    assert install(tmp_path / "latest") == "2.0"
    assert install(tmp_path / "cutoff", "--exclude-newer", "2023-01-01T00:00:00Z") == "1.0"

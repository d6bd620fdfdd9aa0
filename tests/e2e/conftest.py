"""The sites the e2e flows share: one ``serve --tls`` index with the development issuer; and for
the release flows two of them (test and production), the development issuer playing GitHub
Actions, the development Sigstore and a sample in a real git repository.

PostgreSQL and SeaweedFS come from ``tests/conftest.py`` (one per test process): importing their
fixtures here again would register second copies and start a second pair of servers.
"""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import PYTHON, IndexServer, client_env, start_index, tool
from tests.devsigstore import GITHUB_ISSUER, DevSigstore, start_dev_sigstore
from tests.oidc.conftest import DevIssuer, start_dev_issuer
from tests.release.conftest import git, make_repo

__all__ = [
    "POETRY",
    "REPOSITORY",
    "WORKFLOW",
    "ReleaseSite",
    "TlsSite",
    "installed_version",
    "pip_install",
    "poetry",
    "poetry_env",
    "release_site",
    "run",
    "tls_site",
]

REPOSITORY = "octo/sample"
WORKFLOW = "release.yml"
# Poetry is not in the lock file (its dependencies would pin ours): it is installed from the
# package registry at test time, at this version, with `uv tool run`.
POETRY = "poetry==2.5.1"


def run(
    cmd: list[str],
    env: dict[str, str],
    cwd: Path | None = None,
    *,
    ok: bool = True,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a client (given ``stdin``, if any); it must succeed (or, with ``ok=False``, fail)."""
    result = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
        check=False,
        input=stdin,
    )
    if (result.returncode == 0) != ok:
        raise AssertionError(
            f"{' '.join(cmd)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
    return result


def installed_version(target: Path, module: str) -> str:
    """The ``__version__`` of ``module`` installed in ``target`` (a site-packages or a
    ``--target`` directory) from a wheel of ``tests.dists.builders``."""
    init = target / module / "__init__.py"
    namespace: dict[str, str] = {}
    exec(compile(init.read_text(), str(init), "exec"), namespace)  # noqa: S102 - our own fixture file
    return namespace["__version__"]


def pip_install(index: IndexServer, tmp: Path, requirement: str, env: dict[str, str]) -> Path:
    """``pip install --target`` of ``requirement`` from ``index`` (trusting its CA, if it serves
    HTTPS); the target directory."""
    target = tmp / f"installed-{requirement}"
    cert = ["--cert", str(index.ca)] if index.ca else []
    if index.ca:  # requests lets REQUESTS_CA_BUNDLE win over --cert
        env = {**env, "REQUESTS_CA_BUNDLE": str(index.ca), "SSL_CERT_FILE": str(index.ca)}
    run(
        [
            PYTHON, "-m", "pip", "install", "--target", str(target), *cert,
            "--index-url", index.simple_url, requirement,
        ],
        env,
    )  # fmt: skip
    return target


def poetry(
    project: Path, env: dict[str, str], *args: str, ok: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the pinned poetry in ``project``; it must succeed (or, with ``ok=False``, fail)."""
    return run(
        [tool("uv"), "tool", "run", "--python", PYTHON, "--from", POETRY, "poetry", *args],
        env,
        cwd=project,
        ok=ok,
    )


def poetry_env(tmp: Path) -> dict[str, str]:
    """An environment in which poetry sees only what the test gives it: its own config, cache
    and data directories (so no repository, credential or PyPI setting of the user's), no
    keyring."""
    env = {k: v for k, v in client_env(tmp).items() if not k.startswith("POETRY_")}
    env.update(
        {
            "POETRY_CONFIG_DIR": str(tmp / "poetry-config"),
            "POETRY_CACHE_DIR": str(tmp / "poetry-cache"),
            "POETRY_DATA_DIR": str(tmp / "poetry-data"),
            "POETRY_NO_INTERACTION": "1",
            "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        }
    )
    return env


@dataclass
class TlsSite:
    """One ``serve --tls`` index (user alice exists) and the development issuer."""

    index: IndexServer
    issuer: DevIssuer
    ca: Path
    tmp: Path

    def add_github_publisher(
        self, project: str, repository: str, workflow: str, *extra: str
    ) -> None:
        """Create ``project`` (owned by alice) and let that GitHub workflow (with ``extra``
        flags of ``publisher add``) publish it."""
        self.index.cli("admin", "project", "create", project, "--owner", "alice")
        self.index.cli(
            "publisher", "add", project, "github",
            "--repository", repository, "--workflow", workflow, "--issuer", self.issuer.url,
            *extra,
        )  # fmt: skip

    def add_gitlab_publisher(self, project: str, gitlab_project: str) -> dict[str, str]:
        """Create ``project`` and let ``gitlab_project``'s ``.gitlab-ci.yml`` publish it; the
        environment of a GitLab CI job of that pipeline on tag ``v2.0.0``, whose project path
        is in lower case (a publisher matches it whatever the case)."""
        self.index.cli("admin", "project", "create", project, "--owner", "alice")
        self.index.cli(
            "publisher", "add", project, "gitlab",
            "--project", gitlab_project, "--workflow-path", ".gitlab-ci.yml",
            "--issuer", self.issuer.url,
        )  # fmt: skip
        ci = self.issuer.env(
            "--gitlab", "--project", gitlab_project.lower(),
            "--workflow-path", ".gitlab-ci.yml", "--ref", "refs/tags/v2.0.0",
            "--audience", self.index.audience,
        )  # fmt: skip
        assert ci["GITLAB_CI"] == "true"
        return ci


@contextmanager
def tls_site(tmp: Path) -> Iterator[TlsSite]:
    """Start a :class:`TlsSite` in ``tmp``; stop both servers on the way out."""
    issuer = start_dev_issuer(tmp / "issuer")
    index = start_index(tmp / "data", "--tls")
    try:
        index.trust_issuer(issuer.url)
        index.create_user("alice")
        assert index.ca is not None
        yield TlsSite(index, issuer, index.ca, tmp)
    finally:
        index.stop()
        issuer.stop()


@dataclass
class ReleaseSite:
    """Both indexes, the issuer, Sigstore, the sample's repository, and a CA bundle trusting
    the system's CAs and both indexes'."""

    test: IndexServer
    production: IndexServer
    issuer: DevIssuer
    sigstore: DevSigstore
    repo: Path
    bundle: Path
    tmp: Path
    caches: dict[str, str]  # the run's shared build caches (``build_caches``)

    def env(self, tag: str, **extra: str) -> dict[str, str]:
        """A GitHub Actions job of REPOSITORY's release workflow on ``tag``."""
        env = {**client_env(self.tmp), **self.caches}
        commit = git(self.repo, "rev-parse", f"{tag}^{{commit}}").strip()
        ref = f"refs/tags/{tag}"
        job = ["--repository", REPOSITORY, "--workflow", WORKFLOW, "--ref", ref, "--sha", commit]
        env.update(self.issuer.env(*job))
        env["SSL_CERT_FILE"] = str(self.bundle)
        env.update(extra)
        return env

    def trustyard(
        self, tag: str, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``trustyard ARGS`` in that job (or in ``env``), never waiting for a terminal."""
        return subprocess.run(
            [PYTHON, "-m", "trustyard", *args],
            capture_output=True,
            text=True,
            env=self.env(tag) if env is None else env,
            timeout=600,
            check=False,
            stdin=subprocess.DEVNULL,
        )

    def release(
        self, tag: str, dist: Path, *args: str, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """``trustyard release DIST`` of ``tag`` to both indexes, trusting both."""
        return self.trustyard(
            tag,
            "release", str(dist),
            "--project", str(self.repo), "--ref", tag,
            "--test-index", self.test.upload_url, "--index", self.production.upload_url,
            "--cacert", str(self.bundle),
            "--sigstore-trust-config", str(self.sigstore.trust_config_path),
            *args,
            env=self.env(tag, **env),
        )  # fmt: skip


@contextmanager
def release_site(
    tmp: Path, project: str, sample: str, caches: dict[str, str]
) -> Iterator[ReleaseSite]:
    """Start everything for ``project`` (made from ``tests/fixtures/<sample>``, tagged
    ``v0.1.0``), registered on both indexes with REPOSITORY's WORKFLOW as its publisher; its
    builds use ``caches``."""
    issuer = start_dev_issuer(tmp / "issuer")
    sigstore = start_dev_sigstore(tmp / "sigstore", issuer_map={issuer.url: GITHUB_ISSUER})
    trust = str(sigstore.trust_config_path)
    indexes: list[IndexServer] = []
    try:
        for name in ("test", "production"):
            index = start_index(tmp / name, "--tls", "--sigstore-trust-config", trust)
            indexes.append(index)
            index.trust_issuer(issuer.url)
            index.create_user("alice")
            index.cli("admin", "project", "create", project, "--owner", "alice")
            index.cli(
                "publisher", "add", project, "github",
                "--repository", REPOSITORY, "--workflow", WORKFLOW, "--issuer", issuer.url,
            )  # fmt: skip
        bundle = tmp / "ca-bundle.pem"
        system = Path(ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt")
        bundle.write_text(
            "".join(
                p.read_text()
                for p in (system, tmp / "test/tls/ca.pem", tmp / "production/tls/ca.pem")
            )
        )
        repo = make_repo(sample, tmp / "repo")
        yield ReleaseSite(indexes[0], indexes[1], issuer, sigstore, repo, bundle, tmp, caches)
    finally:
        for index in indexes:
            index.stop()
        sigstore.stop()
        issuer.stop()

"""Real uv, pip and poetry against a private index (issue 20), each with its own credential
mechanisms: credentials in the index URL, ``.netrc``, a keyring, uv's
``UV_INDEX_<NAME>_USERNAME/PASSWORD``, poetry's ``http-basic``; and what each does without valid
credentials when a second index serves the same name (the dependency-confusion question).

One ``serve --private`` index (alice owns ``corp-app`` 1.0, a private project, and
``corp-other``) and a second index anyone may read,
serving ``corp-app`` 99.0: what a client that falls through after the private index's 401
would install. Every client run starts without a cache, so each mechanism authenticates on its
own, and the servers' access logs show what was asked of whom.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

from tests.conftest import PYTHON, IndexServer, client_env, start_index, tool
from tests.dists.builders import build_wheel
from tests.e2e.conftest import installed_version, poetry, poetry_env, run
from tests.index.conftest import upload_built
from tests.services import POSTGRESQL_S3, Backend, PostgresServer, SeaweedServer

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
ACCESS = re.compile(r'"GET (\S+) HTTP/[\d.]+" (\d{3})')
PAGE = "/simple/corp-app/"


@dataclass
class PrivateSite:
    """The private index, the second (public) index, and alice's tokens on the private one."""

    index: IndexServer  # serve --private: corp-app 1.0 (a private project), corp-other
    public: IndexServer  # anyone may read it: corp-app 99.0
    token: str  # alice's token for all her projects
    scoped: str  # alice's token restricted to corp-other

    @property
    def wrong(self) -> str:
        """A token of the right shape naming alice's real token id, with a wrong secret."""
        identifier, _, secret = self.token.partition(".")
        return f"{identifier}.{'x' * len(secret)}"

    def url(self, username: str | None = None, password: str | None = None) -> str:
        """The private index's simple URL, with credentials in it if given."""
        return simple_url(self.index, username, password)


def simple_url(index: IndexServer, username: str | None = None, password: str | None = None) -> str:
    """``index``'s simple URL, with ``username`` (and ``password``) in it if given."""
    if username is None:
        return index.simple_url
    userinfo = quote(username, safe="")
    if password is not None:
        userinfo += ":" + quote(password, safe="")
    parts = urlsplit(index.simple_url)
    return parts._replace(netloc=f"{userinfo}@{parts.netloc}").geturl()


def mark(index: IndexServer) -> int:
    """Where ``index``'s access log ends now (see :func:`asked`)."""
    return len(index.log.read_text())


def asked(index: IndexServer, since: int, path: str = PAGE) -> list[int]:
    """The statuses ``index`` answered GET ``path`` with since ``since``, in order."""
    return [
        int(status)
        for where, status in ACCESS.findall(index.log.read_text()[since:])
        if where == path
    ]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateSite]:
    tmp = tmp_path_factory.mktemp("private-site")
    private = start_index(tmp / "private", "--private")
    public: IndexServer | None = None
    try:
        private.create_user("alice")
        token = private.create_token("alice")
        own = build_wheel(tmp / "dists" / "own", "corp-app", "1.0")
        assert upload_built(private, token, own).status == 200
        # Private on a private index too: only its readers, never a token scoped to another
        # project (on a private index a public project is open to every valid token).
        private.cli("admin", "project", "visibility", "corp-app", "private")
        private.cli("admin", "project", "create", "corp-other", "--owner", "alice")
        scoped = private.create_token("alice", "--project", "corp-other")

        public = start_index(tmp / "public")
        public.create_user("mallory")
        evil = build_wheel(tmp / "dists" / "evil", "corp-app", "99.0")
        assert upload_built(public, public.create_token("mallory"), evil).status == 200
        yield PrivateSite(private, public, token, scoped)
    finally:
        private.stop()
        if public is not None:
            public.stop()


def uv_pip_install(
    env: dict[str, str], target: Path, *args: str, ok: bool = True
) -> tuple[str, str | None]:
    """``uv pip install --target TARGET ARGS corp-app`` with no cache; its standard error and
    the version of corp-app it installed (None if none)."""
    result = run(
        [
            tool("uv"), "pip", "install", "--no-cache", "--python", PYTHON,
            "--target", str(target), *args, "corp-app",
        ],
        env,
        ok=ok,
    )  # fmt: skip
    return result.stderr, installed(target)


def pip_install(
    env: dict[str, str], target: Path, *args: str, ok: bool = True
) -> tuple[str, str | None]:
    """``pip install --target TARGET ARGS corp-app`` with no cache; its standard error and the
    version of corp-app it installed (None if none)."""
    result = run(
        [
            PYTHON, "-m", "pip", "install", "--no-cache-dir", "--target", str(target),
            *args, "corp-app",
        ],
        env,
        ok=ok,
    )  # fmt: skip
    return result.stderr, installed(target)


def installed(target: Path) -> str | None:
    return installed_version(target, "corp_app") if (target / "corp_app").exists() else None


def netrc_env(env: dict[str, str], tmp: Path, index: IndexServer, token: str) -> dict[str, str]:
    """``env`` with ``$NETRC`` naming a file that holds ``token`` for ``index``'s host."""
    netrc = tmp / "credentials.netrc"
    host = urlsplit(index.url).hostname
    netrc.write_text(f"machine {host}\nlogin __token__\npassword {token}\n")
    netrc.chmod(0o600)
    return {**env, "NETRC": str(netrc)}


def keyring_env(env: dict[str, str], tmp: Path, index: IndexServer, token: str) -> dict[str, str]:
    """``env`` with the real ``keyring`` command first on PATH and a keyring of the test's own
    (tests/e2e/file_keyring.py), into which the token has been put as a user puts it:
    ``keyring set INDEX-URL __token__`` with the secret on standard input."""
    bin = tmp / "keyring-bin"
    bin.mkdir()
    (bin / "keyring").symlink_to(tool("keyring"))
    env = {
        **env,
        "PATH": f"{bin}:{env.get('PATH', '')}",
        "PYTHONPATH": str(ROOT),
        "PYTHON_KEYRING_BACKEND": "tests.e2e.file_keyring.FileKeyring",
        "TEST_KEYRING_FILE": str(tmp / "keyring.json"),
    }
    run(["keyring", "set", index.simple_url, "__token__"], env, stdin=token + "\n")
    return env


def test_uv_with_each_credential_mechanism(site: PrivateSite, tmp_path: Path) -> None:
    env = client_env(tmp_path)

    _, version = uv_pip_install(
        env, tmp_path / "url", "--index-url", site.url("__token__", site.token)
    )
    assert version == "1.0"

    # UV_INDEX_<NAME>_USERNAME/PASSWORD for a named index, the public index second.
    named = {**env, "UV_INDEX_CORP_USERNAME": "__token__", "UV_INDEX_CORP_PASSWORD": site.token}
    _, version = uv_pip_install(
        named, tmp_path / "named",
        "--index", f"corp={site.url()}", "--default-index", site.public.simple_url,
    )  # fmt: skip
    assert version == "1.0"

    # .netrc: uv asks without credentials, gets the 401, and asks again with them.
    since = mark(site.index)
    _, version = uv_pip_install(
        netrc_env(env, tmp_path, site.index, site.token),
        tmp_path / "netrc",
        "--index-url",
        site.url(),
    )
    assert version == "1.0"
    assert asked(site.index, since) == [401, 200]

    # A keyring through the `keyring` command: uv needs the username in the URL to ask it.
    _, version = uv_pip_install(
        keyring_env(env, tmp_path, site.index, site.token), tmp_path / "keyring",
        "--keyring-provider", "subprocess", "--index-url", site.url("__token__"),
    )  # fmt: skip
    assert version == "1.0"


def test_uv_project_locks_and_syncs_with_named_index_credentials(
    site: PrivateSite, tmp_path: Path
) -> None:
    """``uv add`` in a project whose pyproject names the private index: the lock file records
    the index URL and never the token; the credentials come from the environment."""
    project = tmp_path / "consumer"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        "[project]\n"
        'name = "consumer"\n'
        'version = "0.1.0"\n'
        'requires-python = ">=3.11"\n'
        "dependencies = []\n"
        "\n"
        "[[tool.uv.index]]\n"
        'name = "corp"\n'
        f'url = "{site.url()}"\n'
        "\n"
        "[[tool.uv.index]]\n"
        'name = "public"\n'
        f'url = "{site.public.simple_url}"\n'
        "default = true\n"
    )
    # The project's own pyproject.toml is configuration: UV_NO_CONFIG would hide it. The
    # user's and the active virtual environment are kept out instead.
    env = {
        k: v for k, v in client_env(tmp_path).items() if k not in ("UV_NO_CONFIG", "VIRTUAL_ENV")
    }
    env.update(
        {
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
            "UV_INDEX_CORP_USERNAME": "__token__",
            "UV_INDEX_CORP_PASSWORD": site.token,
        }
    )
    run([tool("uv"), "add", "--python", PYTHON, "corp-app"], env, cwd=project)
    lock_text = (project / "uv.lock").read_text()
    assert site.token not in lock_text
    (locked,) = (p for p in tomllib.loads(lock_text)["package"] if p["name"] == "corp-app")
    assert locked["version"] == "1.0"
    assert locked["source"] == {"registry": site.url()}
    site_packages = next((project / ".venv" / "lib").glob("python3*/site-packages"))
    assert installed_version(site_packages, "corp_app") == "1.0"


def test_uv_stops_at_the_private_index_without_valid_credentials(
    site: PrivateSite, tmp_path: Path
) -> None:
    """The private index comes first and a second index serves the same name: without valid
    credentials uv stops with the private index's 401 or 403 and never asks the second one
    (after a 404 it would move on: why a private index never answers 404 to strangers)."""
    env = client_env(tmp_path)
    indexes = ("--index", f"corp={site.url()}", "--default-index", site.public.simple_url)
    cases = {
        "anonymous": (env, 401, "401 Unauthorized"),
        "wrong": (
            {**env, "UV_INDEX_CORP_USERNAME": "__token__", "UV_INDEX_CORP_PASSWORD": site.wrong},
            401,
            "401 Unauthorized",
        ),
        "scoped": (
            {**env, "UV_INDEX_CORP_USERNAME": "__token__", "UV_INDEX_CORP_PASSWORD": site.scoped},
            403,
            "403 Forbidden",
        ),
    }
    for case, (case_env, status, said) in cases.items():
        private_since, public_since = mark(site.index), mark(site.public)
        stderr, version = uv_pip_install(case_env, tmp_path / case, *indexes, ok=False)
        assert version is None, case
        assert said in stderr, (case, stderr)
        assert asked(site.index, private_since)[-1:] == [status], case
        assert asked(site.public, public_since) == [], case


def test_pip_with_each_credential_mechanism(site: PrivateSite, tmp_path: Path) -> None:
    env = client_env(tmp_path)

    # Any username will do: the password is the token.
    _, version = pip_install(env, tmp_path / "url", "--index-url", site.url("ci", site.token))
    assert version == "1.0"

    _, version = pip_install(
        netrc_env(env, tmp_path, site.index, site.token),
        tmp_path / "netrc",
        "--index-url",
        site.url(),
    )
    assert version == "1.0"

    keyring = keyring_env(env, tmp_path, site.index, site.token)
    # pip's own process imports keyring and asks it for the URL's credential.
    _, version = pip_install(
        keyring, tmp_path / "import", "--keyring-provider", "import", "--index-url", site.url()
    )
    assert version == "1.0"
    # pip runs the `keyring` command; with a username in the URL it first sends that username
    # with an empty password, which must get a 401 (not a 403) for pip to ask the keyring.
    since = mark(site.index)
    _, version = pip_install(
        keyring, tmp_path / "subprocess",
        "--keyring-provider", "subprocess", "--index-url", site.url("__token__"),
    )  # fmt: skip
    assert version == "1.0"
    assert asked(site.index, since) == [401, 200]


def test_pip_fails_without_valid_credentials(site: PrivateSite, tmp_path: Path) -> None:
    env = client_env(tmp_path)
    cases = {
        "anonymous": (site.url(), 401),
        "wrong": (site.url("__token__", site.wrong), 401),
        "scoped": (site.url("__token__", site.scoped), 403),
    }
    for case, (url, status) in cases.items():
        since = mark(site.index)
        _, version = pip_install(env, tmp_path / case, "--index-url", url, ok=False)
        assert version is None, case
        assert asked(site.index, since)[-1:] == [status], case

    # pip, unlike uv, merges every index it is given and takes one that fails for one that
    # has nothing: with --extra-index-url it says nothing of the 401 and installs the other
    # index's 99.0. No answer of the private index can prevent that (the README says so: give
    # pip the private index alone, with `serve --upstream` for public packages).
    since = mark(site.index)
    _, version = pip_install(
        env, tmp_path / "extra",
        "--index-url", site.url(), "--extra-index-url", site.public.simple_url,
    )  # fmt: skip
    assert version == "99.0"
    assert asked(site.index, since) == [401]


def test_poetry_http_basic(site: PrivateSite, tmp_path: Path) -> None:
    """Poetry with the private index as its primary source and the public one supplemental,
    credentials from ``poetry config http-basic.corp``."""
    project = tmp_path / "consumer"
    project.mkdir()
    pyproject = (
        "[project]\n"
        'name = "consumer"\n'
        'version = "0.1.0"\n'
        'requires-python = ">=3.11"\n'
        'dependencies = ["corp-app"]\n'
        "\n"
        "[tool.poetry]\n"
        "package-mode = false\n"
        "{pin}"
        "\n"
        "[[tool.poetry.source]]\n"
        'name = "corp"\n'
        f'url = "{site.url()}"\n'
        'priority = "primary"\n'
        "\n"
        "[[tool.poetry.source]]\n"
        'name = "public"\n'
        f'url = "{site.public.simple_url}"\n'
        'priority = "supplemental"\n'
    )
    env = poetry_env(tmp_path)
    # Without credentials and without a pin, poetry warns of the 401 and takes the name from
    # the supplemental source (the README says to pin private names to their source).
    (project / "pyproject.toml").write_text(pyproject.replace("{pin}", ""))
    poetry(project, env, "env", "use", PYTHON)
    result = poetry(project, env, "lock")
    assert "Authorization error" in result.stderr + result.stdout
    assert locked_corp_app(project) == ("99.0", site.public.simple_url)

    # Pinned to the private source, it stops there.
    (project / "pyproject.toml").write_text(
        pyproject.replace("{pin}", '\n[tool.poetry.dependencies]\ncorp-app = { source = "corp" }\n')
    )
    since = mark(site.public)
    failed = poetry(project, env, "lock", "--regenerate", ok=False)
    assert "Authorization error" in failed.stderr + failed.stdout
    assert asked(site.public, since) == []

    # Poetry's environment variables for a source's credentials (as CI sets them)...
    from_env = {
        **env,
        "POETRY_HTTP_BASIC_CORP_USERNAME": "__token__",
        "POETRY_HTTP_BASIC_CORP_PASSWORD": site.token,
    }
    poetry(project, from_env, "lock", "--regenerate")
    assert locked_corp_app(project) == ("1.0", site.url())

    # ... and its configuration, kept in POETRY_CONFIG_DIR.
    poetry(project, env, "config", "http-basic.corp", "__token__", site.token)
    poetry(project, env, "lock", "--regenerate")
    assert locked_corp_app(project) == ("1.0", site.url())
    assert site.token not in (project / "poetry.lock").read_text()
    poetry(project, env, "install")
    venv = Path(poetry(project, env, "env", "info", "--path").stdout.strip())
    site_packages = next((venv / "lib").glob("python3*/site-packages"))
    assert installed_version(site_packages, "corp_app") == "1.0"


def locked_corp_app(project: Path) -> tuple[str, str]:
    """corp-app's version and source URL (with its final slash) in ``project``'s poetry.lock."""
    lock = tomllib.loads((project / "poetry.lock").read_text())
    (package,) = (p for p in lock["package"] if p["name"] == "corp-app")
    return package["version"], package["source"]["url"].rstrip("/") + "/"


def test_a_private_project_on_a_public_index(site: PrivateSite, tmp_path: Path) -> None:
    """``admin project visibility P private`` on an index anyone may read: uv needs a token
    for that project (anonymous: 401, not the 404 after which it would try the next index),
    while the index's other projects stay open."""
    public = site.public
    public.create_user("bob")
    token = public.create_token("bob")
    wheel = build_wheel(tmp_path / "dists", "team-lib", "2.0")
    assert upload_built(public, token, wheel).status == 200
    public.cli("admin", "project", "visibility", "team-lib", "private")
    env = client_env(tmp_path)

    def uv(target: str, url: str, *, ok: bool = True) -> str:
        return run(
            [
                tool("uv"), "pip", "install", "--no-cache", "--python", PYTHON,
                "--target", str(tmp_path / target), "--index-url", url, "team-lib", "corp-app",
            ],
            env,
            ok=ok,
        ).stderr  # fmt: skip

    assert "401 Unauthorized" in uv("anonymous", public.simple_url, ok=False)
    uv("bob", simple_url(public, "__token__", token))
    assert installed_version(tmp_path / "bob", "team_lib") == "2.0"
    assert installed_version(tmp_path / "bob", "corp_app") == "99.0"


def test_a_private_index_in_front_of_another_index(site: PrivateSite, tmp_path: Path) -> None:
    """``serve --private --upstream``: what the README gives pip instead of a second index. One
    URL and one token for local and upstream packages; anonymous requests get 401 for upstream
    names too; a private local name is never answered from the upstream, even for a reader who
    may not read it (403, not the upstream's ``corp-app`` 99.0)."""
    upstream = site.public
    pubdep = build_wheel(tmp_path / "dists" / "pubdep", "pubdep", "1.0")
    assert upload_built(upstream, upstream.create_token("mallory"), pubdep).status == 200
    proxy = start_index(tmp_path / "proxy", "--private", "--upstream", upstream.simple_url)
    try:
        proxy.create_user("alice")
        proxy.create_user("bob")
        alice, bob = proxy.create_token("alice"), proxy.create_token("bob")
        tool_wheel = build_wheel(
            tmp_path / "dists" / "tool",
            "corp-tool",
            "1.0",
            metadata_extra="Requires-Dist: pubdep\n",
        )
        assert upload_built(proxy, alice, tool_wheel).status == 200
        # A name the upstream has is taken here by the host only (an upload may not shadow it).
        proxy.cli("admin", "project", "create", "corp-app", "--owner", "alice")
        proxy.cli("admin", "project", "visibility", "corp-app", "private")
        own = build_wheel(tmp_path / "dists" / "own", "corp-app", "1.0")
        assert upload_built(proxy, alice, own).status == 200
        env = client_env(tmp_path)
        target = tmp_path / "alice"
        run(
            [
                PYTHON, "-m", "pip", "install", "--no-cache-dir", "--target", str(target),
                "--index-url", simple_url(proxy, "__token__", alice), "corp-tool", "corp-app",
            ],
            env,
        )  # fmt: skip
        assert installed_version(target, "corp_tool") == "1.0"
        assert installed_version(target, "pubdep") == "1.0"
        assert installed_version(target, "corp_app") == "1.0"

        since = mark(proxy)
        anonymous = run(
            [
                tool("uv"), "pip", "install", "--no-cache", "--python", PYTHON,
                "--target", str(tmp_path / "anonymous"), "--index-url", proxy.simple_url, "pubdep",
            ],
            env,
            ok=False,
        )  # fmt: skip
        assert "401 Unauthorized" in anonymous.stderr
        assert asked(proxy, since, "/simple/pubdep/") == [401]

        since, upstream_since = mark(proxy), mark(upstream)
        stderr, version = uv_pip_install(
            env, tmp_path / "bob", "--index-url", simple_url(proxy, "__token__", bob), ok=False
        )
        assert version is None
        assert "403 Forbidden" in stderr
        assert asked(proxy, since) == [403]
        assert asked(upstream, upstream_since) == []
    finally:
        proxy.stop()


def test_private_files_from_s3(
    postgres_server: PostgresServer, seaweedfs: SeaweedServer, tmp_path: Path
) -> None:
    """On PostgreSQL and S3 a private index answers a file with a redirect to a presigned URL
    on another origin: uv and pip must follow it without carrying the index's credentials
    there (S3 refuses a request that has both), from the URL and from ``.netrc``."""
    backend = Backend(POSTGRESQL_S3, postgres=postgres_server, seaweedfs=seaweedfs)
    index = start_index(tmp_path / "data", "--private", backend=backend)
    try:
        index.create_user("alice")
        token = index.create_token("alice")
        wheel = build_wheel(tmp_path / "dists", "corp-app", "1.0")
        assert upload_built(index, token, wheel).status == 200
        env = client_env(tmp_path)
        since = mark(index)

        _, version = uv_pip_install(
            env, tmp_path / "uv", "--index-url", simple_url(index, "__token__", token)
        )
        assert version == "1.0"
        _, version = pip_install(
            netrc_env(env, tmp_path, index, token),
            tmp_path / "pip",
            "--index-url",
            index.simple_url,
        )
        assert version == "1.0"
        redirected = [
            status
            for path, status in ACCESS.findall(index.log.read_text()[since:])
            if path.endswith(".whl")
        ]
        assert redirected == ["302", "302"]  # one wheel each, from the bucket
    finally:
        index.stop()

"""The one typed settings object, built once at start and passed down.

Sources, later ones winning: built-in defaults, an optional ``trustyard.toml`` (in the data
directory or given with ``--config``), ``TRUSTYARD_*`` environment variables, command-line flags.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from trustyard.errors import ConfigurationError

KiB = 1024
MiB = 1024 * 1024
GiB = 1024 * MiB


@dataclass(frozen=True)
class Settings:
    """Everything an index process or an admin command needs to know about its deployment."""

    data_dir: Path = Path("trustyard-data")
    host: str = "127.0.0.1"
    port: int = 8080
    # Public URL of the index (scheme://host[:port][/prefix]); derived from requests when unset.
    base_url: str | None = None
    # Behind nginx: the URL prefix of its ``internal`` location mapped onto files_dir. File
    # requests are then answered with X-Accel-Redirect and nginx sends the bytes
    # (docs/deployment.md). Local files only; None: the index sends them itself.
    accel_redirect: str | None = None
    # SQLAlchemy URL; the embedded default is SQLite inside data_dir.
    database: str | None = None
    # Where distribution files live: s3://BUCKET/PREFIX (endpoint and credentials from the
    # standard AWS_* variables); the embedded default is data_dir/files.
    storage: str | None = None
    # How files in S3 reach clients: "redirect" (302 to a short-lived presigned URL, the bytes
    # never pass through the index) or "stream" (the index relays them, for buckets clients
    # cannot reach). Local files are always served by the index itself.
    s3_serve: str = "redirect"
    # PyPI's default per-file limit (warehouse constants.MAX_FILESIZE).
    max_upload_size: int = 100 * MiB
    # PyPI's default limit on the total size of a project's files (constants.MAX_PROJECT_SIZE).
    # An admin may raise either limit for one project (`admin project limits`).
    max_project_size: int = 10 * GiB
    # New files are refused in a release whose first file came more than this many days ago
    # (PyPI: 14, warehouse PR #19727); 0 accepts new files in a release for ever.
    new_files_window_days: int = 14
    # Archive bomb guard (warehouse forklift: ratio 50 once past 64 MiB unpacked).
    max_compression_ratio: int = 50
    compression_ratio_threshold: int = 64 * MiB
    # Descriptions are rendered once, at upload, in worker processes (started on first use,
    # at most this many per server process), each render killed after this many seconds: an
    # upload whose description fails or runs out of time is refused, as on PyPI.
    description_render_workers: int = 2
    description_render_timeout: float = 2.0
    access_log: bool = True
    # Trusted Publishing: the audience CI tokens must carry (PyPI uses "pypi", TestPyPI
    # "testpypi": a distinct value keeps a token minted for one index from being accepted by
    # another). None: the index's own, generated once and kept in its database, so that every
    # instance of one index announces the same and no two indexes share one (issue 14, #4).
    oidc_audience: str | None = None
    trusted_publishing: bool = True
    # Pending publishers one user may have at once (PyPI: 3); 0 lets nobody register one.
    max_pending_publishers: int = 3
    # HTTPS: a generated local CA and leaf in DATA/tls/, or real certificate files.
    tls: bool = False
    certfile: Path | None = None
    keyfile: Path | None = None
    hostnames: str = ""  # extra names for the generated certificate, comma-separated
    # Server processes sharing the port (uvicorn workers); each keeps its own page cache.
    workers: int = 1
    # PEP 740: the Sigstore instance whose certificates attestations must chain to, as a
    # sigstore ClientTrustConfig JSON file; unset, the production instance's root that
    # sigstore-python ships (verification never goes to the network either way).
    sigstore_trust_config: Path | None = None
    # Request limits. A body over max_request_size is refused with 413 before it is read,
    # except an upload to /legacy/, which may carry max_upload_size plus its form fields.
    max_request_size: int = 64 * KiB
    # Request line and headers: at most max_header_size bytes (431 beyond), all within
    # header_timeout seconds, also the time a new connection may stay silent (slowloris).
    max_header_size: int = 64 * KiB
    header_timeout: int = 30
    # A body may pause at most body_timeout seconds; a body that is not an upload must be
    # complete within it, an upload must average min_upload_rate bytes/s beyond it (408).
    body_timeout: int = 30
    min_upload_rate: int = 8 * KiB
    # A refused body (an upload without valid credentials, one over its limit) is still read
    # and dropped so that the client sees the answer rather than a reset, for at most
    # drain_timeout seconds in all (whatever its pace); then the connection is closed.
    drain_timeout: int = 10
    # Connections: at most limit_concurrency at once per server process (uvicorn's limit;
    # beyond it requests get 503; 0: no limit), and at most max_connections_per_address from
    # one client address per process (429 and closed beyond it; 0: no limit). Connections
    # from the proxies in forwarded_allow_ips are not counted per address: behind a proxy,
    # every client arrives from its address, and the proxy limits clients itself (nginx
    # limit_conn). 128 leaves room for uv's 50 parallel downloads and for clients behind NAT.
    limit_concurrency: int = 1000
    max_connections_per_address: int = 128
    # Rate limits, "COUNT/PERIOD" (PERIOD as 30s, 1m, 15m, 1h, 1d) or "off", counted in the
    # database so that they hold across instances. Mint: every request per client address,
    # every exchange per CI identity, i.e. the repository, project path, e-mail or issuer its
    # publishers share (or, matching none, per issuer and subject). Sign-in:
    # failed attempts per account from one address (what holds a guesser back), per account
    # from all addresses together (a slower limit that one address alone never reaches, so a
    # stranger cannot lock the owner out; many addresses together can), and per address.
    # Search: every search per address.
    # Proxies (comma-separated addresses, or "*") whose X-Forwarded-For / X-Forwarded-Proto
    # name the client: behind a load balancer, so that per-address limits count each client
    # and not the balancer. Empty: those headers are ignored (no one may claim an address).
    forwarded_allow_ips: str = ""
    mint_rate_per_address: str = "120/1m"
    mint_rate_per_publisher: str = "60/1m"
    sign_in_rate_per_account_address: str = "5/15m"
    sign_in_rate_per_account: str = "30/1h"
    sign_in_rate_per_address: str = "50/15m"
    # Searches per client address (Warehouse's warehouse.search.ratelimit_string: 5 per second).
    search_rate_per_address: str = "5/1s"
    # Pull-through proxy (issue 17): the PEP 691 index whose projects this one shows for every
    # name that is not local (e.g. https://pypi.org/simple/); None: no upstream, local only.
    upstream: str | None = None
    # How long a fetched upstream project page is shown before it is revalidated (ETag), and
    # how long one upstream request may take (connect, each read) before it counts as down.
    upstream_ttl: int = 600
    upstream_timeout: float = 10.0
    # Cooldown (issue 18): upstream files younger than this (by the upstream's upload-time) are
    # neither listed nor served, e.g. "7d", "36h"; "0": off. None: whatever this index's
    # database says (it is kept there, one value for every instance; a different value here
    # refuses to start: change it with `trustyard policy min-release-age`).
    min_release_age: str | None = None
    # Seconds a running server may go on showing upstream listings from its memory after
    # `trustyard upstream purge` or `refresh` (one database read per interval and process).
    upstream_recheck: float = 5.0
    # A private index (issue 20): every read (simple pages, files, JSON and Integrity APIs,
    # search, web pages) needs credentials, an API token (or a signed-in browser); anonymous
    # requests get 401. Projects can also be made private one by one on a public index.
    private: bool = False
    # Prometheus metrics (issue 19): HOST:PORT of their own endpoint, /metrics, e.g.
    # 127.0.0.1:9100; None: no metrics served. Never the index's own port: the figures are for
    # the operator, and a separate address can stay on loopback or an internal network.
    metrics_bind: str | None = None
    # Second factor (issue 20): every account with write or admin rights (an admin, or an
    # owner or maintainer of any project) must have an authenticator app or a security key;
    # signed in without one, it sees only the page that sets one up. API tokens keep working.
    require_2fa: bool = False
    # Second-factor attempts per account (any address), counted like failed sign-ins: the
    # password was right, so this is what holds back a guesser of six-digit codes.
    second_factor_rate_per_account: str = "10/15m"
    # Secrets at rest (issue 20): the file of keys that seal TOTP keys in the database
    # (services/secret_keys.py), created with mode 0600 on first need. None: secrets.key in
    # data_dir. Every instance of one index must read the same file (several instances on
    # PostgreSQL: provision it to each); keep a copy apart from the database's backups.
    secrets_key_file: Path | None = None

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL of the catalogue."""
        if self.database:
            return self.database
        return f"sqlite:///{(self.data_dir / 'trustyard.sqlite3').resolve()}"

    @property
    def secrets_key_path(self) -> Path:
        """The key file that seals secrets at rest (``secrets_key_file`` or the default)."""
        return self.secrets_key_file or self.data_dir / "secrets.key"

    @property
    def files_dir(self) -> Path:
        """Where the embedded default keeps distribution files."""
        return self.data_dir / "files"


def _coerce(name: str, raw: Any, target: Any) -> Any:
    """Convert a value from TOML, the environment or a flag to the field's type."""
    kind = target if isinstance(target, type) else None
    text = str(target)
    try:
        if kind is bool or text == "bool":
            if isinstance(raw, bool):
                return raw
            lowered = str(raw).strip().lower()
            if lowered in {"1", "true", "yes", "on"}:
                return True
            if lowered in {"0", "false", "no", "off"}:
                return False
            raise ValueError(f"not a boolean: {raw!r}")
        if kind is int or text == "int":
            return parse_size(raw) if isinstance(raw, str) else int(raw)
        if kind is float or text == "float":
            return float(raw)
        if raw == "" and "None" in text:
            return None
        if "Path" in text:
            return Path(raw)
    except ValueError as exc:
        raise ConfigurationError(f"setting {name}: {exc}") from exc
    return None if raw == "" and "None" in text else str(raw)


@dataclass(frozen=True)
class Rate:
    """At most ``count`` events per window of ``seconds``."""

    count: int
    seconds: int


_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(text: str) -> Rate | None:
    """Parse ``60/1m``, ``5/15m``, ``1000/1d`` into a :class:`Rate`; ``off`` is no limit."""
    stripped = text.strip().lower()
    if stripped == "off":
        return None
    count, slash, period = stripped.partition("/")
    number, unit = period.strip()[:-1], period.strip()[-1:]
    if (
        not slash
        or not count.strip().isdigit()
        or unit not in _PERIODS
        or not number.strip().isdigit()
    ):
        raise ValueError(f"not a rate like 60/1m, 5/15m or off: {text!r}")
    rate = Rate(int(count), int(number) * _PERIODS[unit])
    if rate.count < 1 or rate.seconds < 1:
        raise ValueError(f"a rate needs a count and a period of at least 1: {text!r}")
    return rate


@dataclass(frozen=True)
class Bind:
    """An address to listen on, ``HOST:PORT`` (``[::1]:9100`` for an IPv6 host)."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_bind(text: str) -> Bind:
    """Parse ``HOST:PORT`` or ``[IPV6]:PORT``; a :class:`ValueError` naming the problem."""
    host, sep, port = text.strip().rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"an IPv6 address goes in brackets, as [::1]:9100: {text!r}")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"not HOST:PORT (e.g. 127.0.0.1:9100): {text!r}")
    return Bind(host, int(port))


_WILDCARDS = {"0.0.0.0", "::", ""}  # noqa: S104 - compared with, never bound


def parse_size(text: str) -> int:
    """Parse ``100``, ``100MiB``, ``1GiB``, ``512KiB`` (binary units) into bytes."""
    units = {"kib": 1024, "mib": MiB, "gib": GiB, "kb": 1000, "mb": 10**6, "gb": 10**9}
    stripped = text.strip().lower()
    for suffix, factor in units.items():
        if stripped.endswith(suffix):
            return int(stripped[: -len(suffix)].strip()) * factor
    return int(stripped)


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    config_file: Path | None = None,
) -> Settings:
    """Build the settings from every source; ``overrides`` (flags) win, ``None`` values skip."""
    env = os.environ if environ is None else environ
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    known = {f.name: f for f in fields(Settings)}
    values: dict[str, Any] = {}

    data_dir = Path(overrides.get("data_dir") or env.get("TRUSTYARD_DATA") or Settings.data_dir)
    explicit = config_file or (
        Path(env["TRUSTYARD_CONFIG"]) if env.get("TRUSTYARD_CONFIG") else None
    )
    for candidate in [explicit or data_dir / "trustyard.toml"]:
        if candidate.is_file():
            try:
                table = tomllib.loads(candidate.read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise ConfigurationError(f"cannot read {candidate}: {exc}") from exc
            for key, raw in table.items():
                name = key.replace("-", "_")
                if name not in known:
                    raise ConfigurationError(f"{candidate}: unknown setting {key!r}")
                values[name] = _coerce(name, raw, known[name].type)
        elif explicit is not None:
            raise ConfigurationError(f"configuration file {candidate} does not exist")

    for name, spec in known.items():
        env_name = "TRUSTYARD_DATA" if name == "data_dir" else f"TRUSTYARD_{name.upper()}"
        if env_name in env:
            values[name] = _coerce(name, env[env_name], spec.type)
    for name, raw in overrides.items():
        if name not in known:
            raise ConfigurationError(f"unknown setting {name!r}")
        values[name] = _coerce(name, raw, known[name].type)

    settings = dataclasses.replace(Settings(), **values)
    if settings.workers < 1:
        raise ConfigurationError("workers must be at least 1")
    if settings.s3_serve not in {"redirect", "stream"}:
        raise ConfigurationError(f"s3_serve must be redirect or stream, not {settings.s3_serve!r}")
    for name in ("max_upload_size", "max_project_size"):
        if getattr(settings, name) <= 0:
            raise ConfigurationError(f"{name} must be positive")
    if settings.new_files_window_days < 0:
        raise ConfigurationError("new_files_window_days must not be negative (0: no limit)")
    for name in (
        "max_request_size",
        "max_header_size",
        "header_timeout",
        "body_timeout",
        "drain_timeout",
    ):
        if getattr(settings, name) <= 0:
            raise ConfigurationError(f"{name} must be positive")
    if settings.max_pending_publishers < 0:
        raise ConfigurationError("max_pending_publishers must not be negative")
    for name in ("min_upload_rate", "limit_concurrency", "max_connections_per_address"):
        if getattr(settings, name) < 0:
            raise ConfigurationError(f"{name} must not be negative")
    if settings.description_render_workers < 1:
        raise ConfigurationError("description_render_workers must be at least 1")
    if not 0 < settings.description_render_timeout <= 600:
        raise ConfigurationError("description_render_timeout must be in (0, 600] seconds")
    for name in (
        "mint_rate_per_address",
        "mint_rate_per_publisher",
        "sign_in_rate_per_account_address",
        "sign_in_rate_per_account",
        "sign_in_rate_per_address",
        "search_rate_per_address",
        "second_factor_rate_per_account",
    ):
        try:
            parse_rate(getattr(settings, name))
        except ValueError as exc:
            raise ConfigurationError(f"setting {name}: {exc}") from exc
    if settings.accel_redirect is not None and not (
        settings.accel_redirect.startswith("/") and settings.accel_redirect.endswith("/")
    ):
        raise ConfigurationError(
            f"accel_redirect must start and end with '/': {settings.accel_redirect}"
        )
    if settings.accel_redirect is not None and settings.storage is not None:
        raise ConfigurationError(
            "accel_redirect is for files stored on local disk; "
            "an S3 store sends its files itself (s3_serve)"
        )
    if settings.upstream is not None and not settings.upstream.startswith(("http://", "https://")):
        raise ConfigurationError(
            f"upstream must be an http:// or https:// URL of a PEP 691 index: {settings.upstream}"
        )
    if settings.upstream_ttl < 0:
        raise ConfigurationError("upstream_ttl must not be negative (0: revalidate every time)")
    if not 0 < settings.upstream_timeout <= 300:
        raise ConfigurationError("upstream_timeout must be in (0, 300] seconds")
    if not 0 <= settings.upstream_recheck <= 3600:
        raise ConfigurationError("upstream_recheck must be in [0, 3600] seconds")
    if settings.metrics_bind is not None:
        try:
            bind = parse_bind(settings.metrics_bind)
        except ValueError as exc:
            raise ConfigurationError(f"setting metrics_bind: {exc}") from exc
        if bind.port == settings.port and (
            bind.host == settings.host or {bind.host, settings.host} & _WILDCARDS
        ):
            raise ConfigurationError(
                f"metrics_bind {bind} is the index's own address: the metrics need one of"
                " their own (e.g. 127.0.0.1:9100), so that the public port never shows them"
            )
    if settings.base_url is not None and not settings.base_url.startswith(("http://", "https://")):
        raise ConfigurationError(
            f"base_url must start with http:// or https://: {settings.base_url}"
        )
    return settings


def settings_environ(settings: Settings) -> dict[str, str]:
    """``TRUSTYARD_*`` variables that rebuild exactly ``settings`` (for worker processes)."""
    environ: dict[str, str] = {}
    for spec in fields(Settings):
        value = getattr(settings, spec.name)
        name = "TRUSTYARD_DATA" if spec.name == "data_dir" else f"TRUSTYARD_{spec.name.upper()}"
        if isinstance(value, Path):
            value = value.resolve()
        environ[name] = "" if value is None else str(value)
    return environ

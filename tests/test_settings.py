"""Settings: defaults, trustyard.toml, TRUSTYARD_* variables and flags, in that order."""

from __future__ import annotations

from pathlib import Path

import pytest

from trustyard.errors import ConfigurationError
from trustyard.settings import MiB, Settings, load_settings, parse_size


def test_defaults() -> None:
    settings = load_settings(environ={})
    assert settings == Settings()
    assert settings.data_dir == Path("trustyard-data")
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert settings.max_upload_size == 100 * MiB
    assert settings.max_pending_publishers == 3  # PyPI's
    assert settings.database_url.startswith("sqlite:///")
    assert settings.database_url.endswith("trustyard-data/trustyard.sqlite3")


def test_layers_override_in_order(tmp_path: Path) -> None:
    (tmp_path / "trustyard.toml").write_text(
        'port = 9000\nhost = "192.0.2.1"\nmax-upload-size = "2MiB"\n'
    )
    env = {"TRUSTYARD_DATA": str(tmp_path), "TRUSTYARD_PORT": "9100"}
    settings = load_settings(environ=env)
    assert (settings.host, settings.port, settings.max_upload_size) == ("192.0.2.1", 9100, 2 * MiB)
    settings = load_settings({"port": 9200, "host": None}, environ=env)
    assert (settings.host, settings.port) == ("192.0.2.1", 9200)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("100", 100), ("1KiB", 1024), ("3 MiB", 3 * MiB), ("1gib", 1024 * MiB), ("5MB", 5_000_000)],
)
def test_parse_size(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    ("overrides", "environ", "toml", "message"),
    [
        ({"port": "eighty"}, {}, None, "setting port"),
        ({}, {"TRUSTYARD_ACCESS_LOG": "maybe"}, None, "not a boolean"),
        ({"max_upload_size": "0"}, {}, None, "must be positive"),
        ({"base_url": "ftp://x"}, {}, None, "base_url must start with"),
        ({"accel_redirect": "_files/"}, {}, None, "accel_redirect must start and end with '/'"),
        ({"accel_redirect": "/_files"}, {}, None, "accel_redirect must start and end with '/'"),
        (
            {"accel_redirect": "/_files/", "storage": "s3://bucket/prefix"},
            {},
            None,
            "accel_redirect is for files stored on local disk",
        ),
        ({"description_render_timeout": "0"}, {}, None, "description_render_timeout must be"),
        ({}, {"TRUSTYARD_DESCRIPTION_RENDER_TIMEOUT": "soon"}, None, "setting description_rend"),
        ({"description_render_workers": "0"}, {}, None, "description_render_workers must be"),
        (
            {},
            {"TRUSTYARD_MAX_PENDING_PUBLISHERS": "-1"},
            None,
            "max_pending_publishers must not be negative",
        ),
        ({}, {"TRUSTYARD_UPSTREAM_RECHECK": "-1"}, None, "upstream_recheck must be in"),
        ({}, {"TRUSTYARD_REQUIRE_2FA": "perhaps"}, None, "not a boolean"),
        (
            {},
            {"TRUSTYARD_SECOND_FACTOR_RATE_PER_ACCOUNT": "often"},
            None,
            "setting second_factor_rate_per_account",
        ),
        ({"colour": "blue"}, {}, None, "unknown setting 'colour'"),
        ({}, {}, "nonsense = 1\n", "unknown setting 'nonsense'"),
        ({}, {}, "port = [", "cannot read"),
    ],
)
def test_bad_settings_are_named(
    tmp_path: Path,
    overrides: dict[str, object],
    environ: dict[str, str],
    toml: str | None,
    message: str,
) -> None:
    if toml is not None:
        (tmp_path / "trustyard.toml").write_text(toml)
    with pytest.raises(ConfigurationError, match=message):
        load_settings({"data_dir": tmp_path, **overrides}, environ=environ)


def test_description_render_timeout_takes_fractions(tmp_path: Path) -> None:
    (tmp_path / "trustyard.toml").write_text("description_render_timeout = 0.5\n")
    assert load_settings({"data_dir": tmp_path}, environ={}).description_render_timeout == 0.5
    environ = {"TRUSTYARD_DESCRIPTION_RENDER_TIMEOUT": "1.5"}
    assert load_settings({"data_dir": tmp_path}, environ=environ).description_render_timeout == 1.5


def test_explicit_config_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_settings(environ={}, config_file=tmp_path / "missing.toml")


def test_require_2fa_from_the_environment_and_serve_flag(tmp_path: Path) -> None:
    assert not load_settings({"data_dir": tmp_path}, environ={}).require_2fa
    on = load_settings({"data_dir": tmp_path}, environ={"TRUSTYARD_REQUIRE_2FA": "yes"})
    assert on.require_2fa
    assert load_settings({"data_dir": tmp_path, "require_2fa": True}, environ={}).require_2fa


def test_the_secrets_key_file_defaults_to_the_data_directory(tmp_path: Path) -> None:
    default = load_settings({"data_dir": tmp_path}, environ={})
    assert default.secrets_key_path == tmp_path / "secrets.key"
    elsewhere = tmp_path / "keys" / "index.key"
    given = load_settings(
        {"data_dir": tmp_path}, environ={"TRUSTYARD_SECRETS_KEY_FILE": str(elsewhere)}
    )
    assert given.secrets_key_path == elsewhere

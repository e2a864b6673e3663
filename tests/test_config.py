"""Configuration: ARTBOARD_* variables, the seeds' own names as aliases, and one clear line for bad values."""

from __future__ import annotations

import pytest

from artboard.config import ConfigError, load_settings


def test_embedded_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.chdir(str(tmp_path))
    settings = load_settings()
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert settings.database_url.startswith("sqlite+aiosqlite:///") and settings.database_url.endswith(
        "artboard-data/artboard.db"
    )
    assert settings.access_token_minutes == 60 and settings.refresh_token_minutes == 7 * 24 * 60
    assert settings.redis_url is None


@pytest.mark.parametrize(
    ("variable", "value", "field", "expected"),
    [
        (
            "DATABASE_URL",
            "postgresql://u:p@db:5432/auth_db",
            "database_url",
            "postgresql+asyncpg://u:p@db:5432/auth_db",
        ),
        ("DATABASE_URL", "postgresql+asyncpg://u@db/x", "database_url", "postgresql+asyncpg://u@db/x"),
        ("JWT_SECRET_KEY", "from-seed-002", "secret_key", "from-seed-002"),
        ("ACCESS_TOKEN_EXPIRE_MINUTES", "15", "access_token_minutes", 15),
        ("JWT_ACCESS_TOKEN_EXPIRE_MINUTES", "1440", "access_token_minutes", 1440),
        ("REFRESH_TOKEN_EXPIRE_MINUTES", "10080", "refresh_token_minutes", 10080),
        ("HOST", "0.0.0.0", "host", "0.0.0.0"),  # noqa: S104 (a config value, nothing is bound here)
        ("PORT", "9000", "port", 9000),
        (
            "ALLOWED_ORIGINS",
            "http://localhost:3000,http://localhost:8000",
            "allowed_origins",
            ["http://localhost:3000", "http://localhost:8000"],
        ),
        (
            "ALLOWED_ORIGINS",
            '["http://localhost:3000","https://app.example"]',
            "allowed_origins",
            ["http://localhost:3000", "https://app.example"],
        ),
        ("REDIS_URL", "redis://localhost:6379", "redis_url", "redis://localhost:6379"),
        ("ARTBOARD_COOKIE_SECURE", "true", "cookie_secure", True),
        (
            "ARTBOARD_GPU_ENDPOINT_ALLOWLIST",
            "10.0.0.0/8, gpu.lan,::1",
            "gpu_endpoint_allowlist",
            ["10.0.0.0/8", "gpu.lan", "::1"],
        ),
        ("ARTBOARD_GPU_ENDPOINT_ALLOWLIST", '["192.168.1.20"]', "gpu_endpoint_allowlist", ["192.168.1.20"]),
    ],
)
def test_seed_variable_names_are_accepted(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, field: str, expected: object
) -> None:
    monkeypatch.setenv(variable, value)
    assert getattr(load_settings(), field) == expected


def test_cli_flags_beat_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARTBOARD_PORT", "9000")
    assert load_settings(port=9100).port == 9100


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ARTBOARD_PORT", "eighty"),
        ("PORT", "70000"),
        ("JWT_ALGORITHM", "none"),
        ("DATABASE_URL", "mysql://root@localhost/db"),
        ("ACCESS_TOKEN_EXPIRE_MINUTES", "0"),
        ("ARTBOARD_GPU_ENDPOINT_ALLOWLIST", "10.0.0.0/33"),
        ("ARTBOARD_GPU_ENDPOINT_ALLOWLIST", "http://gpu.lan:7860"),
    ],
)
def test_bad_values_fail_with_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as error:
        load_settings()
    message = str(error.value)
    assert variable in message and "\n" not in message

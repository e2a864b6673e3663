"""One Settings object for the whole service.

Every setting reads ``ARTBOARD_<NAME>``; where a seed system documented its own variable name
(``DATABASE_URL``, ``JWT_SECRET_KEY``...), that name is accepted too, so an existing ``.env`` keeps working.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url

from artboard.kit.netguard import Allowlist


def _env(default: Any, name: str, *aliases: str, **constraints: Any) -> Any:
    return Field(default, validation_alias=AliasChoices(f"ARTBOARD_{name}", *aliases), **constraints)


class ConfigError(Exception):
    """A setting has a value the service cannot start with; the message names the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    host: str = _env("127.0.0.1", "HOST", "HOST")
    port: int = _env(8080, "PORT", "PORT", ge=1, le=65535)
    data_dir: Path = _env(Path("artboard-data"), "DATA_DIR")
    database_url: str = _env("", "DATABASE_URL", "DATABASE_URL")
    redis_url: str | None = _env(None, "REDIS_URL", "REDIS_URL")
    secret_key: str | None = _env(None, "SECRET_KEY", "JWT_SECRET_KEY")
    jwt_algorithm: str = _env("HS256", "JWT_ALGORITHM", "JWT_ALGORITHM")
    access_token_minutes: int = _env(
        60, "ACCESS_TOKEN_MINUTES", "ACCESS_TOKEN_EXPIRE_MINUTES", "JWT_ACCESS_TOKEN_EXPIRE_MINUTES", ge=1
    )
    refresh_token_minutes: int = _env(7 * 24 * 60, "REFRESH_TOKEN_MINUTES", "REFRESH_TOKEN_EXPIRE_MINUTES", ge=1)
    allowed_origins: Annotated[list[str], NoDecode] = _env([], "ALLOWED_ORIGINS", "ALLOWED_ORIGINS")
    public_url: str | None = _env(None, "PUBLIC_URL", "BASE_URL")
    cookie_secure: bool = _env(False, "COOKIE_SECURE")
    auth_cache_s: float = _env(5.0, "AUTH_CACHE_S", ge=0, le=300)
    login_failures_per_account: int = _env(10, "LOGIN_FAILURES_PER_ACCOUNT", ge=1)
    login_failures_per_ip: int = _env(100, "LOGIN_FAILURES_PER_IP", ge=1)
    login_failure_window_s: int = _env(300, "LOGIN_FAILURE_WINDOW_S", ge=1)
    vault_session_ttl_s: int = _env(24 * 3600, "VAULT_SESSION_TTL_S", ge=1)
    vault_sweep_interval_s: int = _env(3600, "VAULT_SWEEP_INTERVAL_S", ge=1)
    vault_kdf_iterations: int = _env(600_000, "VAULT_KDF_ITERATIONS", ge=100_000, le=10_000_000)
    max_file_size: int = _env(10 * 1024 * 1024, "MAX_FILE_SIZE", "MAX_FILE_SIZE", ge=1)
    allowed_file_types: Annotated[list[str], NoDecode] = _env(
        ["image/jpeg", "image/png", "image/webp", "image/gif"], "ALLOWED_FILE_TYPES", "ALLOWED_FILE_TYPES"
    )
    max_image_pixels: int = _env(60_000_000, "MAX_IMAGE_PIXELS", ge=1)
    storage_quota_bytes: int = _env(0, "STORAGE_QUOTA_BYTES", ge=0)
    trash_retention_days: int = _env(30, "TRASH_RETENTION_DAYS", ge=1)
    maintenance_interval_s: int = _env(3600, "MAINTENANCE_INTERVAL_S", ge=1)
    gpu_endpoint_allowlist: Annotated[list[str], NoDecode] = _env([], "GPU_ENDPOINT_ALLOWLIST")
    s3_bucket: str | None = _env(None, "S3_BUCKET", "AWS_BUCKET_NAME")
    s3_region: str = _env("us-east-1", "S3_REGION", "AWS_REGION")
    s3_endpoint_url: str | None = _env(None, "S3_ENDPOINT_URL", "AWS_ENDPOINT_URL")
    s3_access_key_id: str | None = _env(None, "S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID")
    s3_secret_access_key: str | None = _env(None, "S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY")
    presigned_url_expiration_s: int = _env(
        900, "PRESIGNED_URL_EXPIRATION", "AWS_PRESIGNED_URL_EXPIRATION", ge=1, le=7 * 24 * 3600
    )
    run_worker: bool = _env(True, "RUN_WORKER")
    broker: Literal["embedded", "redis", "azure"] = _env("embedded", "BROKER")
    redis_stream: str = _env("artboard:jobs", "REDIS_STREAM", min_length=1, max_length=200)
    max_concurrent_tasks: int = _env(5, "MAX_CONCURRENT_TASKS", "MAX_CONCURRENT_TASKS", ge=1, le=1000)
    task_timeout_s: float = _env(300, "TASK_TIMEOUT", "TASK_TIMEOUT", gt=0)
    job_lease_s: float = _env(30, "JOB_LEASE_S", gt=0)
    job_max_attempts: int = _env(3, "JOB_MAX_ATTEMPTS", ge=1, le=100)
    max_running_per_user: int = _env(2, "MAX_RUNNING_PER_USER", ge=1)
    max_queued_per_user: int = _env(1000, "MAX_QUEUED_PER_USER", ge=1)
    event_retention_hours: float = _env(24, "EVENT_RETENTION_HOURS", gt=0)
    event_retention_per_user: int = _env(1000, "EVENT_RETENTION_PER_USER", ge=1)
    azure_storage_connection_string: str | None = _env(
        None, "AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_CONNECTION_STRING"
    )
    azure_queue_name: str = _env("artboard-jobs", "AZURE_QUEUE_NAME")
    # Providers. Keys are SecretStr so no repr or log line can show them.
    fal_base_url: str = _env("https://queue.fal.run", "FAL_BASE_URL", "FAL_BASE_URL")
    fal_key: SecretStr | None = _env(None, "FAL_KEY", "FAL_KEY", "FAL_API_KEY")
    fal_timeout_s: float = _env(600, "FAL_TIMEOUT_S", gt=0)
    openai_base_url: str | None = _env(None, "OPENAI_BASE_URL", "OPENAI_BASE_URL")
    openai_api_key: SecretStr | None = _env(None, "OPENAI_API_KEY", "OPENAI_API_KEY")
    openai_model: str = _env("gpt-4o-mini", "OPENAI_MODEL", "OPENAI_MODEL", min_length=1, max_length=100)
    openai_timeout_s: float = _env(60, "OPENAI_TIMEOUT_S", gt=0)
    gpu_timeout_s: float = _env(120, "GPU_TIMEOUT_S", gt=0)
    gpu_max_response_bytes: int = _env(50 * 1024 * 1024, "GPU_MAX_RESPONSE_BYTES", ge=1024)
    # Spending cap per user per calendar month in the ledger's currency (USD); 0 = none.
    monthly_budget: float = _env(0.0, "MONTHLY_BUDGET", ge=0)
    # Who verifies tokens: Artboard itself, or a PocketBase server whose users are mirrored here.
    auth_provider: Literal["local", "pocketbase"] = _env("local", "AUTH_PROVIDER")
    pocketbase_url: str | None = _env(None, "POCKETBASE_URL", "POCKETBASE_URL")
    # How long a token PocketBase verified is believed without asking again (a password change there takes
    # this long to reach Artboard); 0 asks every request.
    pocketbase_cache_s: float = _env(60.0, "POCKETBASE_CACHE_S", ge=0, le=60)
    log_level: str = _env("info", "LOG_LEVEL")
    # FastAPI's OpenTelemetry spans and metrics, sent to the providers the process configured; off by default,
    # for asking whether any provider is configured costs a tenth of a cheap request.
    opentelemetry: bool = _env(False, "OPENTELEMETRY")

    @field_validator("jwt_algorithm")
    @classmethod
    def _hmac_only(cls, value: str) -> str:
        if value not in {"HS256", "HS384", "HS512"}:
            raise ValueError("must be HS256, HS384 or HS512")
        return value

    @field_validator("allowed_origins", "allowed_file_types", "gpu_endpoint_allowlist", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        """Accept both a JSON list (seed 004) and a comma-separated string (seed 002)."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("allowed_file_types")
    @classmethod
    def _known_types(cls, value: list[str]) -> list[str]:
        known = {"image/jpeg", "image/png", "image/webp", "image/gif"}
        if not value or not set(value) <= known:
            raise ValueError(f"must be a non-empty list drawn from {', '.join(sorted(known))}")
        return value

    @field_validator("gpu_endpoint_allowlist")
    @classmethod
    def _hosts_or_networks(cls, value: list[str]) -> list[str]:
        Allowlist.parse(value)  # a bad entry raises ValueError naming it
        return value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        """Seeds wrote sync URLs (``postgresql://``); the service always talks through an async driver."""
        for plain, driver in (
            ("postgresql://", "postgresql+asyncpg://"),
            ("postgres://", "postgresql+asyncpg://"),
            ("sqlite://", "sqlite+aiosqlite://"),
        ):
            if value.startswith(plain):
                return driver + value[len(plain) :]
        if value and not value.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
            raise ValueError("must be a postgresql:// or sqlite:// URL")
        return value


def load_settings(**overrides: Any) -> Settings:
    """Build settings from explicit overrides (CLI flags, tests), the environment and ``.env``, in that order.

    Raises ConfigError with one line naming the offending variable.
    """
    try:
        settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    if not settings.database_url:
        settings.database_url = f"sqlite+aiosqlite:///{(settings.data_dir / 'artboard.db').resolve()}"
    if problem := missing_for_broker(settings):
        raise ConfigError(problem)
    if settings.auth_provider == "pocketbase" and not settings.pocketbase_url:
        raise ConfigError("invalid configuration: ARTBOARD_AUTH_PROVIDER=pocketbase needs ARTBOARD_POCKETBASE_URL")
    return settings


def missing_for_broker(settings: Settings) -> str:
    """What the chosen broker needs and is not set, as one line; empty when nothing is missing."""
    if settings.broker == "redis" and not settings.redis_url:
        return "invalid configuration: ARTBOARD_BROKER=redis needs REDIS_URL (or ARTBOARD_REDIS_URL)"
    if settings.broker == "azure" and not settings.azure_storage_connection_string:
        return "invalid configuration: ARTBOARD_BROKER=azure needs AZURE_STORAGE_CONNECTION_STRING"
    return ""


def _describe(exc: ValidationError) -> str:
    error = exc.errors()[0]
    reported = str(error["loc"][0]) if error["loc"] else "?"
    return f"invalid configuration: {_variable_name(reported)}: {error['msg']}"


def _variable_name(reported: str) -> str:
    """Pydantic reports a field by its first alias; name the variable the user actually set."""
    for name, info in Settings.model_fields.items():
        alias = info.validation_alias
        choices = [c for c in alias.choices if isinstance(c, str)] if isinstance(alias, AliasChoices) else []
        if reported == name or reported in choices:
            return next((c for c in choices if c in os.environ), choices[0] if choices else name)
    return reported


def ensure_secret(settings: Settings) -> str:
    """Return the signing secret, generating one under the data dir (mode 0600) on first start."""
    if settings.secret_key:
        return settings.secret_key
    path = settings.data_dir / "secret.key"
    if path.exists():
        return path.read_text().strip()
    private_dirs(settings.data_dir)
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret)
    return secret


def prepare_data_dir(settings: Settings) -> None:
    """Create the data dir 0700 and the SQLite database 0600, whatever the umask, before anything opens them.

    They hold password hashes, token keys and the secret. SQLite gives its -wal and -shm files the database
    file's mode, so those stay private too. What already exists keeps its mode (``artboard doctor`` warns).
    """
    private_dirs(settings.data_dir)
    database = sqlite_path(settings.database_url)
    if database is not None:
        # A database outside the data dir, in a directory that is missing, is SQLite's error to report.
        with contextlib.suppress(FileExistsError, FileNotFoundError):
            os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def private_dirs(path: Path) -> None:
    """Create ``path`` and its missing parents 0700 (``mkdir(parents=True)`` gives parents the umask's mode)."""
    missing = []
    while not path.is_dir():
        missing.append(path)
        path = path.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it first
            directory.mkdir(mode=0o700)


def sqlite_path(database_url: str) -> Path | None:
    """The file of an SQLite database URL; None for other databases and in-memory ones."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)

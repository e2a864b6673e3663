"""Operator tasks behind the CLI: create a user, and the doctor's checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from pydantic import ValidationError
from redis.asyncio import Redis

from artboard.auth.principal import TokenCache
from artboard.auth.schemas import RegisterRequest
from artboard.auth.service import Accounts, LoginLimits
from artboard.config import Settings, ensure_secret
from artboard.db import create_engine, session_factory
from artboard.errors import AppError
from artboard.kit.ratelimit import MemoryFailureCounter
from artboard.kit.signing import UrlSigner
from artboard.kit.tokens import TokenSigner
from artboard.media.storage import build_storage
from artboard.migrate import upgrade_async
from artboard.system.service import database_health

SECRET_FIELDS = {"secret_key", "s3_secret_access_key"}


async def create_user(settings: Settings, email: str, password: str, username: str | None, admin: bool) -> str:
    try:
        request = RegisterRequest(email=email, password=password, username=username)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise ValueError(f"{error['loc'][0]}: {error['msg']}") from None
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    await upgrade_async(settings.database_url)
    engine = create_engine(settings.database_url)
    accounts = Accounts(
        TokenSigner(ensure_secret(settings), settings.jwt_algorithm, timedelta(minutes=1)),
        timedelta(minutes=1),
        MemoryFailureCounter(),
        LoginLimits(1, 1, 1),
        TokenCache(0),
    )
    try:
        async with session_factory(engine)() as db:
            user = await accounts.register(
                db, str(request.email), request.password, username=request.username, role="admin" if admin else "user"
            )
            await db.commit()
            return user.id
    except AppError as exc:
        raise ValueError(exc.message) from None
    finally:
        await engine.dispose()


@dataclass
class DoctorReport:
    lines: list[str] = field(default_factory=list)
    ok: bool = True

    def check(self, name: str, ok: bool, detail: str) -> None:
        self.lines.append(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}")
        self.ok = self.ok and ok


def masked(settings: Settings) -> dict[str, str]:
    """Settings for display: secrets and URL passwords replaced."""
    from sqlalchemy.engine import make_url

    shown: dict[str, str] = {}
    for name, value in settings.model_dump().items():
        if name in SECRET_FIELDS:
            shown[name] = "***" if value else "(generated in data dir)"
        elif name in {"database_url", "redis_url"} and value:
            shown[name] = make_url(value).render_as_string(hide_password=True)
        else:
            shown[name] = str(value)
    return shown


async def doctor(settings: Settings) -> DoctorReport:
    report = DoctorReport(lines=[f"     {name} = {value}" for name, value in masked(settings).items()])
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        probe = settings.data_dir / ".doctor-probe"
        probe.write_bytes(b"ok")
        probe.unlink()
        report.check("data dir", True, f"{settings.data_dir.resolve()} is writable")
    except OSError as exc:
        report.check("data dir", False, f"{settings.data_dir} is not writable ({exc.strerror})")
    engine = create_engine(settings.database_url)
    try:
        database = await database_health(engine)
    finally:
        await engine.dispose()
    report.check(
        "database",
        database["ok"],
        f"{database.get('latency_ms')} ms" if database["ok"] else f"unreachable ({database['error']})",
    )
    if settings.redis_url:
        redis = Redis.from_url(settings.redis_url, socket_connect_timeout=3)
        try:
            await redis.ping()
            report.check("redis", True, "answers PING")
        except Exception as exc:  # any failure is reported, not raised
            report.check("redis", False, f"unreachable ({type(exc).__name__})")
        finally:
            await redis.aclose()
    else:
        report.lines.append("     redis: not configured (in-memory rate limits)")
    if settings.s3_bucket:
        await _check_bucket(settings, report)
    return report


async def _check_bucket(settings: Settings, report: DoctorReport) -> None:
    storage = build_storage(settings, UrlSigner("doctor", "storage"))
    try:
        await storage.put(".doctor-probe", b"ok", "text/plain")
        await storage.delete(".doctor-probe")
        report.check("storage", True, f"s3 bucket {settings.s3_bucket} is writable")
    except Exception as exc:  # any failure is reported, not raised
        report.check("storage", False, f"s3 bucket {settings.s3_bucket} is not usable ({type(exc).__name__})")

"""Operator tasks behind the CLI: create a user, run a worker process, and the doctor's checks."""

from __future__ import annotations

import asyncio
import faulthandler
import signal
import stat
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import ValidationError
from redis.asyncio import Redis

from artboard.auth.schemas import RegisterRequest
from artboard.config import Settings, prepare_data_dir, sqlite_path
from artboard.db import create_engine, transaction
from artboard.errors import AppError
from artboard.kit.signing import UrlSigner
from artboard.media.storage import build_storage
from artboard.resources import open_resources, running
from artboard.system.service import database_health

# Secrets are never printed; an unset one shows what is used instead.
SECRET_FIELDS = {
    "secret_key": "(generated in data dir)",
    "s3_secret_access_key": "(not set: boto3's default chain)",
    "azure_storage_connection_string": "(not set)",
}


async def create_user(settings: Settings, email: str, password: str, username: str | None, admin: bool) -> str:
    try:
        request = RegisterRequest(email=email, password=password, username=username)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise ValueError(f"{error['loc'][0]}: {error['msg']}") from None
    try:
        async with open_resources(settings) as resources, transaction(resources.sessions) as db:
            user = await resources.accounts.register(
                db, str(request.email), request.password, username=request.username, role="admin" if admin else "user"
            )
            return user.id
    except AppError as exc:
        raise ValueError(exc.message) from None


# A worker still going this long after it was asked to stop writes every thread's stack to stderr (its log): on
# a loaded machine one has been seen to take over 30 s to go, for a reason not yet found.
STOP_REPORT_S = 15.0


async def run_worker(settings: Settings, started: Callable[[str], None]) -> None:
    """Run the job worker (and the maintenance beside it) with no HTTP until SIGTERM or SIGINT. On the way
    out the worker puts its running jobs back in the queue, so another worker starts them at once."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with open_resources(settings) as resources, running([resources.pubsub.run(), *resources.job_work()]):
            started(resources.worker.id)
            await stop.wait()
            faulthandler.dump_traceback_later(STOP_REPORT_S)  # the process ends with os._exit, report or not
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


@dataclass
class DoctorReport:
    lines: list[str] = field(default_factory=list)
    ok: bool = True

    def check(self, name: str, ok: bool, detail: str) -> None:
        self.lines.append(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}")
        self.ok = self.ok and ok

    def warn(self, name: str, detail: str) -> None:
        """Worth fixing, but the service runs: does not fail the report."""
        self.lines.append(f"warn {name}: {detail}")


def masked(settings: Settings) -> dict[str, str]:
    """Settings for display: secrets and URL passwords replaced."""
    from sqlalchemy.engine import make_url

    shown: dict[str, str] = {}
    for name, value in settings.model_dump().items():
        if name in SECRET_FIELDS:
            shown[name] = "***" if value else SECRET_FIELDS[name]
        elif name in {"database_url", "redis_url"} and value:
            shown[name] = make_url(value).render_as_string(hide_password=True)
        else:
            shown[name] = str(value)
    return shown


async def doctor(settings: Settings) -> DoctorReport:
    report = DoctorReport(lines=[f"     {name} = {value}" for name, value in masked(settings).items()])
    try:
        prepare_data_dir(settings)
        probe = settings.data_dir / ".doctor-probe"
        probe.write_bytes(b"ok")
        probe.unlink()
        report.check("data dir", True, f"{settings.data_dir.resolve()} is writable")
    except OSError as exc:
        report.check("data dir", False, f"{settings.data_dir} is not writable ({exc.strerror})")
    _warn_if_shared(settings, report)
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
    if settings.broker == "azure":
        await _check_azure_queue(settings, report)
    return report


def _warn_if_shared(settings: Settings, report: DoctorReport) -> None:
    """Artboard creates these private; one made earlier, or by hand, may be open to other local users."""
    private = [("data dir", settings.data_dir, "700"), ("secret", settings.data_dir / "secret.key", "600")]
    if (database := sqlite_path(settings.database_url)) is not None:
        private.append(("database", database, "600"))
    for name, path, mode_wanted in private:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError:  # missing: nothing to expose
            continue
        if mode & 0o077:
            where = path.resolve()
            report.warn(name, f"{where} is open to group/others (mode {mode:04o}); run: chmod {mode_wanted} {where}")


async def _check_bucket(settings: Settings, report: DoctorReport) -> None:
    storage = build_storage(settings, UrlSigner("doctor", "storage"))
    try:
        await storage.put(".doctor-probe", b"ok", "text/plain")
        await storage.delete(".doctor-probe")
        report.check("storage", True, f"s3 bucket {settings.s3_bucket} is writable")
    except Exception as exc:  # any failure is reported, not raised
        report.check("storage", False, f"s3 bucket {settings.s3_bucket} is not usable ({type(exc).__name__})")


async def _check_azure_queue(settings: Settings, report: DoctorReport) -> None:
    """The broker's queue answers (a missing one is fine: the first worker creates it)."""
    from azure.core.exceptions import ResourceNotFoundError

    from artboard.jobs.broker_azure import queue_client

    name = settings.azure_queue_name
    connection_string = settings.azure_storage_connection_string or ""  # set: the settings require it here
    try:
        async with queue_client(connection_string, name) as client:
            try:
                properties = await client.get_queue_properties()
                report.check("azure queue", True, f"{name} answers ({properties.approximate_message_count} messages)")
            except ResourceNotFoundError:
                report.check("azure queue", True, f"the account answers; {name} is created when a worker starts")
    except Exception as exc:  # any failure is reported, not raised
        report.check("azure queue", False, f"{name} is not usable ({type(exc).__name__})")

"""``artboard serve | worker | migrate | user create | doctor``: parse arguments, call the service, report."""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from artboard.config import ConfigError, Settings, load_settings
from artboard.kit.heap import settle_after_startup
from artboard.logs import configure_logging


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings(**_overrides(args))
    except ConfigError as exc:
        print(f"artboard: {exc}", file=sys.stderr)
        return 2
    result: int = args.handler(settings, args)
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="artboard", description="Artboard: a backend for AI-image apps.")
    parser.add_argument("--data-dir", type=Path, help="where the SQLite file, secret and files live")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the HTTP server")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--data-dir", type=Path, dest="serve_data_dir")
    serve.add_argument("--no-worker", action="store_true", help="do not run job workers in this process")
    serve.add_argument(
        "--workers", type=int, default=1, help="server processes sharing the port (more than 1 needs REDIS_URL)"
    )
    serve.set_defaults(handler=_serve)

    worker = commands.add_parser(
        "worker", help="run job workers only (no HTTP), sharing the database, broker and storage with the servers"
    )
    worker.add_argument("--concurrency", type=int, help="jobs run at once (default MAX_CONCURRENT_TASKS)")
    worker.set_defaults(handler=_worker)

    migrate = commands.add_parser("migrate", help="apply database migrations")
    migrate.set_defaults(handler=_migrate)

    user = commands.add_parser("user", help="manage users").add_subparsers(required=True, metavar="ACTION")
    create = user.add_parser("create", help="create a user")
    create.add_argument("email")
    create.add_argument("--password", required=True)
    create.add_argument("--username")
    create.add_argument("--admin", action="store_true")
    create.set_defaults(handler=_user_create)

    doctor = commands.add_parser("doctor", help="show configuration and check every dependency is reachable")
    doctor.set_defaults(handler=_doctor)
    return parser


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    data_dir = getattr(args, "serve_data_dir", None) or args.data_dir
    overrides = {"host": getattr(args, "host", None), "port": getattr(args, "port", None), "data_dir": data_dir}
    if getattr(args, "no_worker", False):
        overrides["run_worker"] = False
    if getattr(args, "concurrency", None) is not None:
        overrides["max_concurrent_tasks"] = args.concurrency
    return overrides


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from artboard.app import create_app
    from artboard.kit.limits import server_options

    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "log_level": settings.log_level,
        "server_header": False,
        **server_options(),
    }
    if args.workers < 1:
        print("artboard: --workers must be at least 1", file=sys.stderr)
        return 2
    if args.workers > 1 and not settings.redis_url:
        # Login throttling and token revocations must be shared between the processes.
        print("artboard: --workers above 1 needs REDIS_URL (or ARTBOARD_REDIS_URL)", file=sys.stderr)
        return 2
    if (problem := _cannot_listen(settings.host, settings.port)) is not None:
        print(f"artboard: {problem}", file=sys.stderr)
        return 2
    _announce_when_listening(settings.host, settings.port, _first_run_announcement(settings))
    if args.workers == 1:
        configure_logging(settings.log_level)
        app = create_app(settings)
        settle_after_startup()
        uvicorn.run(app, **options)
        return 0
    _prepare_for_workers(settings)
    uvicorn.run("artboard.app:app_from_environment", factory=True, workers=args.workers, **options)
    return 0


def _cannot_listen(host: str, port: int) -> str | None:
    """Why the server could not listen on host:port, found before migrations run; None when it can."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is no obstacle
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return f"port {port} is already in use; choose another with --port or PORT"
            return f"cannot listen on {host}:{port} ({exc.strerror})"
    return None


def _announce_when_listening(host: str, port: int, then: Callable[[str], str | None] | None = None) -> None:
    """Print where to go once the server accepts connections: after its startup, once however many workers."""
    url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def wait() -> None:
        while True:
            try:
                socket.create_connection((host, port), timeout=1).close()
            except OSError:
                time.sleep(0.05)
                continue
            after = then(url) if then is not None else None  # printed with it: a reader sees both or neither
            print(f"artboard: listening on {url} (API docs: {url}/docs)" + (f"\n{after}" if after else ""), flush=True)
            return

    threading.Thread(target=wait, name="artboard-announce", daemon=True).start()


def _first_run_announcement(settings: Settings) -> Callable[[str], str | None]:
    """Issue this process's first-run token (see auth/first_run.py); once listening, the line with its one-time
    link if the server has no admin yet."""
    from artboard.auth.first_run import TOKEN_LIFETIME_S, TOKENS, needs_first_admin

    token = TOKENS.issue()

    def announce(url: str) -> str | None:
        try:
            if not asyncio.run(needs_first_admin(settings.database_url)):
                return None
        except Exception as exc:  # the server runs on; only the link is not printed
            return f"artboard: could not check whether the server has an admin ({exc})"
        base = (settings.public_url or url).rstrip("/")
        return (
            f"artboard: no admin yet: open {base}/#first-run={token} to create the first one "
            f"(works once, for {TOKEN_LIFETIME_S // 60} minutes)"
        )

    return announce


def _prepare_for_workers(settings: Settings) -> None:
    """Do once what every process would otherwise race to do, and hand the flags on as variables."""
    from artboard.config import ensure_secret, prepare_data_dir
    from artboard.migrate import upgrade

    configure_logging(settings.log_level)
    prepare_data_dir(settings)
    ensure_secret(settings)
    upgrade(settings.database_url)
    os.environ.update(
        {
            "ARTBOARD_HOST": settings.host,
            "ARTBOARD_PORT": str(settings.port),
            "ARTBOARD_DATA_DIR": str(settings.data_dir),
            "ARTBOARD_DATABASE_URL": settings.database_url,
            "ARTBOARD_RUN_WORKER": str(settings.run_worker).lower(),
        }
    )


def _worker(settings: Settings, _args: argparse.Namespace) -> int:
    from artboard.ops import run_worker

    configure_logging(settings.log_level)

    def started(worker_id: str) -> None:
        slots, broker = settings.max_concurrent_tasks, settings.broker
        print(f"artboard: worker {worker_id} running up to {slots} jobs at once (broker: {broker})", flush=True)

    settle_after_startup()
    asyncio.run(run_worker(settings, started))
    print("artboard: worker stopped; its running jobs went back to the queue", flush=True)
    # Its jobs are back in the database and its connections closed. Left to the interpreter, the exit waits for
    # every thread still finishing work that no longer counts (a job's output being decoded, say), and a stopped
    # worker once took over 30 s to go under load. Nothing of this process is needed any more: leave now.
    logging.shutdown()
    sys.stderr.flush()
    os._exit(0)


def _migrate(settings: Settings, _args: argparse.Namespace) -> int:
    from artboard.config import prepare_data_dir
    from artboard.migrate import upgrade

    prepare_data_dir(settings)
    upgrade(settings.database_url)
    print("artboard: database is up to date")
    return 0


def _user_create(settings: Settings, args: argparse.Namespace) -> int:
    from artboard.ops import create_user

    try:
        user_id = asyncio.run(create_user(settings, args.email, args.password, args.username, args.admin))
    except ValueError as exc:
        print(f"artboard: {exc}", file=sys.stderr)
        return 1
    print(f"artboard: created user {user_id} ({args.email})")
    return 0


def _doctor(settings: Settings, _args: argparse.Namespace) -> int:
    from artboard.ops import doctor

    report = asyncio.run(doctor(settings))
    for line in report.lines:
        print(line)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())

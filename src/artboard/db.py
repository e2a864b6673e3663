"""Database engine and sessions. The request owns the transaction: commit on success, roll back on error."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from artboard.errors import AppError
from artboard.kit.sqlite_driver import InlineDBAPI

log = logging.getLogger("artboard.db")


def create_engine(database_url: str, *, pooled: bool = True) -> AsyncEngine:
    """The service's engine; ``pooled=False`` gives one that opens a connection per use, for the short side
    transactions that must not wait on the request pool they are called from.
    Statement parameters are never put into error messages or logs (they may hold password hashes)."""
    pool: dict[str, Any] = {} if pooled else {"poolclass": NullPool}
    if database_url.startswith("sqlite"):
        engine = create_async_engine(
            database_url, module=InlineDBAPI(), connect_args={"timeout": 30}, hide_parameters=True, **pool
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    sizes = {"pool_size": 10, "max_overflow": 20} if pooled else {}
    return create_async_engine(database_url, pool_pre_ping=True, hide_parameters=True, **sizes, **pool)


AFTER_COMMIT = "artboard.after_commit"
BEFORE_COMMIT = "artboard.before_commit"


def upsert(db: AsyncSession, table: Any) -> postgresql.Insert:
    """The INSERT of the session's own database for ``table`` (an ORM class or a table), which can say what to
    do ``on_conflict_do_update``: SQLite's and PostgreSQL's take the same arguments."""
    target: Table = getattr(table, "__table__", table)
    if db.get_bind().dialect.name == "postgresql":
        return postgresql.insert(target)
    return sqlite.insert(target)  # type: ignore[return-value]  # the same interface, SQLite's spelling


def before_commit(session: AsyncSession, callback: Callable[[], Awaitable[None]]) -> None:
    """Run ``callback`` as the last work of this session's transaction, once the handler has returned (its reply
    rendered), right before the commit."""
    session.info.setdefault(BEFORE_COMMIT, []).append(callback)


def after_commit(session: AsyncSession, callback: Callable[[], Awaitable[None]]) -> None:
    """Run ``callback`` after this session's transaction commits, e.g. deleting a file the new rows replace."""
    session.info.setdefault(AFTER_COMMIT, []).append(callback)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers run beside the writer; foreign keys are off by default in SQLite. SQLite never waits
    for a lock in the event loop's thread: the driver waits in its own (``kit/sqlite_driver.py``)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=0")
    cursor.close()


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One session per request: committed when the handler returns, rolled back when it raises.

    Work registered with ``after_commit`` runs only once the commit succeeded (and never on rollback).
    """
    async with factory() as session:
        try:
            yield session
        except AppError as exc:
            await (_commit(session) if exc.commit else session.rollback())
            raise
        except BaseException:
            await session.rollback()
            raise
        await _commit(session)


async def _commit(session: AsyncSession) -> None:
    try:
        for work in session.info.pop(BEFORE_COMMIT, []):
            await work()
    except BaseException:
        await session.rollback()
        raise
    await session.commit()
    for callback in session.info.pop(AFTER_COMMIT, []):
        try:
            await callback()
        except Exception:  # the commit stands; what a callback leaves undone, maintenance finishes
            log.exception("after-commit work failed")

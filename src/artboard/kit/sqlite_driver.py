"""SQLite through aiosqlite, with each statement run where it costs least.

SQLAlchemy's aiosqlite adapter goes to aiosqlite's thread four times for every statement (open a cursor, run it,
fetch the rows, close the cursor), and even one trip (a queue put, a thread wake-up, an event-loop wake-up) costs
about 0.2 ms on a 2-core machine, where the statement itself takes microseconds: an indexed read or write, or a
commit in WAL mode without fsync. So a statement, its fetch and the commit run right here in the event loop's
thread, and SQLite never waits here: the connection's busy timeout is 0. When SQLite would have to wait for a lock
another process holds, the statement fails at once without effect and goes to aiosqlite's thread instead, to wait
there up to the connection's ``timeout`` while the event loop goes on.

Writers of one database file in this process queue for it here, first come first served: a transaction takes
the file's write lock (an ``asyncio.Lock``) before its first write and gives it back when it commits or rolls
back. Left to SQLite, a writer that finds the file locked sleeps in its busy handler (1, 2, 5 … 100 ms) and
newcomers overtake it; under a steady stream of submits a claim round waited seconds. Waiting longer than the
connection's ``timeout`` fails as SQLite would (``database is locked``). A connection ended any way (commit,
rollback, close, or terminated after its task was cancelled mid-statement) gives the lock back.

Checkpoints (copying the write-ahead log back into the database file, with an fsync) run in a thread of their
own: SQLite would run one inside the commit that fills the log to 1,000 pages, that is in the event loop's thread,
holding every request and job still for it. Measured on the job path: 3-7 ms (once 20 ms) every ~200 commits.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
import sqlite3
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, TypeVar, cast

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

T = TypeVar("T")

log = logging.getLogger("artboard.db")

# Commits of this process to one database file between two checkpoints: about what SQLite's own 1,000-page
# threshold comes to for job submits.
CHECKPOINT_EVERY_COMMITS = 200


class _Ran(NamedTuple):
    description: Any
    rowcount: int
    lastrowid: int | None
    rows: list[Any]


def _run(connection: sqlite3.Connection, *, operation: str, parameters: Any, many: bool) -> _Ran:
    """The whole life of one cursor."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        else:
            cursor.execute(operation, parameters)
        rows = cursor.fetchall() if cursor.description else []
        return _Ran(cursor.description, cursor.rowcount, cursor.lastrowid, rows)
    finally:
        cursor.close()


def _waiting(connection: sqlite3.Connection, work: Callable[[sqlite3.Connection], T], wait_ms: int) -> T:
    """In aiosqlite's thread: ``work``, allowed to wait ``wait_ms`` for another process's lock."""
    connection.execute(f"PRAGMA busy_timeout = {wait_ms:d}")
    try:
        return work(connection)
    finally:
        connection.execute("PRAGMA busy_timeout = 0")


def _busy(error: sqlite3.OperationalError) -> bool:
    """SQLite refused to wait for a lock (busy timeout 0): nothing was done, and the same call may wait."""
    return getattr(error, "sqlite_errorcode", None) is not None and error.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY


class InlineCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ("_arraysize", "_description", "_lastrowid", "_rowcount")
    _awaitable_cursor_close = False  # nothing stays open in the thread

    def __init__(self, adapt_connection: Any) -> None:  # no trip: the cursor is made where it runs
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        self._take(operation, () if parameters is None else parameters, many=False)

    def executemany(self, operation: Any, seq_of_parameters: Sequence[Any]) -> Any:
        self._take(operation, seq_of_parameters, many=True)

    def _take(self, operation: str, parameters: Any, *, many: bool) -> None:
        try:
            connection = cast(InlineConnection, self._adapt_connection)
            if not connection.writing and operation.lstrip()[:6].upper() in WRITES:
                await_(connection.take_write_lock())
            ran = connection.run(functools.partial(_run, operation=operation, parameters=parameters, many=many))
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        self._description, self._rowcount, self._lastrowid = ran.description, ran.rowcount, ran.lastrowid
        self._rows = collections.deque(ran.rows)

    async def _async_soft_close(self) -> None:
        return None

    def close(self) -> None:
        self._rows.clear()


# The statements that take SQLite's write lock (the first of them in a transaction begins it).
WRITES = frozenset({"INSERT", "UPDATE", "DELETE", "REPLAC", "CREATE", "ALTER ", "DROP T", "DROP I"})

# Each event loop's write locks, by database file (an asyncio.Lock belongs to the loop it is used in).
_write_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


class _Checkpoints:
    """A PASSIVE checkpoint of one database file every ``CHECKPOINT_EVERY_COMMITS`` commits, in a thread of its
    own (started for it: fork-safe, and a thread a few hundred commits costs nothing) on a connection of its own:
    it waits for nobody, and readers and writers go on beside it. One still running when the next is due lets
    that one pass."""

    def __init__(self, database: str, uri: bool) -> None:
        self._database = database
        self._uri = uri
        self._commits = 0
        self._running = False

    def committed(self) -> None:
        self._commits += 1
        if self._commits < CHECKPOINT_EVERY_COMMITS or self._running:
            return
        self._commits = 0
        self._running = True
        threading.Thread(target=self._checkpoint_once, name="sqlite-checkpoint", daemon=True).start()

    def _checkpoint_once(self) -> None:
        try:
            self._checkpoint()
        except sqlite3.Error as error:
            log.warning("checkpoint of the SQLite database failed (the next one tries again): %s", error)
        finally:
            self._running = False

    def _checkpoint(self) -> None:
        with contextlib.closing(sqlite3.connect(self._database, uri=self._uri)) as connection:
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)")


_checkpoints: dict[str, _Checkpoints] = {}


class InlineConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("_checkpoints", "_database", "_held", "_lock_timeout_s")
    _cursor_cls = InlineCursor

    def __init__(self, dbapi: Any, connection: Any, database: str, uri: bool, lock_timeout_s: float) -> None:
        super().__init__(dbapi, connection)
        self._database = database
        self._lock_timeout_s = lock_timeout_s
        self._held: asyncio.Lock | None = None  # its file's write lock, once a write of this transaction ran
        self._checkpoints = _checkpoints.setdefault(database, _Checkpoints(database, uri))
        self.run(lambda sqlite: sqlite.execute("PRAGMA wal_autocheckpoint = 0"))  # ours run in their own thread

    @property
    def writing(self) -> bool:
        return self._held is not None

    async def take_write_lock(self) -> None:
        locks = _write_locks.setdefault(asyncio.get_running_loop(), {})
        lock = locks.setdefault(self._database, asyncio.Lock())
        try:
            async with asyncio.timeout(self._lock_timeout_s):
                await lock.acquire()
        except TimeoutError:
            raise sqlite3.OperationalError("database is locked") from None
        self._held = lock

    def _give_back_write_lock(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            held.release()

    def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """``work`` on the SQLite connection here in the event loop's thread; if SQLite would wait for another
        process's lock, in aiosqlite's thread, where waiting holds nothing else up."""
        # SQLAlchemy's async layer checks that each execution awaited something (else AwaitRequired), so even a
        # statement that never waits goes through await_.
        return await_(self._perform(work))

    async def _perform(self, work: Callable[[sqlite3.Connection], T]) -> T:
        connection = cast(aiosqlite.Connection, self._connection)
        try:
            return work(connection._conn)
        except sqlite3.OperationalError as error:
            if not _busy(error):
                raise
        wait_ms = round(self._lock_timeout_s * 1000)
        waited: T = await connection._execute(_waiting, connection._conn, work, wait_ms)  # type: ignore[no-untyped-call]
        return waited

    def commit(self) -> None:
        if self._end(sqlite3.Connection.commit):
            self._checkpoints.committed()

    def rollback(self) -> None:
        self._end(sqlite3.Connection.rollback)

    def _end(self, end: Callable[[sqlite3.Connection], None]) -> bool:
        """Commit or roll back (``end``) what this transaction began, then give the file's write lock back;
        whether there was anything to end."""
        try:
            if not self._in_transaction():
                return False
            self.run(end)
            return True
        except Exception as error:
            self._handle_exception(error)
        finally:
            self._give_back_write_lock()

    def _in_transaction(self) -> bool:
        """Whether SQLite has a transaction open here. A session that only read has none (SQLite's module
        begins one at the first write), and ending it would be work for nothing."""
        try:
            return bool(self._connection._conn.in_transaction)
        except ValueError:  # aiosqlite has no connection open: let SQLAlchemy's own call say so
            return True

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._give_back_write_lock()

    def terminate(self) -> None:
        """How SQLAlchemy ends a connection invalidated mid-statement (its task was cancelled) or left to the
        garbage collector: the write lock goes back with it, or every writer of the file would wait for ever."""
        try:
            super().terminate()
        finally:
            self._give_back_write_lock()


class InlineDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def __init__(self) -> None:
        super().__init__(aiosqlite, sqlite3)

    def connect(self, *arg: Any, **kw: Any) -> InlineConnection:
        # Opened in aiosqlite's thread and used in the event loop's as well, one call at a time.
        adapted = super().connect(*arg, **{**kw, "check_same_thread": False})
        database = str(arg[0] if arg else kw.get("database", ""))
        uri = bool(kw.get("uri", False))
        return InlineConnection(self, adapted._connection, database, uri, float(kw.get("timeout", 5.0)))

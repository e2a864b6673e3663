"""Artboard's SQLite driver answers SQLAlchemy exactly as its own aiosqlite one does, runs statements in the
event loop's thread, and waits for locks without holding the loop up."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from artboard.db import create_engine
from artboard.kit import sqlite_driver
from artboard.kit.sqlite_driver import InlineDBAPI

KINDS = ["artboard", "sqlalchemy"]


def run_on(kind: str, tmp_path: Path, scenario: Callable[[AsyncEngine], Awaitable[None]]) -> None:
    """``scenario`` on Artboard's SQLite engine, or on SQLAlchemy's own aiosqlite one to compare with, over a
    table ``t`` holding (a, 1), (b, 2), (c, 3)."""

    async def main() -> None:
        url = f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}"
        engine = create_engine(url) if kind == "artboard" else create_async_engine(url)
        try:
            async with engine.begin() as connection:
                await connection.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE, n INTEGER)"))
                await connection.execute(text("INSERT INTO t (name, n) VALUES ('a', 1), ('b', 2), ('c', 3)"))
            await scenario(engine)
        finally:
            await engine.dispose()

    asyncio.run(main())


SCENARIOS: list[tuple[str, str, dict[str, Any], list[tuple[Any, ...]], int]] = [
    # statement, parameters, rows returned, rowcount
    ("select every row", "SELECT name, n FROM t ORDER BY id", {}, [("a", 1), ("b", 2), ("c", 3)], -1),
    ("select with a parameter", "SELECT name FROM t WHERE n > :n ORDER BY id", {"n": 1}, [("b",), ("c",)], -1),
    ("select nothing", "SELECT name FROM t WHERE n > 10", {}, [], -1),
    ("update some rows", "UPDATE t SET n = n + 1 WHERE n >= :n", {"n": 2}, [], 2),
    ("update with returning", "UPDATE t SET n = 0 WHERE name = 'a' RETURNING name, n", {}, [("a", 0)], -1),
    ("delete one row", "DELETE FROM t WHERE name = :name", {"name": "c"}, [], 1),
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("statement", "parameters", "rows", "rowcount"),
    [scenario[1:] for scenario in SCENARIOS],
    ids=[scenario[0] for scenario in SCENARIOS],
)
def test_a_statement_gives_its_rows_and_rowcount(
    kind: str,
    tmp_path: Path,
    statement: str,
    parameters: dict[str, Any],
    rows: list[tuple[Any, ...]],
    rowcount: int,
) -> None:
    async def scenario(engine: AsyncEngine) -> None:
        async with engine.begin() as connection:
            result = await connection.execute(text(statement), parameters)
            returned = [tuple(row) for row in result] if result.returns_rows else []
            assert returned == rows
            if rowcount >= 0:
                assert result.rowcount == rowcount

    run_on(kind, tmp_path, scenario)


@pytest.mark.parametrize("kind", KINDS)
def test_an_insert_knows_its_row_id_and_many_rows_go_in_one_call(kind: str, tmp_path: Path) -> None:
    async def scenario(engine: AsyncEngine) -> None:
        async with engine.begin() as connection:
            one = await connection.execute(text("INSERT INTO t (name, n) VALUES ('d', 4)"))
            assert one.lastrowid == 4
            many = [{"name": "e", "n": 5}, {"name": "f", "n": 6}]
            await connection.execute(text("INSERT INTO t (name, n) VALUES (:name, :n)"), many)
            assert (await connection.execute(text("SELECT count(*) FROM t"))).scalar_one() == 6

    run_on(kind, tmp_path, scenario)


@pytest.mark.parametrize("kind", KINDS)
def test_errors_are_sqlalchemys_and_leave_the_transaction_usable(kind: str, tmp_path: Path) -> None:
    async def scenario(engine: AsyncEngine) -> None:
        async with engine.begin() as connection:
            with pytest.raises(IntegrityError):
                await connection.execute(text("INSERT INTO t (name, n) VALUES ('a', 9)"))
            with pytest.raises(OperationalError):
                await connection.execute(text("SELECT nope FROM t"))
            assert (await connection.execute(text("SELECT count(*) FROM t"))).scalar_one() == 3

    run_on(kind, tmp_path, scenario)


@pytest.mark.parametrize("kind", KINDS)
def test_a_rolled_back_transaction_leaves_nothing(kind: str, tmp_path: Path) -> None:
    async def scenario(engine: AsyncEngine) -> None:
        async with engine.connect() as connection:
            transaction = await connection.begin()
            await connection.execute(text("DELETE FROM t"))
            await transaction.rollback()
            assert (await connection.execute(text("SELECT count(*) FROM t"))).scalar_one() == 3

    run_on(kind, tmp_path, scenario)


# ---- writers of one file queue in this process ----------------------------------------------------------------


def test_writers_queue_first_come_first_served_and_readers_do_not_wait(tmp_path: Path) -> None:
    """Ten transactions write at once: each waits its turn (none fails with "database is locked"), they get
    it in the order they asked, and a reader runs while a writer holds the file."""

    async def scenario(engine: AsyncEngine) -> None:
        order: list[int] = []
        # Opened up front, so each writer's first step is asking for the lock (opening one takes varying time).
        connections = [await engine.connect() for _ in range(10)]
        try:

            async def writer(index: int) -> None:
                await connections[index].execute(text("UPDATE t SET n = n + 1 WHERE name = 'b'"))
                order.append(index)
                await connections[index].commit()

            async with engine.connect() as holder:
                await holder.execute(text("UPDATE t SET n = n + 1 WHERE name = 'a'"))  # holds the write lock
                writers = []
                for index in range(10):
                    writers.append(asyncio.create_task(writer(index)))
                    await asyncio.sleep(0.001)  # they ask one after the other
                async with engine.connect() as reader:
                    assert (await reader.execute(text("SELECT n FROM t WHERE name = 'b'"))).scalar_one() == 2
                assert order == []
                await holder.commit()
                await asyncio.gather(*writers)
        finally:
            for connection in connections:
                await connection.close()
        assert order == list(range(10))
        async with engine.connect() as reader:
            assert (await reader.execute(text("SELECT n FROM t WHERE name = 'b'"))).scalar_one() == 12

    run_on("artboard", tmp_path, scenario)


def test_a_writer_that_waits_longer_than_its_timeout_fails_as_sqlite_would(tmp_path: Path) -> None:
    async def scenario(_engine: AsyncEngine) -> None:
        impatient = create_async_engine(
            f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}", module=InlineDBAPI(), connect_args={"timeout": 0.2}
        )
        try:
            async with impatient.connect() as holder:
                await holder.execute(text("DELETE FROM t WHERE name = 'c'"))
                with pytest.raises(OperationalError, match="database is locked"):
                    async with impatient.begin() as waiting:
                        await waiting.execute(text("UPDATE t SET n = 0"))
                await holder.rollback()
            async with impatient.begin() as connection:  # the lock was given back
                assert (await connection.execute(text("UPDATE t SET n = 0"))).rowcount == 3
        finally:
            await impatient.dispose()

    run_on("artboard", tmp_path, scenario)


@pytest.mark.parametrize(
    ("work", "total_after"),
    [("SELECT n FROM t", 6), ("UPDATE t SET n = n + 1", 9), ("INSERT INTO t (name, n) VALUES ('d', 4)", 10)],
)
def test_statements_and_commits_run_without_a_trip_to_sqlites_thread(
    work: str, total_after: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario(engine: AsyncEngine) -> None:
        trips = count_trips(monkeypatch)
        async with engine.connect() as connection:
            await connection.execute(text(work))
            await connection.commit()
        async with engine.connect() as connection:  # what was committed is there, and the pool is usable
            assert (await connection.execute(text("SELECT sum(n) FROM t"))).scalar_one() == total_after
        assert trips == []

    run_on("artboard", tmp_path, scenario)


@pytest.mark.parametrize(("timeout_s", "outcome"), [(10, "written"), (0.3, "database is locked")])
def test_a_write_waiting_for_another_process_waits_in_sqlites_thread(
    timeout_s: float, outcome: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process holds the file's lock: the write waits for it in aiosqlite's thread while the event loop
    goes on, and gets it when the other commits, or fails as SQLite would once its timeout has passed."""

    async def scenario(_engine: AsyncEngine) -> None:
        engine = create_async_engine(
            f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}",
            module=InlineDBAPI(),
            connect_args={"timeout": timeout_s},
        )
        other = sqlite3.connect(tmp_path / "driver.db", isolation_level=None)  # stands for another process
        try:
            async with engine.connect() as warm:  # the connection opened before the lock is taken
                await warm.execute(text("SELECT 1"))
            trips = count_trips(monkeypatch)
            other.execute("BEGIN IMMEDIATE")
            other.execute("UPDATE t SET n = 100 WHERE name = 'a'")

            async def write() -> str:
                try:
                    async with engine.begin() as connection:
                        await connection.execute(text("UPDATE t SET n = n + 1 WHERE name = 'b'"))
                except OperationalError as error:
                    return "database is locked" if "database is locked" in str(error) else str(error)
                return "written"

            writing = asyncio.create_task(write())
            ticks = 0
            while not writing.done() and ticks < 25:  # the event loop is not held up meanwhile
                await asyncio.sleep(0.02)
                ticks += 1
            other.execute("COMMIT")
            assert await writing == outcome
            assert ticks == 25 if outcome == "written" else ticks < 25  # waited until the commit, or gave up
            assert "_waiting" in trips
            async with engine.connect() as connection:
                rows = (await connection.execute(text("SELECT name, n FROM t WHERE name IN ('a', 'b')"))).all()
            assert dict(rows) == {"a": 100, "b": 3 if outcome == "written" else 2}
        finally:
            other.close()
            await engine.dispose()

    run_on("artboard", tmp_path, scenario)


def count_trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the functions sent to aiosqlite's thread from now on."""
    trips: list[str] = []
    calls = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, function: Any, *args: Any) -> Any:
        trips.append(getattr(function, "__name__", "?"))
        return await calls(self, function, *args)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return trips


@pytest.mark.parametrize("cancelled", ["between statements", "while waiting for another process's lock"])
def test_a_writer_cancelled_gives_the_write_lock_back_and_keeps_nothing(cancelled: str, tmp_path: Path) -> None:
    """A task cancelled inside its transaction (a client gone, a worker stopping) must not leave the file's
    write lock taken: every later writer of the process would wait for it, then fail as locked."""

    async def scenario(_engine: AsyncEngine) -> None:
        impatient = create_async_engine(
            f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}", module=InlineDBAPI(), connect_args={"timeout": 5}
        )
        other = sqlite3.connect(tmp_path / "driver.db", isolation_level=None)  # stands for another process
        began = asyncio.Event()

        async def writer() -> None:
            async with impatient.begin() as connection:
                began.set()
                await connection.execute(text("INSERT INTO t (name, n) VALUES ('d', 4)"))
                await asyncio.sleep(10)

        try:
            if cancelled != "between statements":
                other.execute("BEGIN IMMEDIATE")  # the insert waits for it in aiosqlite's thread
            task = asyncio.create_task(writer())
            await began.wait()
            await asyncio.sleep(0.1)
            task.cancel()
            if other.in_transaction:
                other.execute("ROLLBACK")
            await asyncio.gather(task, return_exceptions=True)
            async with impatient.begin() as connection:  # does not wait for a lock nobody holds
                assert (await connection.execute(text("UPDATE t SET n = 0"))).rowcount == 3  # 'd' is not there
        finally:
            other.close()
            await impatient.dispose()

    run_on("artboard", tmp_path, scenario)


def test_checkpoints_run_in_their_own_thread_and_keep_the_log_short(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite's own checkpoints are off (they would run inside a commit, in the event loop's thread); the
    driver's run in a thread of their own and keep the write-ahead log from growing with every commit."""
    threads: list[str] = []
    checkpoint = sqlite_driver._Checkpoints._checkpoint

    def recorded(self: Any) -> None:
        threads.append(threading.current_thread().name)
        checkpoint(self)

    monkeypatch.setattr(sqlite_driver._Checkpoints, "_checkpoint", recorded)

    def log_bytes_after_commits(every_commits: int, run: str) -> int:
        monkeypatch.setattr(sqlite_driver, "CHECKPOINT_EVERY_COMMITS", every_commits)
        (tmp_path / run).mkdir()
        wal_bytes: list[int] = []

        async def scenario(engine: AsyncEngine) -> None:
            for n in range(200):
                async with engine.begin() as connection:
                    await connection.execute(
                        text("INSERT INTO t (name, n) VALUES (:name, :n)"), {"name": f"{n}", "n": n}
                    )
                await asyncio.sleep(0.001)  # time for a checkpoint begun meanwhile
            async with engine.connect() as connection:
                assert (await connection.execute(text("PRAGMA wal_autocheckpoint"))).scalar_one() == 0
            wal_bytes.append((tmp_path / run / "driver.db-wal").stat().st_size)  # before the last close removes it

        run_on("artboard", tmp_path / run, scenario)
        return wal_bytes[0]

    unchecked = log_bytes_after_commits(10**9, "never")
    assert threads == []
    checked = log_bytes_after_commits(10, "every-10")
    assert threads and set(threads) == {"sqlite-checkpoint"}
    assert checked < unchecked / 4

"""The DuckDB file: one writer thread that group-commits, and reads on per-thread cursors.

Every write in the collector goes through Database.write(); it is answered only after its
transaction committed. Reads run in a small thread pool, never on the event loop. Nothing
outside store/ touches duckdb directly.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import duckdb
from kate.collector.config import QueueConfig, StorageConfig
from kate.collector.errors import Overloaded, StoreUnavailable
from kate.collector.store.duckdb.migrate import apply_migrations, texts_compressed
from kate.collector.store.duckdb.repair import RepairFailed, RepairRefused, repair, torn_block
from kate.collector.store.duckdb.writer import WriteOp, WriterThread

logger = logging.getLogger(__name__)
T = TypeVar("T")
ReadFn = Callable[[duckdb.DuckDBPyConnection], T]
_INTERRUPT_EVERY_S = 0.05


class Database:
    """Owns the connection, the writer thread and the read pool of one DuckDB file."""

    def __init__(self, path: str | Path, settings: StorageConfig, queue: QueueConfig | None = None) -> None:
        self.path = Path(path)
        self.settings = settings
        self.queue = queue or QueueConfig()  # the write queue's bounds
        self._connection: duckdb.DuckDBPyConnection | None = None
        self._writer: WriterThread | None = None
        self._reader_pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._reader_cursors = threading.local()

    def open(self) -> None:
        """Open (creating or upgrading) the file and start the writer. Blocking."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._connection = connect(self.path, self.settings)
        except StoreUnavailable as exc:
            if not (self.settings.repair_on_start and torn_block(exc)):
                raise
            self._connection = self._repair_and_connect()
        apply_migrations(self._connection, compress_text=self.settings.compress_text)
        if texts_compressed(self._connection) != self.settings.compress_text:
            logger.warning("storage.compress_text is %s, but %s was created with the span texts %s; it keeps them so "
                           "(the setting applies to new files)", self.settings.compress_text, self.path,
                           "uncompressed" if self.settings.compress_text else "compressed")
        self._writer = WriterThread(self._connection.cursor(), self.settings, self.queue, wal_path=Path(f"{self.path}.wal"))
        self._writer.start()
        self._reader_pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=self.settings.read_threads, thread_name_prefix="kate-read"
        )
        logger.info("opened DuckDB file %s", self.path)

    def _repair_and_connect(self) -> duckdb.DuckDBPyConnection:
        """storage.repair_on_start: what `kate repair` does, then open the file again."""
        logger.warning("DuckDB file %s was torn during a checkpoint; repairing it (storage.repair_on_start)", self.path)
        try:
            report = repair(self.path, memory_limit=self.settings.memory_limit)
        except (RepairRefused, RepairFailed) as exc:
            raise StoreUnavailable(f"cannot repair DuckDB file {self.path}: {exc}") from exc
        logger.warning("repaired %s (blocks at %s); every row reads back: %s; the file as it was is kept at %s",
                       self.path, report.patched_locations, report.rows_by_table, report.backup)
        return connect(self.path, self.settings)

    def close(self) -> None:
        """Drain pending writes, stop the threads and close the file. Safe to call twice."""
        if self._writer is not None:
            self._writer.stop()
            self._writer = None
        if self._reader_pool is not None:
            self._reader_pool.shutdown(wait=True, cancel_futures=True)
            self._reader_pool = None
        if self._connection is not None:
            self._connection.close()  # a clean close checkpoints and removes the WAL
            self._connection = None

    @property
    def is_open(self) -> bool:
        return self._writer is not None and self._writer.is_alive()

    def write_queue(self) -> tuple[int, int]:
        """Writes waiting for the writer now: (count, estimated bytes); (0, 0) when closed."""
        return self._writer.queued() if self._writer is not None else (0, 0)

    def require_write_room(self) -> None:
        """Raise Overloaded when a write queued now would be refused (see WriterThread.require_room)."""
        self._require(self._writer).require_room()

    async def write(self, op: WriteOp[T], *, weight_bytes: int = 0) -> T:
        """Run op(txn) in the writer's next group transaction; return after COMMIT.

        Raises Overloaded at once when the queue is full, and when the commit has not happened
        within storage.commit_timeout_ms (the write may still commit later; retries are safe
        because spans are unique on (trace_id, span_id)).
        """
        writer = self._require(self._writer)
        future = writer.submit(op, weight_bytes, asyncio.get_running_loop())
        timeout_s = self.settings.commit_timeout_ms / 1000
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout_s)
        except TimeoutError:
            msg = f"commit did not finish within {self.settings.commit_timeout_ms} ms"
            raise Overloaded(msg, retry_after_s=self.queue.retry_after_s) from None

    async def read(self, fn: ReadFn[T], *, timeout_s: float | None = None) -> T:
        """Run fn(cursor) on a reader thread; interrupt the query after timeout_s."""
        pool = self._require(self._reader_pool)
        holder: dict[str, duckdb.DuckDBPyConnection] = {}
        timed_out = threading.Event()

        def run() -> T:
            if timed_out.is_set():  # it waited for a reader thread past its deadline: never start it
                raise TimeoutError
            holder["cursor"] = cursor = self._reader_cursor()
            return fn(cursor)

        task = asyncio.get_running_loop().run_in_executor(pool, run)
        if timeout_s is None:
            return await task
        try:
            return await asyncio.wait_for(asyncio.shield(task), timeout_s)
        except TimeoutError:
            timed_out.set()
            await _interrupt_until_done(task, holder)
            raise

    def _reader_cursor(self) -> duckdb.DuckDBPyConnection:
        cursor = getattr(self._reader_cursors, "cursor", None)
        if cursor is None:
            cursor = self._require(self._connection).cursor()
            self._reader_cursors.cursor = cursor
        return cursor

    @staticmethod
    def _require(value: T | None) -> T:
        if value is None:
            raise Overloaded("the store is not open (starting up or shutting down)")
        return value


async def _interrupt_until_done(task: asyncio.Future[Any], holder: dict[str, duckdb.DuckDBPyConnection]) -> None:
    """Interrupt the read's cursor until the read ends. One interrupt is not enough: DuckDB drops one
    that arrives while no statement runs (fn between two statements, or still in Python code), and
    the next statement would then run to its end."""
    while not task.done():
        if "cursor" in holder:
            holder["cursor"].interrupt()
        await asyncio.wait({task}, timeout=_INTERRUPT_EVERY_S)
    await asyncio.gather(task, return_exceptions=True)


def connect(path: Path, settings: StorageConfig, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB connection that never reaches the network (json and parquet are built in)."""
    config: dict[str, Any] = {
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "memory_limit": settings.memory_limit,
        "enable_external_access": False,  # analysis SQL must not read or write other files
        # No row-group merging at checkpoints: with it, a checkpoint re-compresses merged row
        # groups and its cost doubles every few checkpoints (0.2 s, 0.4, 0.8, 1.6, 4 s measured
        # with 32 MiB of WAL each); without it every checkpoint costs the same ~0.2 s. Spans are
        # never deleted, so there is no space to reclaim; row groups stay ~14k rows.
        "max_vacuum_tasks": 0,
    }
    try:
        connection = duckdb.connect(str(path), read_only=read_only, config=config)
    except duckdb.Error as exc:  # a torn checkpoint surfaces as a plain duckdb.Error, a lock as an IOException
        hint = (f" (a kill during a checkpoint tore it: `kate repair --db {path}` recovers it; or set"
                " storage.repair_on_start)") if torn_block(exc) else ""
        raise StoreUnavailable(f"cannot open DuckDB file {path}: {exc}{hint}") from exc
    if not read_only:
        connection.execute(f"SET wal_autocheckpoint = '{_size_literal(settings.wal_autocheckpoint)}'")
    # Last setting: from here no statement on any cursor (analysis SQL included) can change one.
    connection.execute("SET lock_configuration = true")
    return connection


def _size_literal(value: str) -> str:
    if not value.replace(" ", "").replace(".", "").isalnum():
        raise ValueError(f"storage.wal_autocheckpoint is not a size: {value!r}")
    return value


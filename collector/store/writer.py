"""The single writer: a thread that takes queued write ops and group-commits them.

Ops from many requests share one transaction and one columnar span insert; each op's future
is resolved only after COMMIT. When a group fails, it is rolled back and its ops are replayed
one by one so that one bad op never fails its neighbours. Must not be used from two threads.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import logging
import operator
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import duckdb

from kate.collector.config import StorageConfig
from kate.collector.errors import KateError, Overloaded
from kate.schema.record import SPAN_COLUMNS, SpanRecord

logger = logging.getLogger(__name__)
T = TypeVar("T")
_STAGING = "kate_span_staging"
_INSERT_COLUMNS = (*SPAN_COLUMNS, "received_at")


class WriteTxn:
    """What a write op sees: the writer's cursor inside an open transaction, and a span stage.

    Spans added with stage_spans() are inserted together at the end of the group, in one
    columnar INSERT OR IGNORE (duplicates of (trace_id, span_id) are absorbed).
    """

    def __init__(self, cursor: duckdb.DuckDBPyConnection) -> None:
        self.cursor = cursor
        self.staged: list[SpanRecord] = []

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one statement and fetch it to the end (DuckDB 2 refuses new work on a cursor
        with an unfinished result)."""
        return self.cursor.execute(sql, params).fetchall()

    def stage_spans(self, records: Sequence[SpanRecord]) -> None:
        self.staged.extend(records)


WriteOp = Callable[[WriteTxn], T]


@dataclass(slots=True)
class _Queued(Generic[T]):
    op: WriteOp[T]
    weight_bytes: int
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[T]
    result: Any = None
    error: BaseException | None = field(default=None)


class WriterThread:
    """Owns the writer cursor. submit() from the event loop; the thread commits in groups."""

    def __init__(self, cursor: duckdb.DuckDBPyConnection, settings: StorageConfig) -> None:
        self._cursor = cursor
        self._settings = settings
        self._queue: collections.deque[_Queued[Any]] = collections.deque()
        self._queued_bytes = 0
        self._condition = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="kate-writer", daemon=True)
        columns = ", ".join(_INSERT_COLUMNS)
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_STAGING} AS SELECT {columns} FROM spans LIMIT 0").fetchall()

    def start(self) -> None:
        self._thread.start()

    def is_alive(self) -> bool:
        return self._thread.is_alive() and not self._stopping

    def submit(self, op: WriteOp[T], weight_bytes: int, loop: asyncio.AbstractEventLoop) -> asyncio.Future[T]:
        """Queue op; raise Overloaded at once when the queue is full in items or bytes."""
        future: asyncio.Future[T] = loop.create_future()
        with self._condition:
            if self._stopping:
                raise Overloaded("the collector is shutting down", retry_after_s=self._settings.retry_after_s)
            self._check_room(weight_bytes)
            self._queue.append(_Queued(op, weight_bytes, loop, future))
            self._queued_bytes += weight_bytes
            self._condition.notify()
        return future

    def _check_room(self, weight_bytes: int) -> None:
        items_full = len(self._queue) >= self._settings.queue_max_items
        bytes_full = self._queue and self._queued_bytes + weight_bytes > self._settings.queue_max_bytes
        if items_full or bytes_full:
            msg = f"write queue is full ({len(self._queue)} requests, {self._queued_bytes} bytes)"
            raise Overloaded(msg, retry_after_s=self._settings.retry_after_s)

    def stop(self) -> None:
        """Commit everything queued, then end the thread. Safe to call twice."""
        with self._condition:
            self._stopping = True
            self._condition.notify()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while True:
            group = self._next_group()
            if not group:
                return
            try:
                self._commit_group(group)
            except Exception:  # loop boundary: never let the writer die
                logger.exception("writer failed on a group of %d ops", len(group))
                for item in group:
                    if item.error is None and not item.future.done():
                        item.error = Overloaded("storage error, retry later")
            self._resolve(group)

    def _next_group(self) -> list[_Queued[Any]]:
        with self._condition:
            while not self._queue and not self._stopping:
                self._condition.wait()
            group = []
            while self._queue and len(group) < self._settings.max_batch_items:
                item = self._queue.popleft()
                self._queued_bytes -= item.weight_bytes
                group.append(item)
            return group

    def _commit_group(self, group: list[_Queued[Any]]) -> None:
        try:
            self._run_in_transaction(group)
        except Exception as exc:
            if len(group) == 1:
                group[0].error = _client_or_internal(exc)
                return
            for item in group:  # replay alone: one failing op must not fail the others
                try:
                    self._run_in_transaction([item])
                except Exception as single_exc:
                    item.error = _client_or_internal(single_exc)

    def _run_in_transaction(self, group: list[_Queued[Any]]) -> None:
        cursor = self._cursor
        txn = WriteTxn(cursor)
        cursor.begin()
        try:
            results = [item.op(txn) for item in group]
            if txn.staged:
                self._insert_spans(txn.staged)
            cursor.commit()
        except BaseException:
            cursor.rollback()
            raise
        for item, result in zip(group, results, strict=True):
            item.result = result

    def _insert_spans(self, records: list[SpanRecord]) -> None:
        received_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        appender = self._cursor.appender(_STAGING)
        appender.append_rows([(*_row(r), received_at) for r in records])
        appender.flush()
        columns = ", ".join(_INSERT_COLUMNS)
        self._cursor.execute(f"INSERT OR IGNORE INTO spans ({columns}) SELECT {columns} FROM {_STAGING}").fetchall()
        self._cursor.execute(f"DELETE FROM {_STAGING}").fetchall()

    @staticmethod
    def _resolve(group: list[_Queued[Any]]) -> None:
        for item in group:
            item.loop.call_soon_threadsafe(_settle, item.future, item.result, item.error)


_row: Callable[[SpanRecord], tuple[Any, ...]] = operator.attrgetter(*SPAN_COLUMNS)


def _client_or_internal(exc: Exception) -> KateError:
    """A KateError stands (the op refused the write); anything else is a storage failure that a
    retry may get past (disk full, I/O error): logged, and answered 503 rather than 500."""
    if isinstance(exc, KateError):
        return exc
    logger.error("write failed in the store", exc_info=exc)
    return Overloaded(f"the store could not commit the write ({type(exc).__name__}); retry later")


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # the waiter gave up (timeout or cancel); the write stands regardless
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)

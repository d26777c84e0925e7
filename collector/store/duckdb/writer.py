"""The single writer: a thread that takes queued write ops and group-commits them.

Ops from many requests share one transaction and one columnar span insert; each op's future
is resolved only after COMMIT. When a group fails, it is rolled back and its ops are replayed
one by one so that one bad op never fails its neighbours. Checkpoints run here too, between
groups while the queue is empty, so they rarely stall a waiting request. Must not be used from
two threads.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import duckdb
import pyarrow as pa
from kate.collector import metrics
from kate.collector.config import QueueConfig, StorageConfig
from kate.collector.errors import KateError, Overloaded
from kate.collector.store.span_batch import SpanBatch, concatenated
from kate.schema.record import SPAN_COLUMNS

logger = logging.getLogger(__name__)
T = TypeVar("T")
_INCOMING = "kate_incoming_spans"  # the group's Arrow table, registered for one INSERT
_INSERT_COLUMNS = ", ".join((*SPAN_COLUMNS, "received_at"))
_SELECT_COLUMNS = ", ".join(SPAN_COLUMNS)
_INSERT = f"INSERT INTO spans ({_INSERT_COLUMNS}) SELECT {_SELECT_COLUMNS}, ?::TIMESTAMP FROM {_INCOMING}"
# A plain INSERT is ~20% cheaper than INSERT OR IGNORE; the key still refuses a repeated span,
# and then the group is redone with OR IGNORE, which stays on for a while (retries come in bursts).
_INSERT_OR_IGNORE = _INSERT.replace("INSERT INTO", "INSERT OR IGNORE INTO", 1)
_DEDUPE_WINDOW_S = 30.0
# A checkpoint costs ~6 ms per MiB of WAL (docs/performance.md#duckdb-facts-the-design-rests-on) and blocks commits meanwhile:
# taken while no request waits, at this size, the auto-checkpoint (wal_autocheckpoint) rarely fires.
IDLE_CHECKPOINT_WAL_BYTES = 16 * 1024 * 1024


class WriteTxn:
    """What a write op sees: the writer's cursor inside an open transaction, and a span stage.

    Span batches added with stage_spans() are inserted together at the end of the group, in one
    columnar INSERT from their Arrow tables (a repeated (trace_id, span_id) is absorbed).
    """

    def __init__(self, cursor: duckdb.DuckDBPyConnection, *, deduplicating: bool = False) -> None:
        self.cursor = cursor
        self.staged: list[SpanBatch] = []
        # True when the staged spans go in with INSERT OR IGNORE: some may not be stored.
        self.deduplicating = deduplicating
        self.after_spans: list[Callable[[], None]] = []  # run once the staged spans are in
        self.after_commit: list[Callable[[], None]] = []  # run once this transaction committed

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one statement and fetch it to the end (DuckDB 2 refuses new work on a cursor
        with an unfinished result)."""
        return self.cursor.execute(sql, params).fetchall()

    def stage_spans(self, batch: SpanBatch) -> None:
        if batch.count:
            self.staged.append(batch)

    def after_spans_inserted(self, step: Callable[[], None]) -> None:
        """Run step in this transaction once the group's staged spans are inserted."""
        self.after_spans.append(step)

    def on_commit(self, step: Callable[[], None]) -> None:
        """Run step in the writer thread once this transaction has committed, before the next
        one begins (never if it rolls back): for caches of what the store holds."""
        self.after_commit.append(step)


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

    def __init__(self, cursor: duckdb.DuckDBPyConnection, settings: StorageConfig, queue: QueueConfig,
                 wal_path: Path | None = None) -> None:
        self._cursor = cursor
        self._settings = settings
        self._limits = queue
        self._wal_path = wal_path  # None: no checkpoints of our own (DuckDB's auto-checkpoint only)
        self._queue: collections.deque[_Queued[Any]] = collections.deque()
        self._queued_bytes = 0
        self._condition = threading.Condition()
        self._stopping = False
        self._dedupe_until = 0.0  # monotonic time until which spans go in with INSERT OR IGNORE
        self._thread = threading.Thread(target=self._run, name="kate-writer", daemon=True)

    def start(self) -> None:
        # pyarrow imports pandas (when installed) the first time it builds an array, ~0.4 s that
        # the first write would wait for (run_texts.batch_texts builds one): built here instead.
        pa.array([], type=pa.string())
        self._thread.start()

    def is_alive(self) -> bool:
        return self._thread.is_alive() and not self._stopping

    def submit(self, op: WriteOp[T], weight_bytes: int, loop: asyncio.AbstractEventLoop) -> asyncio.Future[T]:
        """Queue op; raise Overloaded at once when the queue is full in items or bytes."""
        future: asyncio.Future[T] = loop.create_future()
        with self._condition:
            if self._stopping:
                raise Overloaded("the collector is shutting down", retry_after_s=self._limits.retry_after_s)
            self._check_room(weight_bytes)
            self._queue.append(_Queued(op, weight_bytes, loop, future))
            self._queued_bytes += weight_bytes
            self._condition.notify()
        return future

    def queued(self) -> tuple[int, int]:
        """Writes waiting now: (count, estimated bytes)."""
        with self._condition:
            return len(self._queue), self._queued_bytes

    def require_room(self) -> None:
        """Raise Overloaded when the queue is full now: a cheap check before a request is read
        and decoded, so that refusing under overload costs next to nothing."""
        with self._condition:
            if self._stopping:
                raise Overloaded("the collector is shutting down", retry_after_s=self._limits.retry_after_s)
            self._check_room(0)

    def _check_room(self, weight_bytes: int) -> None:
        items_full = len(self._queue) >= self._limits.max_items
        bytes_full = self._queue and self._queued_bytes + weight_bytes > self._limits.max_bytes
        if items_full or bytes_full:
            msg = f"write queue is full ({len(self._queue)} requests, {self._queued_bytes} bytes)"
            raise Overloaded(msg, retry_after_s=self._limits.retry_after_s)

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
            self._checkpoint_if_idle()

    def _next_group(self) -> list[_Queued[Any]]:
        with self._condition:
            while not self._queue and not self._stopping:
                self._condition.wait()
            group: list[_Queued[Any]] = []
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
        dedupe = time.monotonic() < self._dedupe_until
        try:
            self._transaction(group, dedupe=dedupe)
        except duckdb.ConstraintException:
            if dedupe:
                raise
            # A span stored before (an OTLP retry) or twice in the group: redo it, ignoring those.
            self._dedupe_until = time.monotonic() + _DEDUPE_WINDOW_S
            self._transaction(group, dedupe=True)

    def _transaction(self, group: list[_Queued[Any]], *, dedupe: bool) -> None:
        cursor = self._cursor
        txn = WriteTxn(cursor, deduplicating=dedupe)
        started = time.perf_counter()
        cursor.begin()
        try:
            results = [item.op(txn) for item in group]
            stored = self._insert_spans(txn.staged, dedupe=dedupe) if txn.staged else 0
            for step in txn.after_spans:
                step()
            cursor.commit()
        except BaseException:
            cursor.rollback()
            raise
        metrics.GROUP_COMMITS.observe(time.perf_counter() - started)
        metrics.SPANS_STORED.inc(stored)
        for step in txn.after_commit:  # committed: a failing step must not make the group look failed
            try:
                step()
            except Exception:
                logger.exception("a step after commit failed")
        for item, result in zip(group, results, strict=True):
            item.result = result

    def _insert_spans(self, batches: list[SpanBatch], *, dedupe: bool) -> int:
        """Insert the group's spans; how many were new (OR IGNORE skips those stored before)."""
        received_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        # A registration is a temporary view of the transaction: a failed INSERT leaves it to
        # the ROLLBACK (unregistering in an aborted transaction is refused), the next one replaces it.
        self._cursor.register(_INCOMING, concatenated(batches))
        ((inserted,),) = self._cursor.execute(_INSERT_OR_IGNORE if dedupe else _INSERT, [received_at]).fetchall()
        self._cursor.unregister(_INCOMING)
        return int(inserted)

    def _checkpoint_if_idle(self) -> None:
        """CHECKPOINT while no request waits and the WAL has grown past the idle threshold."""
        if self._wal_path is None or self._queue:
            return
        try:
            wal_bytes = os.path.getsize(self._wal_path)
        except OSError:  # no WAL: nothing to checkpoint
            return
        if wal_bytes < IDLE_CHECKPOINT_WAL_BYTES:
            return
        started = time.perf_counter()
        try:
            self._cursor.execute("CHECKPOINT").fetchall()
        except duckdb.Error:  # the next commit retries it (or DuckDB's own auto-checkpoint does)
            logger.exception("checkpoint of %d bytes of WAL failed", wal_bytes)
            return
        seconds = time.perf_counter() - started
        metrics.CHECKPOINTS.observe(seconds)
        logger.debug("checkpointed %d MiB of WAL in %.0f ms", wal_bytes >> 20, seconds * 1000)

    @staticmethod
    def _resolve(group: list[_Queued[Any]]) -> None:
        for item in group:
            item.loop.call_soon_threadsafe(_settle, item.future, item.result, item.error)


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

"""KateSpanExporter: an OpenTelemetry SpanExporter that sends finished spans through the JSON upload.

HTTP is blocking stdlib http.client, not a private event-loop thread: export() also runs in force_flush, at atexit
and in forked children, where a loop thread is gone (fork) or racing shutdown; a keep-alive socket works in all."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import TypeVar

from kate.exporter._errors import Conflict, KateError
from kate.exporter._operations import Call, complete_run, create_run, upload_spans
from kate.exporter._retry import send_within
from kate.exporter._span_upload import RunBatch, group_by_run
from kate.exporter._transport import DEFAULT_ENDPOINT, SyncTransport
from kate.schema.text import DEFAULT_MAX_TEXT_BYTES
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

logger = logging.getLogger("kate.exporter")
T = TypeVar("T")


class KateSpanExporter(SpanExporter):
    """Maps finished spans with the shared mapping and uploads them to their runs.

    Spans are grouped per run: `kate.run.id` on the span or its resource, else the trace id as
    a UUID (docs/mapping.md#agents-and-runs). A run the exporter has not seen is created (trigger `automatic`; an
    answer `409 run_exists` means it already exists and is fine). A run created here is
    completed when its root span is exported, unless `complete_runs=False`. 429 and 503 are
    retried after Retry-After (others with jittered backoff) inside `timeout`; export() never
    raises, returns FAILURE, and logs each kind of failure once until exports succeed again.
    """

    def __init__(
        self,
        endpoint: str = DEFAULT_ENDPOINT,
        agent_id: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 10.0,
        complete_runs: bool = True,
        max_spans_per_upload: int = 1000,
        max_text_bytes: int = DEFAULT_MAX_TEXT_BYTES,
    ) -> None:
        """Create an exporter; it connects on the first export.

        Args:
            endpoint: Base URL of the collector, e.g. `http://127.0.0.1:4318`.
            agent_id: The agent whose runs receive the spans. None: the resource's
                `kate.agent.id`, else its `service.name`.
            api_key: Sent as `Authorization: Bearer <api_key>` when given.
            timeout: Seconds one export() may take, retries and waits included.
            complete_runs: Complete the runs this exporter created when their root span ends.
            max_spans_per_upload: Spans per upload request (the collector caps it too).
            max_text_bytes: Cap of input_text / output_text before upload.

        Raises:
            ValueError: `endpoint` is not an http(s) URL.
        """
        self._transport = SyncTransport(endpoint, api_key, timeout)
        self._agent_id = agent_id
        self._timeout = timeout
        self._complete_runs = complete_runs
        self._max_spans = max(1, max_spans_per_upload)
        self._max_text_bytes = max_text_bytes
        self._runs = _RunBook()
        self._failures = _FailureLog()
        self._lock = threading.Lock()  # one export at a time: SimpleSpanProcessor calls from any thread
        self._stopped = threading.Event()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Upload the spans, run by run. Never raises.

        Args:
            spans: Finished spans from a span processor.

        Returns:
            SUCCESS when every run's spans were stored, else FAILURE.
        """
        if self._stopped.is_set():
            logger.debug("Kate exporter is shut down; %d spans not exported", len(spans))
            return SpanExportResult.FAILURE
        deadline = time.monotonic() + self._timeout
        with self._lock:
            try:
                batches = group_by_run(spans, self._agent_id, self._max_text_bytes)
                stored = [self._export_run(batch, deadline) for batch in batches]
            except Exception as exc:  # the SpanExporter contract: export() never raises
                self._failures.failed("internal", f"{len(spans)} spans", exc, exc_info=True)
                return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS if all(stored) else SpanExportResult.FAILURE

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is buffered here: each export() has finished sending when it returns."""
        return True

    def shutdown(self) -> None:
        """Stop exporting: interrupts retry waits, then closes the connection. Safe to call twice."""
        self._stopped.set()
        if self._lock.acquire(timeout=self._timeout):
            try:
                self._transport.close()
            finally:
                self._lock.release()

    def _export_run(self, batch: RunBatch, deadline: float) -> bool:
        try:
            self._ensure_run(batch, deadline)
            for start in range(0, len(batch.entries), self._max_spans):
                chunk = batch.entries[start : start + self._max_spans]
                self._send(upload_spans(batch.agent_id, batch.run_id, chunk), deadline)
            if batch.has_root and self._complete_runs and self._runs.created_here(batch.run_id):
                self._complete(batch, deadline)
        except KateError as error:
            self._failures.failed(error.code, f"{len(batch.entries)} spans of run {batch.run_id}", error)
            return False
        self._failures.succeeded()
        return True

    def _ensure_run(self, batch: RunBatch, deadline: float) -> None:
        if batch.run_id in self._runs:
            return
        try:
            self._send(create_run(batch.agent_id, "automatic", batch.run_id), deadline)
        except Conflict as error:
            if error.code != "run_exists":
                raise
            self._runs.remember(batch.run_id, created_here=False)  # a run context or the API made it
            return
        self._runs.remember(batch.run_id, created_here=True)

    def _complete(self, batch: RunBatch, deadline: float) -> None:
        try:
            self._send(complete_run(batch.agent_id, batch.run_id), deadline)
        except Conflict as error:  # completed elsewhere already: the goal is reached
            logger.debug("Kate exporter: run %s not completed here: %s", batch.run_id, error)
        self._runs.remember(batch.run_id, created_here=False)

    def _send(self, call: Call[T], deadline: float) -> T:
        return send_within(lambda remaining_s: self._transport.send(call, remaining_s), deadline, self._stopped.wait)


class _RunBook:
    """The runs seen lately (bounded, least recently used first out) and who created them."""

    def __init__(self, max_runs: int = 10_000) -> None:
        self._runs: OrderedDict[str, bool] = OrderedDict()
        self._max_runs = max_runs

    def __contains__(self, run_id: str) -> bool:
        return run_id in self._runs

    def created_here(self, run_id: str) -> bool:
        return self._runs.get(run_id, False)

    def remember(self, run_id: str, *, created_here: bool) -> None:
        self._runs[run_id] = created_here
        self._runs.move_to_end(run_id)
        while len(self._runs) > self._max_runs:
            self._runs.popitem(last=False)


class _FailureLog:
    """Logs the first failure of each kind at WARNING; repeats go to DEBUG until an export succeeds."""

    def __init__(self) -> None:
        self._reported: set[str] = set()

    def failed(self, kind: str, what: str, error: Exception, *, exc_info: bool = False) -> None:
        if kind in self._reported:
            logger.debug("Kate exporter: %s not exported: %s", what, error)
            return
        self._reported.add(kind)
        logger.warning(
            "Kate exporter: %s not exported: %s (further %s failures are logged at DEBUG until an export succeeds)",
            what,
            error,
            kind,
            exc_info=exc_info,
        )

    def succeeded(self) -> None:
        if self._reported:
            logger.info("Kate exporter: exports succeed again")
            self._reported.clear()

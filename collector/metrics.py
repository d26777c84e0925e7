"""The collector's Prometheus metrics, served as text at GET /metrics (docs/operations.md#metrics).

One registry for Kate's own series (not the library's global one). Counters are incremented
where the thing happens (decoded spans by the ingest pipeline, commits and checkpoints by the
writer, errors where they are rendered); queue depths are read from the live queues when
scraped. No label carries an agent id or anything from a request body: a scrape never leaks
tenants and the series stay few.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

disable_created_metrics()  # type: ignore[no-untyped-call]  # no *_created series: they double the output and nobody graphs them

REGISTRY = CollectorRegistry(auto_describe=True)
CONTENT_TYPE = CONTENT_TYPE_LATEST

_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

SPANS_RECEIVED = Counter(
    "kate_spans_received", "Spans decoded from requests and handed to the store, by protocol "
    "(otlp_http, otlp_grpc, upload, hosted).", ["protocol"], registry=REGISTRY)
SPANS_REJECTED = Counter(
    "kate_spans_rejected", "Spans of accepted OTLP requests refused one by one (partial_success), by protocol.",
    ["protocol"], registry=REGISTRY)
SPANS_STORED = Counter("kate_spans_stored", "Spans committed to DuckDB.", registry=REGISTRY)
INGEST_REQUESTS = Counter(
    "kate_ingest_requests", "Requests (hosted agents: frames) whose spans were handed to the store, by protocol.",
    ["protocol"], registry=REGISTRY)
REQUEST_ERRORS = Counter(
    "kate_request_errors", "Requests answered with an error, by transport (http, grpc) and Kate error code "
    "(overloaded: refused with a retry hint).", ["transport", "code"], registry=REGISTRY)
LOG_RECORDS = Counter(
    "kate_log_records", "OTLP log records received, by protocol (otlp_http, otlp_grpc) and outcome: stored (GenAI "
    "content), dropped (not a GenAI event: docs/mapping.md#genai-content-in-log-records) or rejected (partial_success).",
    ["protocol", "outcome"], registry=REGISTRY)
GENAI_LOG_FOLDS = Counter(
    "kate_genai_log_folds", "Spans whose input_text or output_text was (re)written from GenAI log records.",
    registry=REGISTRY)
RETENTION_DELETED_RUNS = Counter(
    "kate_retention_deleted_runs", "Finished runs deleted by retention (retention.max_age_days, max_bytes).",
    registry=REGISTRY)
RETENTION_DELETED_SPANS = Counter(
    "kate_retention_deleted_spans", "Spans deleted by retention with their runs.", registry=REGISTRY)
GROUP_COMMITS = Histogram(
    "kate_group_commit_seconds", "Transactions of the single writer (every queued write of a group, then COMMIT).",
    buckets=_DURATION_BUCKETS, registry=REGISTRY)
CHECKPOINTS = Histogram(
    "kate_checkpoint_seconds", "DuckDB checkpoints taken by the writer between groups.",
    buckets=_DURATION_BUCKETS, registry=REGISTRY)
_WRITE_QUEUE_REQUESTS = Gauge("kate_write_queue_requests", "Writes waiting for the writer.", registry=REGISTRY)
_WRITE_QUEUE_BYTES = Gauge("kate_write_queue_bytes", "Estimated bytes held by writes waiting for the writer.",
                           registry=REGISTRY)
_DECODE_QUEUE_REQUESTS = Gauge("kate_decode_queue_requests", "Request bodies handed to the decode workers and not "
                               "decoded yet.", registry=REGISTRY)


def watch_queues(write_requests: Callable[[], float], write_bytes: Callable[[], float],
                 decode_requests: Callable[[], float]) -> None:
    """Read the queue gauges from these functions at every scrape."""
    _WRITE_QUEUE_REQUESTS.set_function(write_requests)
    _WRITE_QUEUE_BYTES.set_function(write_bytes)
    _DECODE_QUEUE_REQUESTS.set_function(decode_requests)


def exposition() -> bytes:
    """Every series in the Prometheus text format."""
    return generate_latest(REGISTRY)

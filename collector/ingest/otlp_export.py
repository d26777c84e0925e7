"""The OTLP pipelines both receivers share: decode → records → sink → response, for traces
and for logs (GenAI content records, docs/mapping.md#genai-content-in-log-records).

Owns partial_success (OTLP: every span or record that cannot be stored is counted with a
reason). Must not know the transport: HTTP and gRPC framing, status codes and trailers live in
the receivers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from kate.collector import metrics
from kate.collector.ingest.decoding import DecodedBatch
from kate.collector.ingest.otlp_decode import decode_spans
from kate.collector.ingest.otlp_records import to_span_batch
from kate.collector.ingest.sink import Sink
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsPartialSuccess,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

_MAX_REASONS = 5
_MAX_MESSAGE_CHARS = 2000


async def export_traces(
    request: ExportTraceServiceRequest,
    sink: Sink,
    *,
    max_text_bytes: int,
    require_agent: Callable[[str], None] | None = None,
) -> ExportTraceServiceResponse:
    """Store every valid span of a parsed request; return after commit (ack after commit, docs/architecture.md#the-ingestion-pipeline).

    require_agent is called once per agent id of the spans before anything is stored (API keys
    limited to some agents, docs/api.md#conventions) and raises to refuse the whole request. Raises
    Overloaded (retryable) when the store cannot take the spans now.
    """
    decoded = decode_spans(request)
    spans = to_span_batch(decoded.spans, max_text_bytes=max_text_bytes, cost=sink.decoder.cost)
    batch = DecodedBatch(spans, decoded.rejected)
    return await store_batch(batch, sink, protocol="hosted", require_agent=require_agent)


async def export_body(
    body: bytes, media_type: str, sink: Sink, *, protocol: str, require_agent: Callable[[str], None] | None = None
) -> ExportTraceServiceResponse:
    """export_traces for an unparsed body, decoded by the sink's decode pool (decoding.py).

    Raises BadRequest when the body is not OTLP, Overloaded when the pool or the store is full:
    checked before decoding too, so that a refusal under overload costs next to nothing.
    """
    sink.require_room(len(body))
    batch = await sink.decoder.decode(body, media_type)
    return await store_batch(batch, sink, protocol=protocol, require_agent=require_agent)


async def export_logs_body(
    body: bytes, media_type: str, sink: Sink, *, protocol: str, require_agent: Callable[[str], None] | None = None
) -> ExportLogsServiceResponse:
    """Store the GenAI content records of an OTLP logs body; return after commit. Other records
    are dropped and counted (kate_log_records). Raises as export_body does."""
    sink.require_room(len(body))
    logs = await sink.decoder.decode_logs(body, media_type)
    if require_agent is not None:
        for agent_id in sorted(logs.agent_ids):
            require_agent(agent_id)
    await sink.consume_logs(logs)
    metrics.LOG_RECORDS.labels(protocol, "stored").inc(len(logs.records))
    metrics.LOG_RECORDS.labels(protocol, "dropped").inc(logs.dropped)
    if not logs.rejected:
        return ExportLogsServiceResponse()
    count = len(logs.rejected)
    metrics.LOG_RECORDS.labels(protocol, "rejected").inc(count)
    message = rejection_message(count, [rejection.message for rejection in logs.rejected], noun="log record")
    return ExportLogsServiceResponse(
        partial_success=ExportLogsPartialSuccess(rejected_log_records=count, error_message=message))


async def store_batch(
    batch: DecodedBatch, sink: Sink, *, protocol: str, require_agent: Callable[[str], None] | None = None
) -> ExportTraceServiceResponse:
    """Check the agents, store the records, and answer with the rejections as partial_success.
    protocol labels the metrics (otlp_http, otlp_grpc, hosted)."""
    if require_agent is not None:
        for agent_id in sorted(batch.spans.agent_ids):
            require_agent(agent_id)
    result = await sink.consume_otlp(batch.spans, protocol=protocol)
    # Refused in the writer: spans naming a run of another agent (store/run_ownership.py).
    reasons = [rejection.message for rejection in batch.rejected] + [run.message for run in result.refused]
    count = len(batch.rejected) + sum(run.spans for run in result.refused)
    if not count:
        return ExportTraceServiceResponse()  # OTLP: full success leaves partial_success unset
    metrics.SPANS_REJECTED.labels(protocol).inc(count)
    partial = ExportTracePartialSuccess(rejected_spans=count, error_message=rejection_message(count, reasons))
    return ExportTraceServiceResponse(partial_success=partial)


def rejection_message(count: int, reasons: Sequence[str], *, noun: str = "span") -> str:
    """A readable summary: the count and the first few reasons (OTLP: error_message is for humans)."""
    shown = "; ".join(reasons[:_MAX_REASONS])
    more = f"; and {len(reasons) - _MAX_REASONS} more" if len(reasons) > _MAX_REASONS else ""
    return f"{count} {noun}{'' if count == 1 else 's'} rejected: {shown}{more}"[:_MAX_MESSAGE_CHARS]

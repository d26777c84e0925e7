"""The ingestion pipeline, in its stages: receive → decode → map → sink → answer.

The receivers (receive_http.py, receive_grpc.py, the span upload in api/runs.py and hosted
agents' frames in jobs/spans.py) call one function per signal here with the body bytes:

1. **room**: refuse at once (Overloaded) when the decode pool or the write queue is full;
2. **decode + map** (decode_pool.py, in a worker process for a large body): wire.py parses,
   decode_spans.py validates (a span that cannot be stored becomes a counted rejection),
   map_spans.py maps and links it to its agent and run, into an Arrow SpanBatch;
   logs: decode_logs.py keeps the GenAI content records;
3. **sink** (sink.py): the span store writes it, and the call returns after commit;
4. **answer**: partial_success counts what was rejected, with the first reasons.

Must not know the transport: HTTP and gRPC framing, status codes and trailers live in the
receivers (docs/architecture.md#the-ingestion-pipeline).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from kate.collector import metrics
from kate.collector.ingest.decode_pool import DecodedBatch
from kate.collector.ingest.sink import Sink
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsPartialSuccess,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceResponse,
)

_MAX_REASONS = 5
_MAX_MESSAGE_CHARS = 2000
AgentCheck = Callable[[str], None]  # raises to refuse the request for an agent the key may not write


async def ingest_traces(body: bytes, media_type: str, sink: Sink, *, protocol: str,
                        require_agent: AgentCheck | None = None) -> ExportTraceServiceResponse:
    """Store every valid span of an OTLP trace body; return after commit.

    require_agent is called once per agent id of the spans before anything is stored (API keys
    limited to some agents, docs/api.md#conventions). protocol labels the metrics (otlp_http,
    otlp_grpc, hosted). Raises BadRequest when the body is not OTLP, Overloaded when the pool
    or the store is full: checked before decoding too, so a refusal under overload costs next
    to nothing.
    """
    sink.require_room(len(body))
    batch = await sink.decoder.decode(body, media_type)
    return await _store_spans(batch, sink, protocol=protocol, require_agent=require_agent)


async def ingest_logs(body: bytes, media_type: str, sink: Sink, *, protocol: str,
                      require_agent: AgentCheck | None = None) -> ExportLogsServiceResponse:
    """Store the GenAI content records of an OTLP logs body; return after commit. Other records
    are dropped and counted (kate_log_records). Raises as ingest_traces does."""
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


async def _store_spans(batch: DecodedBatch, sink: Sink, *, protocol: str,
                       require_agent: AgentCheck | None) -> ExportTraceServiceResponse:
    """Check the agents, store the records, and answer with the rejections as partial_success."""
    if require_agent is not None:
        for agent_id in sorted(batch.spans.agent_ids):
            require_agent(agent_id)
    result = await sink.consume(batch.spans, protocol=protocol)
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

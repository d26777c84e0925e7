"""Hand-built OTLP requests of one LLM call and the GenAI log records that the official
instrumentation (openai-v2) sends for it: tests choose which of span and records arrives first."""

from __future__ import annotations

from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue, KeyValueList
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from tests.support.fake_openai import REPLY

QUESTION = "What is the capital of France?"
SYSTEM = "You answer in one sentence."


def _any(value: Any) -> AnyValue:
    if isinstance(value, dict):
        return AnyValue(kvlist_value=KeyValueList(values=[KeyValue(key=k, value=_any(v)) for k, v in value.items()]))
    return AnyValue(string_value=str(value))


def _resource(agent_id: str) -> Resource:
    return Resource(attributes=[KeyValue(key="service.name", value=_any(agent_id))])


def span_body(agent_id: str, trace_id: bytes, span_id: bytes, start_ns: int, **attributes: str) -> bytes:
    span = Span(trace_id=trace_id, span_id=span_id, name="chat gpt-4o-mini", start_time_unix_nano=start_ns,
                end_time_unix_nano=start_ns + 900_000_000,
                attributes=[KeyValue(key=k, value=_any(v)) for k, v in
                            {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini", **attributes}.items()])
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add(resource=_resource(agent_id))
    resource_spans.scope_spans.add().spans.append(span)
    return request.SerializeToString()


def message_records(trace_id: bytes, span_id: bytes, start_ns: int) -> list[LogRecord]:
    """What openai-v2 sends for one call: the prompt's messages, then the choice."""
    def record(offset_ns: int, name: str, body: dict[str, Any]) -> LogRecord:
        return LogRecord(time_unix_nano=start_ns + offset_ns, trace_id=trace_id, span_id=span_id, event_name=name,
                         body=_any(body), attributes=[KeyValue(key="gen_ai.system", value=_any("openai"))])
    return [record(1_000, "gen_ai.system.message", {"content": SYSTEM}),
            record(2_000, "gen_ai.user.message", {"content": QUESTION}),
            record(800_000_000, "gen_ai.choice", {"index": "0", "finish_reason": "stop",
                                                   "message": {"role": "assistant", "content": REPLY}})]


def logs_body(agent_id: str, records: list[LogRecord]) -> bytes:
    request = ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add(resource=_resource(agent_id))
    resource_logs.scope_logs.add().log_records.extend(records)
    return request.SerializeToString()

"""OTLP ExportLogsServiceRequest to the GenAI content records Kate keeps (docs/mapping.md#genai-content-in-log-records).

A record is kept when its event name starts with `gen_ai.` and it names a span (trace and span
id); other records are counted as dropped; a GenAI record that cannot be kept is rejected with a
reason (partial_success). Pure: no I/O. Runs in the decode workers like span decoding.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from kate.collector.ingest.decode_spans import Rejection, any_value, attribute_dict
from kate.collector.ingest.map_spans import agent_id_from, json_text
from kate.collector.ingest.wire import parse_logs_request
from kate.schema.agent_id import resource_agent_problem
from kate.schema.log_events import is_genai_event, log_event_name
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

_MAX_INT64 = 2**63 - 1
_ZERO_TRACE_ID = bytes(16)
_ZERO_SPAN_ID = bytes(8)


class GenAiLogRecord(NamedTuple):
    """One kept record, as the genai_log_records row it becomes (JSON columns as text)."""

    record_key: str
    trace_id: str
    span_id: str
    agent_id: str
    event_name: str
    time_unix_nano: int
    request_index: int
    severity_text: str | None
    body: str | None
    attributes: str
    resource: str
    scope_name: str | None


@dataclass(slots=True)
class DecodedLogs:
    records: list[GenAiLogRecord] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)  # paths like resourceLogs[0].scopeLogs[1].logRecords[4]
    dropped: int = 0  # records that are not GenAI events

    @property
    def agent_ids(self) -> frozenset[str]:
        return frozenset(record.agent_id for record in self.records)



def decode_logs_body(body: bytes, media_type: str) -> DecodedLogs:
    """Parse (raises BadRequest) and decode one OTLP logs body."""
    return decode_logs(parse_logs_request(body, media_type))


def decode_logs(request: ExportLogsServiceRequest) -> DecodedLogs:
    """Every record of the request: kept, dropped or rejected with a reason; none is lost."""
    decoded = DecodedLogs()
    index = 0
    for r_index, resource_logs in enumerate(request.resource_logs):
        resource = attribute_dict(resource_logs.resource.attributes)
        agent_problem = resource_agent_problem(resource)
        agent_id = "" if agent_problem else agent_id_from(resource)
        resource_json = json_text(resource)
        resource_bytes = resource_logs.resource.SerializeToString(deterministic=True)
        for s_index, scope_logs in enumerate(resource_logs.scope_logs):
            scope_name = scope_logs.scope.name or None
            for l_index, record in enumerate(scope_logs.log_records):
                path = f"resourceLogs[{r_index}].scopeLogs[{s_index}].logRecords[{l_index}]"
                attributes = attribute_dict(record.attributes)
                name = log_event_name(record.event_name, attributes)
                if not is_genai_event(name):
                    decoded.dropped += 1
                    continue
                problem = agent_problem or _record_problem(record)
                if problem:
                    decoded.rejected.append(Rejection(path, problem, item="log record"))
                    continue
                body = any_value(record.body) if record.HasField("body") else None
                key = hashlib.blake2b(resource_bytes + b"\0" + scope_logs.scope.name.encode()
                                      + b"\0" + record.SerializeToString(deterministic=True), digest_size=16)
                decoded.records.append(GenAiLogRecord(
                    key.hexdigest(), record.trace_id.hex(), record.span_id.hex(), agent_id, name,
                    record.time_unix_nano or record.observed_time_unix_nano or time.time_ns(), index,
                    record.severity_text or None, None if body is None else json_text(body),
                    json_text(attributes), resource_json, scope_name,
                ))
                index += 1
    return decoded


def _record_problem(record: LogRecord) -> str | None:
    """Why a GenAI record cannot be kept: it must name its span (the content belongs to one)."""
    trace_id, span_id = record.trace_id, record.span_id
    if not trace_id or trace_id == _ZERO_TRACE_ID or not span_id or span_id == _ZERO_SPAN_ID:
        return "a GenAI event record needs the trace_id and span_id of its span (emit it inside the span)"
    if len(trace_id) != 16:
        return f"trace_id must be 16 bytes, got {len(trace_id)}"
    if len(span_id) != 8:
        return f"span_id must be 8 bytes, got {len(span_id)}"
    if record.time_unix_nano > _MAX_INT64 or record.observed_time_unix_nano > _MAX_INT64:
        return "time_unix_nano does not fit a signed 64-bit integer"
    return None


def weight_bytes(records: Sequence[GenAiLogRecord]) -> int:
    """What records hold in memory, roughly (their JSON texts): their weight in the write queue."""
    return sum(len(record.attributes) + len(record.body or "") + 256 for record in records)

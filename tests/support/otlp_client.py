"""Talking OTLP and reading results back, for the ingest tests: raw posts, the stock exporters
with their results recorded, and the Runs API / SQL reads that show what reached DuckDB."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from google.protobuf import json_format
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

PROTOBUF = "application/x-protobuf"
JSON = "application/json"


@dataclass(frozen=True)
class OtlpAnswer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";")[0]

    def response(self) -> ExportTraceServiceResponse:
        """The body as an ExportTraceServiceResponse, in the encoding it came in."""
        message = ExportTraceServiceResponse()
        if self.content_type == JSON:
            return json_format.Parse(self.body, message)
        message.ParseFromString(self.body)
        return message

    def status_message(self) -> status_pb2.Status:
        """The body as a google.rpc.Status, in the encoding it came in."""
        status = status_pb2.Status()
        if self.content_type == JSON:
            return json_format.Parse(self.body, status)
        assert self.content_type == PROTOBUF, self.headers
        status.ParseFromString(self.body)
        return status


async def post_otlp(
    session: aiohttp.ClientSession, base_url: str, body: bytes, *, content_type: str = PROTOBUF,
    encoding: str | None = None, path: str = "/v1/traces",
) -> OtlpAnswer:
    headers = {"Content-Type": content_type} if content_type else {}
    if encoding:
        headers["Content-Encoding"] = encoding
    # No compress= argument: aiohttp sends the bytes as given, so the encoding under test is ours.
    async with session.post(base_url + path, data=body, headers=headers) as response:
        return OtlpAnswer(response.status, dict(response.headers), await response.read())


def get_json(base_url: str, path: str) -> Any:
    with urllib.request.urlopen(base_url + path, timeout=30) as response:
        return json.loads(response.read())


def run_spans(base_url: str, agent_id: str, run_id: str) -> list[dict[str, Any]]:
    """The run's spans through GET .../spans, in start order."""
    return list(get_json(base_url, f"/agents/{agent_id}/runs/{run_id}/spans")["spans"])


def get_run(base_url: str, agent_id: str, run_id: str) -> dict[str, Any]:
    return dict(get_json(base_url, f"/agents/{agent_id}/runs/{run_id}"))


def sql_rows(base_url: str, sql: str, params: Sequence[Any] = ()) -> list[list[Any]]:
    """Rows of one read-only query through POST /sql."""
    data = json.dumps({"sql": sql, "params": list(params)}).encode()
    request = urllib.request.Request(base_url + "/sql", data=data, headers={"Content-Type": JSON})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return list(json.loads(response.read())["rows"])
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"/sql answered {exc.code}: {exc.read()!r}") from None


def span_count(base_url: str, agent_id: str) -> int:
    ((count,),) = sql_rows(base_url, "SELECT count(*) FROM spans WHERE agent_id = ?", [agent_id])
    return int(count)


def run_id_for_trace(trace_id: int) -> str:
    """docs/mapping.md#agents-and-runs: with no kate.run.id, the run id is the trace id read as a UUID."""
    text = format(trace_id, "032x")
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


class RecordingExporter(SpanExporter):
    """Wraps a stock exporter and keeps every export() result, so a test can see failures that
    the SDK's span processors only log."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner
        self.results: list[SpanExportResult] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result = self.inner.export(spans)
        self.results.append(result)
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.inner.force_flush(timeout_millis)

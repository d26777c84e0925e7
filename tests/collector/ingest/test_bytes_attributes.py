"""Byte attributes stay queryable (docs/mapping.md#size-truncation-and-blobs): the real OTLP
exporters (protobuf over HTTP and gRPC) and an OTLP/JSON body with `bytesValue` deliver them, and
the span keeps them in `attributes` as marked base64, never as text."""

from __future__ import annotations

import base64
import json
import uuid

import aiohttp
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter

from tests.support.otlp_client import post_otlp, run_spans, sql_rows
from tests.support.server import CollectorProcess

PAYLOAD = b"\x00\xffPNG\r\n\x1a"
MARKED = {"bytes_base64": base64.b64encode(PAYLOAD).decode(), "size": len(PAYLOAD)}


@pytest.mark.parametrize("protocol", ["http", "grpc"])
@pytest.mark.duckdb_only("its check uses DuckDB's JSON operators in /sql")
def test_the_stock_exporters_bytes_attribute_is_kept_marked(collector: CollectorProcess, agent_id: str,
                                                             protocol: str) -> None:
    exporter: SpanExporter = (HttpExporter(endpoint=f"{collector.base_url}/v1/traces", timeout=10) if protocol == "http"
                              else GrpcExporter(endpoint=f"127.0.0.1:{collector.grpc_port}", insecure=True, timeout=10))
    provider = TracerProvider(resource=Resource.create({"kate.agent.id": agent_id}), shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    run_id = str(uuid.uuid4())
    provider.get_tracer("bytes.test").start_span(
        "tool", attributes={"kate.run.id": run_id, "tool.screenshot": PAYLOAD, "input.value": "look"}).end()
    provider.shutdown()

    (span,) = run_spans(collector.base_url, agent_id, run_id)

    assert span["attributes"]["tool.screenshot"] == MARKED
    assert span["input_text"] == "look"
    ((size,),) = sql_rows(collector.base_url, "SELECT octet_length(from_base64(attributes->'$.\"tool.screenshot\"'"
                          "->>'bytes_base64')) FROM spans WHERE run_id = ?", [run_id])
    assert size == len(PAYLOAD)  # the SQL recipe of docs/mapping.md gives the bytes back


async def test_otlp_json_bytes_value_is_kept_and_never_becomes_text(collector: CollectorProcess, agent_id: str) -> None:
    run_id = str(uuid.uuid4())
    body = {"resourceSpans": [{
        "resource": {"attributes": [{"key": "kate.agent.id", "value": {"stringValue": agent_id}}]},
        "scopeSpans": [{"spans": [{
            "traceId": uuid.uuid4().hex, "spanId": uuid.uuid4().hex[:16], "name": "llm",
            "startTimeUnixNano": "1767225600000000000", "endTimeUnixNano": "1767225601000000000",
            "attributes": [
                {"key": "kate.run.id", "value": {"stringValue": run_id}},
                {"key": "output.value", "value": {"bytesValue": base64.b64encode(PAYLOAD).decode()}},
            ],
        }]}],
    }]}
    async with aiohttp.ClientSession() as session:
        answer = await post_otlp(session, collector.base_url, json.dumps(body).encode(), content_type="application/json")
    assert answer.status == 200

    (span,) = run_spans(collector.base_url, agent_id, run_id)

    assert span["output_text"] is None
    assert span["attributes"]["output.value"] == MARKED

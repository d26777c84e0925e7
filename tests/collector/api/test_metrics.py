"""GET /metrics on a fresh collector: Prometheus text that scrapers parse, counting what each
ingestion path received, what was stored, what was refused span by span or as a request,
and the writer's commits; no API key needed and no agent id in any series."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import StartCollector
from tests.support.otlp_client import JSON, post_otlp
from tests.support.server import CollectorProcess

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(collector: CollectorProcess) -> tuple[str, Samples]:
    with urllib.request.urlopen(f"{collector.base_url}/metrics", timeout=10) as response:
        content_type, text = response.headers["Content-Type"], response.read().decode()
    samples = {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
               for family in text_string_to_metric_families(text) for sample in family.samples}
    return content_type, samples


@contextmanager
def traced(exporter: SpanExporter, agent_id: str) -> Iterator[TracerProvider]:
    provider = TracerProvider(resource=Resource.create({"kate.agent.id": agent_id}), shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        yield provider
    finally:
        provider.shutdown()


def emit_trace(provider: TracerProvider, spans: int) -> None:
    tracer = provider.get_tracer("metrics-test")
    with tracer.start_as_current_span("agent"):
        for index in range(spans - 1):
            with tracer.start_as_current_span(f"step {index}"):
                pass


async def test_metrics_count_received_stored_and_refused_spans(start_collector: StartCollector, agent_id: str) -> None:
    collector = start_collector()
    with traced(HttpExporter(endpoint=f"{collector.base_url}/v1/traces", timeout=10), agent_id) as provider:
        emit_trace(provider, 3)
    with traced(GrpcExporter(endpoint=f"127.0.0.1:{collector.grpc_port}", insecure=True, timeout=10), agent_id) as provider:
        emit_trace(provider, 4)
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{collector.base_url}/agents/{agent_id}/runs", json={"trigger": "manual"}) as created:
            run_id = (await created.json())["id"]
        upload = {"spans": [{"span_id": f"{index:016x}", "node_name": "step"} for index in (1, 2)]}
        async with session.post(f"{collector.base_url}/agents/{agent_id}/runs/{run_id}/spans", json=upload) as answer:
            assert answer.status == 201
        async with session.get(f"{collector.base_url}/agents/{agent_id}/runs/no-such-run") as missing:
            assert missing.status == 404
        bad_span = {"traceId": "0" * 32, "spanId": "0102030405060708", "name": "bad"}  # all-zero id: rejected
        rejecting = {"resourceSpans": [{"scopeSpans": [{"spans": [bad_span]}]}]}
        answer = await post_otlp(session, collector.base_url, json.dumps(rejecting).encode(), content_type=JSON)
        assert answer.status == 200

    content_type, samples = scrape(collector)

    assert content_type.startswith("text/plain")
    assert samples[("kate_spans_received_total", (("protocol", "otlp_http"),))] == 3
    assert samples[("kate_spans_received_total", (("protocol", "otlp_grpc"),))] == 4
    assert samples[("kate_spans_received_total", (("protocol", "upload"),))] == 2
    assert samples[("kate_spans_rejected_total", (("protocol", "otlp_http"),))] == 1
    assert samples[("kate_spans_stored_total", ())] == 9
    assert samples[("kate_request_errors_total", (("code", "not_found"), ("transport", "http")))] == 1
    assert samples[("kate_group_commit_seconds_count", ())] >= 4  # OTLP x2, run, upload
    assert samples[("kate_write_queue_requests", ())] == 0
    assert samples[("kate_decode_queue_requests", ())] == 0
    assert not any(agent_id in value for _, labels in samples for _, value in labels)

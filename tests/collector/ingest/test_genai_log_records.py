"""GenAI content sent as OTLP log records (docs/mapping.md#genai-content-in-log-records): the
official instrumentation's records reach the span they name, over HTTP and gRPC, whichever of
the two arrives first; other logs are dropped and counted; bad GenAI records are rejected. On
both storage engines (the session collector is one per engine; the others are conformance tests).

The real instrumentations run in their own processes (they patch `openai` and set the global
OpenTelemetry state) against the fake OpenAI server; the ordering cases post hand-built OTLP
requests, so which of span and records comes first is fixed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse

from tests.conftest import StartApp, StartCollector
from tests.support.fake_openai import REPLY, fake_openai_server
from tests.support.genai_logs import QUESTION, SYSTEM, logs_body, message_records, span_body
from tests.support.http import Api
from tests.support.in_process import InProcessCollector
from tests.support.otlp_client import JSON, PROTOBUF, post_otlp, run_id_for_trace, run_spans, sql_rows
from tests.support.server import CollectorProcess
from tests.support.waiting import evaluated_run, poll

OPENAI_V2_AGENT = textwrap.dedent("""
    import sys
    import openai
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, SimpleLogRecordProcessor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    kate_http, kate_grpc, openai_url, agent_id, transport = sys.argv[1:6]
    if transport == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        spans, logs = OTLPSpanExporter(endpoint=kate_grpc, insecure=True), OTLPLogExporter(endpoint=kate_grpc, insecure=True)
        # Batched: the records leave at the flush below, after their span (span first).
        log_processor = BatchLogRecordProcessor(logs)
    else:
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        spans, logs = OTLPSpanExporter(endpoint=kate_http + "/v1/traces"), OTLPLogExporter(endpoint=kate_http + "/v1/logs")
        # Each record leaves as it is emitted, before its span ends (records first).
        log_processor = SimpleLogRecordProcessor(logs)
    resource = Resource.create({"service.name": agent_id})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(log_processor)
    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider, logger_provider=logger_provider)
    client = openai.OpenAI(base_url=openai_url, api_key="test-key")
    with tracer_provider.get_tracer("agent").start_as_current_span("answer the user") as turn:
        client.chat.completions.create(model="gpt-4o-mini", messages=[
            {"role": "system", "content": "SYSTEM_TEXT"}, {"role": "user", "content": "QUESTION_TEXT"}])
    logger_provider.force_flush()
    print(turn.get_span_context().trace_id)
""").replace("SYSTEM_TEXT", SYSTEM).replace("QUESTION_TEXT", QUESTION)

UTIL_GENAI_AGENT = textwrap.dedent("""
    import sys
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.util.genai.handler import TelemetryHandler
    from opentelemetry.util.genai.types import InputMessage, OutputMessage, Text

    kate_http, agent_id = sys.argv[1:3]
    resource = Resource.create({"service.name": agent_id})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=kate_http + "/v1/traces")))
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=kate_http + "/v1/logs")))
    handler = TelemetryHandler(tracer_provider=tracer_provider, logger_provider=logger_provider)
    with tracer_provider.get_tracer("agent").start_as_current_span("answer the user") as turn:
        with handler.inference("openai", request_model="gpt-4o-mini") as call:
            call.system_instruction = [Text(content="SYSTEM_TEXT")]
            call.input_messages = [InputMessage(role="user", parts=[Text(content="QUESTION_TEXT")])]
            call.output_messages = [OutputMessage(role="assistant", parts=[Text(content="REPLY_TEXT")], finish_reason="stop")]
            call.usage_input_tokens, call.usage_output_tokens = 12, 7
    print(turn.get_span_context().trace_id)
""").replace("SYSTEM_TEXT", SYSTEM).replace("QUESTION_TEXT", QUESTION).replace("REPLY_TEXT", REPLY)


def _run_agent(script: str, args: list[str], env: dict[str, str], tmp_path: Path) -> str:
    path = tmp_path / "agent.py"
    path.write_text(script, encoding="utf-8")
    done = subprocess.run([sys.executable, str(path), *args], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path, env={**os.environ, **env})
    assert done.returncode == 0, done.stderr
    return run_id_for_trace(int(done.stdout.split()[-1]))


def _llm_span(collector: CollectorProcess, agent_id: str, run_id: str) -> dict[str, Any]:
    spans = run_spans(collector.base_url, agent_id, run_id)
    (llm,) = [span for span in spans if span["span_kind"] == "LLM"]
    assert len(spans) == 2  # the turn and the call: no second copy of either
    return llm


@pytest.mark.parametrize("transport", ["http", "grpc"])
def test_the_official_openai_instrumentation_old_convention_fills_the_llm_span(
    collector: CollectorProcess, agent_id: str, tmp_path: Path, transport: str
) -> None:
    """opentelemetry-instrumentation-openai-v2: one record per message and a gen_ai.choice."""
    with fake_openai_server() as openai_url:
        run_id = _run_agent(OPENAI_V2_AGENT, [collector.base_url, f"127.0.0.1:{collector.grpc_port}", openai_url,
                                              agent_id, transport],
                            {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true"}, tmp_path)
    llm = _llm_span(collector, agent_id, run_id)
    assert llm["input_text"] == f"system: {SYSTEM}\nuser: {QUESTION}"
    assert llm["output_text"] == REPLY
    assert llm["model"].startswith("gpt-4o-mini") and llm["token_count"] == 19
    events = sql_rows(collector.base_url, "SELECT event_name FROM genai_log_records WHERE trace_id = ?"
                      " ORDER BY time_unix_nano, request_index", [run_id.replace("-", "")])
    assert [name for (name,) in events] == ["gen_ai.system.message", "gen_ai.user.message", "gen_ai.choice"]


def test_the_genai_utility_new_convention_fills_the_llm_span(
    collector: CollectorProcess, agent_id: str, tmp_path: Path
) -> None:
    """opentelemetry-util-genai (what the official instrumentations build on): one
    gen_ai.client.inference.operation.details record with structured messages."""
    env = {"OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental",
           "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "EVENT_ONLY"}
    run_id = _run_agent(UTIL_GENAI_AGENT, [collector.base_url, agent_id], env, tmp_path)
    llm = _llm_span(collector, agent_id, run_id)
    assert llm["input_text"] == f"system: {SYSTEM}\nuser: {QUESTION}"
    assert llm["output_text"] == REPLY
    ((name, attributes),) = sql_rows(collector.base_url, "SELECT event_name, attributes FROM genai_log_records"
                                     " WHERE trace_id = ?", [run_id.replace("-", "")])
    assert name == "gen_ai.client.inference.operation.details"
    assert "gen_ai.input.messages" in json.loads(attributes)  # every byte stays queryable


# Hand-built requests: which of the span and its records arrives first is the test's choice.

async def _post(session: aiohttp.ClientSession, collector: CollectorProcess | InProcessCollector, path: str, body: bytes,
                content_type: str = PROTOBUF) -> ExportLogsServiceResponse:
    answer = await post_otlp(session, collector.base_url, body, content_type=content_type, path=path)
    assert answer.status == 200, answer.body
    response = ExportLogsServiceResponse()
    if content_type == JSON:
        return json_format.Parse(answer.body, response)
    response.ParseFromString(answer.body)
    return response


def _span_row(collector: CollectorProcess, trace_id: bytes) -> list[Any]:
    rows = sql_rows(collector.base_url, "SELECT input_text, output_text, truncated, span_kind FROM spans"
                    " WHERE trace_id = ?", [trace_id.hex()])
    assert len(rows) == 1  # one row per span, however its content arrived
    return rows[0]


async def test_records_before_after_or_around_their_span_give_the_same_span(
    collector: CollectorProcess, agent_id: str
) -> None:
    orders = {"records first": ("logs", "logs", "span"), "span first": ("span", "logs", "logs"),
              "around": ("logs", "span", "logs")}
    results = {}
    async with aiohttp.ClientSession() as session:
        for index, (name, steps) in enumerate(orders.items()):
            start_ns = 1_760_000_000_000_000_000 + index * 3_600_000_000_000
            trace_id, span_id = os.urandom(16), os.urandom(8)
            records = message_records(trace_id, span_id, start_ns)
            halves = [records[:2], records[2:]]  # the prompt in one export, the choice in another
            for step in steps:
                if step == "span":
                    await _post(session, collector, "/v1/traces", span_body(agent_id, trace_id, span_id, start_ns))
                else:
                    await _post(session, collector, "/v1/logs", logs_body(agent_id, halves.pop(0)))
            results[name] = _span_row(collector, trace_id)
    expected = [f"system: {SYSTEM}\nuser: {QUESTION}", REPLY, False, "LLM"]
    assert results == {name: expected for name in orders}


async def test_a_text_the_span_carries_itself_wins(collector: CollectorProcess, agent_id: str) -> None:
    start_ns = 1_760_100_000_000_000_000
    async with aiohttp.ClientSession() as session:
        for span_first in (True, False):
            trace_id, span_id = os.urandom(16), os.urandom(8)
            span = span_body(agent_id, trace_id, span_id, start_ns, **{"input.value": "the span's own prompt"})
            logs = logs_body(agent_id, message_records(trace_id, span_id, start_ns))
            for path, body in ([("/v1/traces", span), ("/v1/logs", logs)] if span_first
                               else [("/v1/logs", logs), ("/v1/traces", span)]):
                await _post(session, collector, path, body)
            assert _span_row(collector, trace_id)[:2] == ["the span's own prompt", REPLY]


async def test_records_waiting_for_a_span_fill_it_when_an_upload_brings_it(
    collector: CollectorProcess, agent_id: str
) -> None:
    """An agent in another language posts its span through the Runs API after the records came."""
    start_ns = 1_760_150_000_000_000_000
    trace_id, span_id = os.urandom(16), os.urandom(8)
    async with aiohttp.ClientSession() as session:
        await _post(session, collector, "/v1/logs", logs_body(agent_id, message_records(trace_id, span_id, start_ns)))
        api = Api(collector.base_url, session)
        run = await api.create_run(agent_id)
        start = dt.datetime.fromtimestamp(start_ns / 1e9, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        uploaded = await api.call("POST", f"/agents/{agent_id}/runs/{run['id']}/spans", {"spans": [
            {"node_name": "chat", "span_kind": "LLM", "trace_id": trace_id.hex(), "span_id": span_id.hex(),
             "start_time": start, "latency_ms": 900}]})
        assert uploaded.status == 201, uploaded.text
    (span,) = run_spans(collector.base_url, agent_id, run["id"])
    assert (span["input_text"], span["output_text"]) == (f"system: {SYSTEM}\nuser: {QUESTION}", REPLY)


async def test_a_retried_log_export_adds_no_record_and_no_repeated_text(
    collector: CollectorProcess, agent_id: str
) -> None:
    start_ns = 1_760_200_000_000_000_000
    trace_id, span_id = os.urandom(16), os.urandom(8)
    logs = logs_body(agent_id, message_records(trace_id, span_id, start_ns))
    async with aiohttp.ClientSession() as session:
        await _post(session, collector, "/v1/logs", logs)
        await _post(session, collector, "/v1/traces", span_body(agent_id, trace_id, span_id, start_ns))
        await _post(session, collector, "/v1/logs", logs)  # an exporter retrying after a lost answer
    assert _span_row(collector, trace_id)[:2] == [f"system: {SYSTEM}\nuser: {QUESTION}", REPLY]
    ((count,),) = sql_rows(collector.base_url, "SELECT count(*) FROM genai_log_records WHERE trace_id = ?",
                           [trace_id.hex()])
    assert count == 3


async def test_records_of_another_agent_never_reach_the_span(collector: CollectorProcess, agent_id: str) -> None:
    start_ns = 1_760_300_000_000_000_000
    trace_id, span_id = os.urandom(16), os.urandom(8)
    async with aiohttp.ClientSession() as session:
        await _post(session, collector, "/v1/traces", span_body(agent_id, trace_id, span_id, start_ns))
        await _post(session, collector, "/v1/logs",
                    logs_body(agent_id + "-other", message_records(trace_id, span_id, start_ns)))
    assert _span_row(collector, trace_id)[:2] == [None, None]
    agents = sql_rows(collector.base_url, "SELECT DISTINCT agent_id FROM genai_log_records WHERE trace_id = ?",
                      [trace_id.hex()])
    assert agents == [[agent_id + "-other"]]


def _log_counts(collector: CollectorProcess) -> dict[str, float]:
    with urllib.request.urlopen(collector.base_url + "/metrics", timeout=30) as response:
        text = response.read().decode()
    counts = {}
    for line in text.splitlines():
        if line.startswith("kate_log_records_total{") and 'protocol="otlp_http"' in line:
            outcome = line.split('outcome="')[1].split('"')[0]
            counts[outcome] = float(line.rsplit(" ", 1)[1])
    return counts


async def test_other_logs_are_dropped_and_genai_records_without_a_span_rejected_over_json(
    collector: CollectorProcess, agent_id: str
) -> None:
    trace_id, span_id = os.urandom(16).hex(), os.urandom(8).hex()
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": agent_id}}]}
    records = [
        {"timeUnixNano": "1760400000000000000", "body": {"stringValue": "GET /health 200"}, "traceId": trace_id,
         "spanId": span_id},  # an application log line: not GenAI
        {"timeUnixNano": "1760400000000000001", "eventName": "gen_ai.user.message",
         "body": {"kvlistValue": {"values": [{"key": "content", "value": {"stringValue": QUESTION}}]}}},  # no span
        {"timeUnixNano": "1760400000000000002", "traceId": trace_id.upper(), "spanId": span_id,
         "attributes": [{"key": "event.name", "value": {"stringValue": "gen_ai.user.message"}}],
         "body": {"kvlistValue": {"values": [{"key": "content", "value": {"stringValue": QUESTION}}]}}},
    ]
    body = json.dumps({"resourceLogs": [{"resource": resource, "scopeLogs": [{"logRecords": records}]}]}).encode()
    before = _log_counts(collector)
    async with aiohttp.ClientSession() as session:
        response = await _post(session, collector, "/v1/logs", body, content_type=JSON)
    assert response.partial_success.rejected_log_records == 1
    assert "resourceLogs[0].scopeLogs[0].logRecords[1]" in response.partial_success.error_message
    assert "span_id" in response.partial_success.error_message
    after = _log_counts(collector)
    assert {k: after.get(k, 0) - before.get(k, 0) for k in ("stored", "dropped", "rejected")} == {
        "stored": 1, "dropped": 1, "rejected": 1}
    ((name, stored_span),) = sql_rows(collector.base_url, "SELECT event_name, span_id FROM genai_log_records"
                                      " WHERE trace_id = ?", [trace_id])
    assert (name, stored_span) == ("gen_ai.user.message", span_id)


async def test_a_logs_body_that_is_not_otlp_is_refused(collector: CollectorProcess) -> None:
    async with aiohttp.ClientSession() as session:
        corrupt = await post_otlp(session, collector.base_url, b"\xff\xff\xff", path="/v1/logs")
        bad_id = await post_otlp(session, collector.base_url, json.dumps({"resourceLogs": [{"scopeLogs": [
            {"logRecords": [{"traceId": "xyz", "eventName": "gen_ai.choice"}]}]}]}).encode(),
            content_type=JSON, path="/v1/logs")
        wrong_type = await post_otlp(session, collector.base_url, b"{}", content_type="text/plain", path="/v1/logs")
    assert corrupt.status == 400 and "protobuf" in corrupt.status_message().message
    assert bad_id.status == 400 and "resourceLogs[0].scopeLogs[0].logRecords[0].traceId" in bad_id.status_message().message
    assert wrong_type.status == 415


@pytest.mark.conformance
async def test_retention_deletes_the_records_of_the_spans_it_deletes(start_collector: StartCollector) -> None:
    age_s = 3.0  # a tiny max_age_days: the run comes due while the test watches
    collector = start_collector(config={"evaluation": {"enabled": False}, "retention": {
        "max_age_days": age_s / 86_400, "interval_s": 1, "max_age_days_by_agent": {"kept": 0}}})
    start_ns = 1_760_500_000_000_000_000
    traces = {"pruned": (os.urandom(16), os.urandom(8)), "kept": (os.urandom(16), os.urandom(8))}  # root spans
    run_id = run_id_for_trace(int.from_bytes(traces["pruned"][0], "big"))
    async with aiohttp.ClientSession() as session:
        for agent, (trace_id, span_id) in traces.items():
            await _post(session, collector, "/v1/logs", logs_body(agent, message_records(trace_id, span_id, start_ns)))
            await _post(session, collector, "/v1/traces", span_body(agent, trace_id, span_id, start_ns))
        api = Api(collector.base_url, session)
        run = (await api.call("GET", f"/agents/pruned/runs/{run_id}")).body
        assert (run["user_input"], run["output"]) == (f"system: {SYSTEM}\nuser: {QUESTION}", REPLY)  # the root's texts

        async def run_status() -> int:
            return (await api.call("GET", f"/agents/pruned/runs/{run_id}")).status

        await poll(run_status, lambda status: status == 404, what="the expired run to be deleted", timeout_s=60)

    def records(agent: str) -> int:
        return int(sql_rows(collector.base_url, "SELECT count(*) FROM genai_log_records WHERE trace_id = ?",
                            [traces[agent][0].hex()])[0][0])

    # On ClickHouse the records go by a mutation, applied in the background: polled, bounded.
    await poll(lambda: records("pruned"), lambda count: count == 0, what="the records to be deleted", timeout_s=30)
    assert records("kept") == 3


async def test_kate_export_writes_the_records_of_a_window(collector: CollectorProcess, agent_id: str,
                                                          tmp_path: Path) -> None:
    start_ns = 1_764_547_200_000_000_000  # 2025-12-01T00:00:00Z
    trace_id, span_id = os.urandom(16), os.urandom(8)
    async with aiohttp.ClientSession() as session:
        await _post(session, collector, "/v1/logs", logs_body(agent_id, message_records(trace_id, span_id, start_ns)))
    done = subprocess.run([sys.executable, "-m", "kate.collector", "export", "--url", collector.base_url,
                           "--since", "2025-12-01T00:00:00Z", "--until", "2025-12-02T00:00:00Z", "--agent", agent_id,
                           "--format", "jsonl", "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    (part,) = (tmp_path / "out" / "genai_log_records").glob("*/part-0.jsonl")
    rows = [json.loads(line) for line in part.read_text(encoding="utf-8").splitlines()]
    assert [row["event_name"] for row in rows] == ["gen_ai.system.message", "gen_ai.user.message", "gen_ai.choice"]
    assert json.loads(rows[1]["body"]) == {"content": QUESTION} and rows[0]["span_id"] == span_id.hex()


@pytest.mark.conformance
async def test_with_an_evaluation_delay_log_records_after_the_root_span_are_evaluated(start_app: StartApp) -> None:
    """A bare LLM call is its own run's root: its span completes the run, and its records, sent
    after it, give the run its output. evaluation.delay_s lets final_output see that output."""
    server = start_app(config={"evaluation": {"delay_s": 2, "cooldown_s": 0}})
    trace_id, span_id = os.urandom(16), os.urandom(8)
    start_ns = time.time_ns()
    run_id = run_id_for_trace(int.from_bytes(trace_id, "big"))
    async with aiohttp.ClientSession() as session:
        await _post(session, server, "/v1/traces", span_body("delayed", trace_id, span_id, start_ns))
        api = Api(server.base_url, session)
        assert (await api.call("GET", f"/agents/delayed/runs/{run_id}")).body["evaluation_status"] == "pending"
        await _post(session, server, "/v1/logs", logs_body("delayed", message_records(trace_id, span_id, start_ns)))
        run = await evaluated_run(api, "delayed", run_id, timeout_s=30)
    assert run["output"] == REPLY
    final_output = next(score for score in run["scores"] if score["evaluator"] == "final_output")
    assert final_output["score"] == 1.0, final_output

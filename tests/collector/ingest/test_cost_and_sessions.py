"""Span cost in USD and session/user ids, end to end (docs/mapping.md#cost, #sessions-and-users):
the real OTLP exporters send real-shaped spans of three conventions to a collector configured
with one price of its own; the spans, the run, the views and the uploads carry the results."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Iterator
from importlib import metadata

import genai_prices
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.trace import set_span_in_context

from tests.support.http import Api
from tests.support.otlp_client import RecordingExporter, get_run, run_spans, sql_rows
from tests.support.server import CollectorProcess, start_collector_process

T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z in unix nanoseconds
S = 1_000_000_000
OVERRIDE = {"model": "acme-tuned-*", "input_per_million": 2.0, "output_per_million": 8.0,
            "cached_input_per_million": 0.5}
# A model that genai-prices knows too: the configured price must win over it.
OVERRIDE_KNOWN = {"model": "GPT-4O-MINI*", "input_per_million": 100.0, "output_per_million": 100.0}
GENAI_SOURCE = f"genai-prices {metadata.version('genai-prices')}"

# (node, attributes) of the LLM calls of one run, one per convention and case.
CALLS: list[tuple[str, dict[str, object]]] = [
    ("openai-genai", {"gen_ai.operation.name": "chat", "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o",
                      "gen_ai.response.model": "gpt-4o-2024-08-06", "gen_ai.usage.input_tokens": 1200,
                      "gen_ai.usage.output_tokens": 300, "gen_ai.usage.cache_read.input_tokens": 1000,
                      "gen_ai.conversation.id": "conv-7"}),
    ("anthropic-openinference", {"openinference.span.kind": "LLM", "llm.provider": "anthropic",
                                 "llm.model_name": "claude-sonnet-4-20250514", "llm.token_count.prompt": 2000,
                                 "llm.token_count.completion": 500, "session.id": "ignored-later-span",
                                 "user.id": "user-42"}),
    ("google-openllmetry", {"traceloop.span.kind": "llm", "gen_ai.system": "Google",
                            "gen_ai.request.model": "gemini-2.0-flash", "gen_ai.usage.prompt_tokens": 4000,
                            "gen_ai.usage.completion_tokens": 1000}),
    ("unknown-model", {"gen_ai.operation.name": "chat", "gen_ai.request.model": "no-such-model-9000",
                       "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 10}),
    ("configured", {"gen_ai.operation.name": "chat", "gen_ai.request.model": "acme-tuned-v2",
                    "gen_ai.usage.input_tokens": 1_000_000, "gen_ai.usage.output_tokens": 500_000,
                    "gen_ai.usage.cache_read.input_tokens": 200_000}),
    ("configured-over-package", {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini",
                                 "gen_ai.usage.input_tokens": 10_000, "gen_ai.usage.output_tokens": 10_000}),
    ("stated", {"openinference.span.kind": "LLM", "llm.model_name": "gpt-4o", "llm.token_count.prompt": 10,
                "llm.token_count.completion": 10, "llm.cost.total": "0.125", "llm.cost.prompt": 0.1,
                "llm.cost.completion": 0.025}),
]


def package_price(model: str, provider: str | None, **usage: int) -> tuple[float, float]:
    """(input, output) USD as genai-prices itself computes them, at the spans' start time."""
    price = genai_prices.calc_price(genai_prices.Usage(**usage), model, provider_id=provider,
                                    genai_request_timestamp=dt.datetime.fromtimestamp(T0 / S, dt.UTC))
    return float(price.input_price), float(price.output_price)


@pytest.fixture(scope="module")
def priced_collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    process = start_collector_process(tmp_path_factory.mktemp("cost") / "cost.duckdb",
                                      config={"cost": {"prices": [OVERRIDE, OVERRIDE_KNOWN]}})
    yield process
    process.stop()


def send_run(collector: CollectorProcess, protocol: str, agent_id: str, run_id: str) -> None:
    exporter = RecordingExporter(
        HttpExporter(endpoint=f"{collector.base_url}/v1/traces", timeout=10) if protocol == "http"
        else GrpcExporter(endpoint=f"127.0.0.1:{collector.grpc_port}", insecure=True, timeout=10))
    provider = TracerProvider(resource=Resource.create({"kate.agent.id": agent_id}), shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("cost.test")
    root = tracer.start_span("agent", start_time=T0, attributes={"kate.run.id": run_id,
                                                                 "openinference.span.kind": "AGENT"})
    for offset, (node, attributes) in enumerate(CALLS, start=1):
        tracer.start_span(node, context=set_span_in_context(root), start_time=T0 + offset * S,
                          attributes={"kate.run.id": run_id, **attributes}).end(end_time=T0 + (offset + 1) * S)
    root.end(end_time=T0 + 60 * S)
    provider.shutdown()
    assert set(exporter.results) == {SpanExportResult.SUCCESS}


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_each_llm_span_is_priced_by_the_first_source_that_knows_it(priced_collector: CollectorProcess,
                                                                    protocol: str, agent_id: str) -> None:
    run_id = str(uuid.uuid4())
    send_run(priced_collector, protocol, agent_id, run_id)

    spans = {span["node_name"]: span for span in run_spans(priced_collector.base_url, agent_id, run_id)}
    costs = {node: (spans[node]["input_cost_usd"], spans[node]["output_cost_usd"], spans[node]["cost_source"])
             for node, _ in CALLS}

    # OpenAI, cached tokens at the cached price; Anthropic and Google, all at the input price.
    expected_openai = package_price("gpt-4o-2024-08-06", "openai", input_tokens=1200, cache_read_tokens=1000,
                                    output_tokens=300)
    assert costs["openai-genai"] == pytest.approx((*expected_openai, GENAI_SOURCE))
    assert spans["openai-genai"]["cached_input_tokens"] == 1000
    # One figure checked by hand, so that a broken price source cannot pass: gpt-4o is $2.50 per
    # million input tokens ($1.25 cached) and $10 per million output tokens.
    assert costs["openai-genai"][:2] == pytest.approx((200 * 2.5e-6 + 1000 * 1.25e-6, 300 * 10e-6))
    expected_anthropic = package_price("claude-sonnet-4-20250514", "anthropic", input_tokens=2000, output_tokens=500)
    assert costs["anthropic-openinference"] == pytest.approx((*expected_anthropic, GENAI_SOURCE))
    expected_google = package_price("gemini-2.0-flash", "google", input_tokens=4000, output_tokens=1000)
    assert costs["google-openllmetry"] == pytest.approx((*expected_google, GENAI_SOURCE))
    assert min(expected_openai + expected_anthropic + expected_google) > 0

    # Unknown: NULL, never $0.
    assert (spans["unknown-model"]["cost_usd"], costs["unknown-model"]) == (None, (None, None, None))
    # The configuration: 800k input at $2, 200k cached at $0.5, 500k output at $8 per million.
    assert costs["configured"] == pytest.approx((1.6 + 0.1, 4.0, "config"))
    assert costs["configured-over-package"] == pytest.approx((1.0, 1.0, "config"))
    # A cost the span states wins over every price.
    assert (spans["stated"]["cost_usd"], *costs["stated"]) == pytest.approx((0.125, 0.1, 0.025, "span"))
    assert "llm.cost.total" not in spans["stated"]["attributes"]

    priced = [spans[node]["cost_usd"] for node, _ in CALLS if spans[node]["cost_usd"] is not None]
    run = get_run(priced_collector.base_url, agent_id, run_id)
    assert run["total_cost_usd"] == pytest.approx(math.fsum(priced))
    ((summary_cost, unpriced),) = sql_rows(priced_collector.base_url,
                                           "SELECT total_cost_usd, unpriced_llm_calls FROM run_summary"
                                           " WHERE run_id = ?", [run_id])
    assert (summary_cost, unpriced) == (pytest.approx(run["total_cost_usd"]), 1)
    daily = dict(sql_rows(priced_collector.base_url,
                          "SELECT model, cost_usd FROM model_usage_daily WHERE agent_id = ?", [agent_id]))
    assert daily["acme-tuned-v2"] == pytest.approx(5.7)
    assert daily["no-such-model-9000"] is None


def test_sessions_and_users_come_from_each_convention(priced_collector: CollectorProcess, agent_id: str) -> None:
    run_id = str(uuid.uuid4())
    send_run(priced_collector, "http", agent_id, run_id)

    spans = {span["node_name"]: span for span in run_spans(priced_collector.base_url, agent_id, run_id)}
    assert (spans["openai-genai"]["session_id"], spans["openai-genai"]["user_id"]) == ("conv-7", None)
    assert (spans["anthropic-openinference"]["session_id"], spans["anthropic-openinference"]["user_id"]) == (
        "ignored-later-span", "user-42")
    assert "session.id" not in spans["anthropic-openinference"]["attributes"]
    # The run takes the first span's ids, by start time.
    run = get_run(priced_collector.base_url, agent_id, run_id)
    assert (run["session_id"], run["user_id"]) == ("conv-7", "user-42")
    ((runs, tokens),) = sql_rows(priced_collector.base_url, "SELECT run_count, total_tokens FROM sessions"
                                 " WHERE agent_id = ? AND session_id = 'conv-7'", [agent_id])
    assert (runs, tokens) == (1, run["total_tokens"])


@pytest.mark.parametrize("convention", [
    {"traceloop.association.properties.session_id": "s-tl", "traceloop.association.properties.user_id": "u-tl"},
    {"session.id": "s-tl", "user.id": "u-tl"},
])
def test_openllmetry_and_openinference_session_keys(priced_collector: CollectorProcess, agent_id: str,
                                                    convention: dict[str, str]) -> None:
    run_id = str(uuid.uuid4())
    exporter = HttpExporter(endpoint=f"{priced_collector.base_url}/v1/traces", timeout=10)
    provider = TracerProvider(resource=Resource.create({"kate.agent.id": agent_id}), shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    provider.get_tracer("t").start_span("task", start_time=T0, attributes={"kate.run.id": run_id, **convention}).end(
        end_time=T0 + S)
    provider.shutdown()

    (span,) = run_spans(priced_collector.base_url, agent_id, run_id)
    assert (span["session_id"], span["user_id"]) == ("s-tl", "u-tl")


async def test_a_run_created_with_ids_keeps_them_and_uploads_are_priced(collector: CollectorProcess, api: Api,
                                                                         agent_id: str) -> None:
    created = await api.create_run(agent_id, session_id="chat-1", user_id="ada")
    assert (created["session_id"], created["user_id"], created["total_cost_usd"]) == ("chat-1", "ada", None)

    uploaded = await api.call("POST", f"/agents/{agent_id}/runs/{created['id']}/spans", {"spans": [
        {"node_name": "llm", "model": "gpt-4o", "input_tokens": 1_000_000, "output_tokens": 0,
         "attributes": {"session.id": "other-session"}},
    ]})
    assert uploaded.status == 201, uploaded.text

    (span,) = run_spans(collector.base_url, agent_id, created["id"])
    assert (span["cost_usd"], span["cost_source"]) == (pytest.approx(2.5), GENAI_SOURCE)
    run = get_run(collector.base_url, agent_id, created["id"])
    assert (run["session_id"], run["user_id"], run["total_cost_usd"]) == ("chat-1", "ada", pytest.approx(2.5))


@pytest.mark.parametrize(("field", "value"), [("session_id", ""), ("session_id", 7), ("user_id", " padded"),
                                              ("user_id", "x" * 257)])
async def test_bad_session_or_user_ids_are_refused_naming_the_field(api: Api, agent_id: str, field: str,
                                                                    value: object) -> None:
    answer = await api.call("POST", f"/agents/{agent_id}/runs", {"trigger": "manual", field: value})

    assert (answer.status, answer.body["error"]["code"]) == (422, "validation_error")
    assert field in answer.body["error"]["message"]


async def test_an_agents_sessions_and_a_sessions_runs_in_order(collector: CollectorProcess, api: Api,
                                                               agent_id: str) -> None:
    first = await api.create_run(agent_id, session_id="trip", user_id="ada")
    second = await api.create_run(agent_id, session_id="trip")
    other = await api.create_run(agent_id, session_id="lunch")
    await api.create_run(agent_id)  # no session: in no session's figures
    for run, tokens in ((first, 100), (second, 50), (other, 7)):
        uploaded = await api.call("POST", f"/agents/{agent_id}/runs/{run['id']}/spans", {"spans": [
            {"node_name": "llm", "model": "gpt-4o", "input_tokens": tokens, "output_tokens": 0, "token_count": tokens,
             "input_text": f"ask {tokens}", "output_text": f"answer {tokens}"}]})
        assert uploaded.status == 201, uploaded.text
        completed = await api.call("POST", f"/agents/{agent_id}/runs/{run['id']}/complete")
        assert completed.status == 200, completed.text

    listed = await api.call("GET", f"/agents/{agent_id}/sessions")
    assert listed.status == 200, listed.text
    sessions = {session["session_id"]: session for session in listed.body["sessions"]}
    assert [s["session_id"] for s in listed.body["sessions"]] == ["lunch", "trip"]  # latest activity first
    trip = sessions["trip"]
    assert (trip["run_count"], trip["total_tokens"], trip["user_id"], trip["failed_runs"]) == (2, 150, "ada", 0)
    assert trip["total_cost_usd"] == pytest.approx(150 * 2.5e-6)
    assert trip["p50_latency_ms"] is not None and trip["p99_latency_ms"] >= trip["p50_latency_ms"]
    assert trip["first_time"] <= trip["last_time"]

    paged = await api.call("GET", f"/agents/{agent_id}/sessions", params={"limit": "1"})
    rest = await api.call("GET", f"/agents/{agent_id}/sessions",
                          params={"limit": "1", "cursor": paged.body["next_cursor"]})
    assert [s["session_id"] for s in paged.body["sessions"] + rest.body["sessions"]] == ["lunch", "trip"]
    assert rest.body["next_cursor"] is None

    runs = await api.call("GET", f"/agents/{agent_id}/sessions/trip/runs")
    assert [run["id"] for run in runs.body["runs"]] == [first["id"], second["id"]]
    missing = await api.call("GET", f"/agents/{agent_id}/sessions/no-such-session/runs")
    assert (missing.status, missing.body["error"]["code"]) == (404, "not_found")

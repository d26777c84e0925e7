"""A real instrumentation library end to end: openinference-instrumentation-openai around the
openai client, against a fake OpenAI server on 127.0.0.1, exported by the stock OTLP/HTTP
exporter to the real collector; the stored LLM records have the right fields."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import openai
import pytest
from openinference.instrumentation.openai import OpenAIInstrumentor
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.trace import Tracer

from tests.support.fake_openai import ERROR_MODEL, MODEL_SUFFIX, REPLY, USAGE, fake_openai_server
from tests.support.otlp_client import RecordingExporter, get_run, run_id_for_trace, run_spans
from tests.support.server import CollectorProcess

QUESTION = "What is the capital of France?"
MODEL = "gpt-4o-mini"
WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


@dataclass
class Instrumented:
    client: openai.OpenAI
    tracer: Tracer
    exporter: RecordingExporter
    collector: CollectorProcess
    agent_id: str

    def run(self, call: Callable[[openai.OpenAI], object]) -> tuple[str, list[dict[str, Any]]]:
        """Make call inside an agent span; return the run id and its stored spans."""
        with self.tracer.start_as_current_span("agent") as root:
            call(self.client)
        assert set(self.exporter.results) == {SpanExportResult.SUCCESS}  # acked: the rows are committed
        run_id = run_id_for_trace(root.get_span_context().trace_id)
        return run_id, run_spans(self.collector.base_url, self.agent_id, run_id)

    def llm_span(self, call: Callable[[openai.OpenAI], object]) -> dict[str, Any]:
        run_id, spans = self.run(call)
        (llm,) = [span for span in spans if span["span_kind"] == "LLM"]
        (root,) = [span for span in spans if span["parent_span_id"] is None]
        assert llm["parent_span_id"] == root["span_id"]
        assert get_run(self.collector.base_url, self.agent_id, run_id)["status"] == "completed"
        return llm


@pytest.fixture(scope="module")
def instrumented(collector: CollectorProcess) -> Iterator[Instrumented]:
    agent_id = "openinference-agent"
    exporter = RecordingExporter(OTLPSpanExporter(endpoint=f"{collector.base_url}/v1/traces", timeout=10))
    provider = TracerProvider(resource=Resource.create({"kate.agent.id": agent_id}), shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        with fake_openai_server() as base_url:
            client = openai.OpenAI(base_url=base_url, api_key="test-key", max_retries=0)
            yield Instrumented(client, provider.get_tracer("agent"), exporter, collector, agent_id)
    finally:
        instrumentor.uninstrument()
        provider.shutdown()


def _messages() -> list[dict[str, str]]:
    return [{"role": "system", "content": "Answer in one sentence."}, {"role": "user", "content": QUESTION}]


def _assert_usage(llm: dict[str, Any]) -> None:
    assert (llm["input_tokens"], llm["output_tokens"]) == (USAGE["prompt_tokens"], USAGE["completion_tokens"])
    assert llm["token_count"] == USAGE["total_tokens"]


def test_chat_completion(instrumented: Instrumented) -> None:
    llm = instrumented.llm_span(lambda c: c.chat.completions.create(model=MODEL, messages=_messages()))
    assert llm["model"] == MODEL + MODEL_SUFFIX  # the response model, not the requested one
    _assert_usage(llm)
    assert QUESTION in llm["input_text"] and "Answer in one sentence." in llm["input_text"]
    assert REPLY in llm["output_text"]
    assert llm["status"] == "OK" and llm["latency_ms"] > 0


def test_streamed_chat_completion_with_usage(instrumented: Instrumented) -> None:
    def call(client: openai.OpenAI) -> None:
        stream = client.chat.completions.create(model=MODEL, messages=_messages(), stream=True,
                                                stream_options={"include_usage": True})
        assert "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices) == REPLY

    llm = instrumented.llm_span(call)
    assert llm["model"] == MODEL + MODEL_SUFFIX
    _assert_usage(llm)  # from the final usage chunk
    assert QUESTION in llm["input_text"] and REPLY in llm["output_text"]


def test_tool_call(instrumented: Instrumented) -> None:
    llm = instrumented.llm_span(lambda c: c.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Weather in Paris?"}], tools=[WEATHER_TOOL]))
    assert "Weather in Paris?" in llm["input_text"]
    assert 'get_weather({"city":"Paris"})' in llm["output_text"]  # a tool-call-only reply is not empty
    _assert_usage(llm)


def test_api_error_is_an_error_span(instrumented: Instrumented) -> None:
    def call(client: openai.OpenAI) -> None:
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(model=ERROR_MODEL, messages=_messages())

    llm = instrumented.llm_span(call)
    assert llm["status"] == "ERROR"
    assert "does not exist" in (llm["status_message"] or "")
    assert QUESTION in llm["input_text"]
    assert llm["output_text"] is None and llm["token_count"] is None

"""Pydantic logfire's OpenAI instrumentation against a real collector (docs/mapping.md): spans are
named by the rendered message, and a streamed call counts as one LLM call with its tokens once.
logfire configures the process-wide OpenTelemetry state, so the agent runs in its own process."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.fake_openai import MODEL_SUFFIX as FAKE_MODEL_SUFFIX
from tests.support.fake_openai import fake_openai_server
from tests.support.otlp_client import run_id_for_trace, run_spans, sql_rows
from tests.support.server import CollectorProcess

AGENT = textwrap.dedent("""
    import sys
    import logfire, openai
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    kate_url, openai_url, agent_id = sys.argv[1:4]
    logfire.configure(send_to_logfire=False, console=False, service_name=agent_id,
                      additional_span_processors=[SimpleSpanProcessor(OTLPSpanExporter(endpoint=kate_url + "/v1/traces"))])
    client = openai.OpenAI(base_url=openai_url, api_key="test-key")
    logfire.instrument_openai(client)
    with logfire.span("answer the user") as turn:
        question = [{"role": "user", "content": "What is the capital of France?"}]
        client.chat.completions.create(model="gpt-4o", messages=question)
        for _ in range(2):
            for _ in client.chat.completions.create(model="gpt-4o", messages=question, stream=True,
                                                    stream_options={"include_usage": True}):
                pass
    logfire.force_flush()
    print(turn.get_span_context().trace_id)
""")


@pytest.mark.duckdb_only("its check reads the run_summary view")
def test_a_streamed_call_is_one_llm_call_and_spans_are_named_by_their_message(
    collector: CollectorProcess, agent_id: str, tmp_path: Path
) -> None:
    script = tmp_path / "agent.py"
    script.write_text(AGENT, encoding="utf-8")
    with fake_openai_server() as openai_url:
        done = subprocess.run([sys.executable, str(script), collector.base_url, openai_url, agent_id],
                              capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    run_id = run_id_for_trace(int(done.stdout.split()[-1]))

    spans = run_spans(collector.base_url, agent_id, run_id)
    llm = [span for span in spans if span["span_kind"] == "LLM"]
    assert [span["node_name"] for span in llm] == ["Chat Completion with 'gpt-4o'"] * 3
    streamed = [span for span in spans if span["attributes"].get("logfire.span_type") == "log"]
    assert len(streamed) == 2 and all(span["span_kind"] == "UNKNOWN" for span in streamed)
    assert all(span["output_text"] and span["token_count"] for span in streamed)  # every byte still there
    ((calls, tokens, models),) = sql_rows(collector.base_url,
                                          "SELECT llm_calls, total_tokens, models FROM run_summary WHERE run_id = ?",
                                          [run_id])
    per_call = next(span["token_count"] for span in llm if span["token_count"])  # the unstreamed call's
    assert (calls, tokens) == (3, 3 * per_call)
    # The LLM spans' models only: the unstreamed call's response model, the streamed requests' model;
    # the log records' dated response model is not a third call.
    assert models == ["gpt-4o", "gpt-4o" + FAKE_MODEL_SUFFIX]

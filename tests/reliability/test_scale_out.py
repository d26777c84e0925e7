"""Two collectors sharing one ClickHouse cluster (2 shards) and one PostgreSQL (docs/deployment.md):
whichever collector a request reaches, the answer is the same and a transition happens once."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import psycopg
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter

from scripts.local_cluster import LocalCluster
from tests.support.cluster import engine_config, private_database
from tests.support.fake_openai import REPLY
from tests.support.genai_logs import QUESTION, SYSTEM, logs_body, message_records, span_body
from tests.support.http import Api
from tests.support.otlp_client import post_otlp, sql_rows
from tests.support.server import CollectorProcess, start_collector_process
from tests.support.waiting import finished_run

Pair = tuple[CollectorProcess, CollectorProcess]
UPLOADS_PER_MINUTE = 6
FOLD_RACES = 16  # spans whose records race them to the other collector


@pytest.fixture(scope="module")
def pair(scale_out_cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    """Two collectors for the module's tests (each test uses its own agent)."""
    config = engine_config(scale_out_cluster, {"evaluation": {"cooldown_s": 3600},
                                               "api": {"upload_rate_limit_per_minute": UPLOADS_PER_MINUTE}})
    folder = tmp_path_factory.mktemp("pair")
    a = start_collector_process(folder / "a.duckdb", config=config)
    try:
        b = start_collector_process(folder / "b.duckdb", config=config)
    except BaseException:
        a.stop()
        raise
    yield a, b
    a.stop()
    b.stop()


def send_trace(exporter: SpanExporter, agent_id: str, question: str) -> str:
    """An agent span with an LLM child, through the stock SDK and exporter; the trace's run id."""
    provider = TracerProvider(resource=Resource.create({"service.name": agent_id}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("scale-out-test")
    with tracer.start_as_current_span("agent", attributes={"openinference.span.kind": "AGENT",
                                                           "input.value": question}) as root:
        with tracer.start_as_current_span("llm", attributes={"openinference.span.kind": "LLM",
                                                             "llm.token_count.total": 7}):
            pass
        root.set_attribute("output.value", f"answer to {question}")
        trace_id = root.get_span_context().trace_id
    provider.shutdown()
    return str(uuid.UUID(int=trace_id))


async def get_json(session: aiohttp.ClientSession, url: str) -> dict[str, object]:
    async with session.get(url) as response:
        assert response.status == 200, await response.text()
        body: dict[str, object] = await response.json()
        return body


async def test_spans_sent_to_either_collector_are_read_through_both(pair: Pair, agent_id: str) -> None:
    a, b = pair
    assert b.grpc_port is not None
    over_http = send_trace(HttpExporter(endpoint=f"{a.base_url}/v1/traces"), agent_id, "one")
    over_grpc = send_trace(GrpcExporter(endpoint=f"127.0.0.1:{b.grpc_port}", insecure=True), agent_id, "two")
    async with aiohttp.ClientSession() as session:
        for collector in pair:
            runs = (await get_json(session, f"{collector.base_url}/agents/{agent_id}/runs"))["runs"]
            assert isinstance(runs, list)
            seen = {run["id"]: (run["status"], run["span_count"], run["total_tokens"], run["user_input"]) for run in runs}
            assert seen == {over_http: ("completed", 2, 7, "one"), over_grpc: ("completed", 2, 7, "two")}
            for run_id in (over_http, over_grpc):
                spans = await get_json(session, f"{collector.base_url}/agents/{agent_id}/runs/{run_id}/spans")
                assert spans["total"] == 2
                assert [span["node_name"] for span in spans["spans"]] == ["agent", "llm"]  # type: ignore[union-attr]


async def test_an_upload_through_one_collector_lands_in_a_run_created_through_the_other(pair: Pair,
                                                                                         agent_id: str) -> None:
    a, b = pair
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{a.base_url}/agents/{agent_id}/runs", json={"trigger": "test"}) as response:
            assert response.status == 201
            run_id = (await response.json())["id"]
        spans = [{"node_name": f"step-{index}", "span_kind": "TOOL", "latency_ms": 5, "token_count": 3}
                 for index in range(4)]
        async with session.post(f"{b.base_url}/agents/{agent_id}/runs/{run_id}/spans", json={"spans": spans}) as response:
            assert response.status in (200, 201, 202), await response.text()
        run = await get_json(session, f"{a.base_url}/agents/{agent_id}/runs/{run_id}")
    assert (run["span_count"], run["total_tokens"]) == (4, 12)


async def test_the_upload_rate_limit_holds_across_collectors(pair: Pair, agent_id: str) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{pair[0].base_url}/agents/{agent_id}/runs", json={"trigger": "test"}) as response:
            run_id = (await response.json())["id"]
        answers = []
        for index in range(UPLOADS_PER_MINUTE + 4):  # alternately through each collector
            url = f"{pair[index % 2].base_url}/agents/{agent_id}/runs/{run_id}/spans"
            async with session.post(url, json={"spans": [{"node_name": f"step-{index}", "span_kind": "TOOL"}]}) as answer:
                answers.append((answer.status, answer.headers.get("Retry-After")))
    accepted = [status for status, _ in answers if status == 201]
    refused = [(status, retry) for status, retry in answers if status != 201]
    assert len(accepted) == UPLOADS_PER_MINUTE  # one bucket for the run, whichever collector is asked
    assert refused and all(status == 429 and retry is not None and int(retry) >= 1 for status, retry in refused)


async def test_a_run_completes_once_whichever_collector_is_asked(pair: Pair, agent_id: str,
                                                                 scale_out_cluster: LocalCluster) -> None:
    a, b = pair
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{a.base_url}/agents/{agent_id}/runs", json={"trigger": "test"}) as response:
            run_id = (await response.json())["id"]

        async def complete(collector: CollectorProcess) -> int:
            async with session.post(f"{collector.base_url}/agents/{agent_id}/runs/{run_id}/complete") as answer:
                return answer.status

        statuses = await asyncio.gather(*(complete(pair[index % 2]) for index in range(10)))
        run = await wait_evaluated(session, f"{b.base_url}/agents/{agent_id}/runs/{run_id}")
    assert Counter(statuses) == {200: 1, 409: 9}
    assert run["status"] == "completed"
    assert _evaluations_recorded(scale_out_cluster, run_id) == 1


async def test_the_evaluation_cooldown_holds_across_collectors(pair: Pair, agent_id: str) -> None:
    async with aiohttp.ClientSession() as session:
        run_ids = []
        for collector in pair:
            async with session.post(f"{collector.base_url}/agents/{agent_id}/runs", json={"trigger": "test"}) as answer:
                run_ids.append((await answer.json())["id"])

        async def complete(collector: CollectorProcess, run_id: str) -> None:
            async with session.post(f"{collector.base_url}/agents/{agent_id}/runs/{run_id}/complete") as answer:
                assert answer.status == 200

        await asyncio.gather(*(complete(collector, run_id) for collector, run_id in zip(pair, run_ids, strict=True)))
        runs = [await get_json(session, f"{pair[0].base_url}/agents/{agent_id}/runs/{run_id}") for run_id in run_ids]
    statuses = sorted(str(run["evaluation_status"]) for run in runs)
    assert statuses[1] == "skipped_cooldown" and statuses[0] in ("done", "pending")  # one admitted, the other not


async def test_a_span_resent_to_the_other_collector_is_counted_once(pair: Pair, agent_id: str) -> None:
    a, b = pair
    spans: list[object] = []

    class Recording(HttpExporter):
        def export(self, batch):  # type: ignore[no-untyped-def]
            spans.extend(batch)
            return super().export(batch)

    run_id = send_trace(Recording(endpoint=f"{a.base_url}/v1/traces"), agent_id, "again")
    assert HttpExporter(endpoint=f"{b.base_url}/v1/traces").export(spans).name == "SUCCESS"  # type: ignore[arg-type]
    async with aiohttp.ClientSession() as session:
        for collector in pair:
            run = await get_json(session, f"{collector.base_url}/agents/{agent_id}/runs/{run_id}")
            page = await get_json(session, f"{collector.base_url}/agents/{agent_id}/runs/{run_id}/spans")
            assert (run["span_count"], run["total_tokens"], page["total"]) == (2, 7, 2)
            assert len(page["spans"]) == 2  # type: ignore[arg-type]


async def test_log_records_and_their_span_sent_at_once_to_different_collectors_always_meet(
    pair: Pair, agent_id: str
) -> None:
    """Each LLM span to one collector and its records to the other, all at once: whichever looks
    second finds what the other stored (clickhouse/genai_logs.py). A retry of each span as first
    sent, through the other collector, does not undo what was folded into it."""
    start_ns = time.time_ns()
    calls = [(os.urandom(16), os.urandom(8)) for _ in range(FOLD_RACES)]

    async def post(session: aiohttp.ClientSession, collector: CollectorProcess, path: str, body: bytes) -> None:
        answer = await post_otlp(session, collector.base_url, body, path=path)
        assert answer.status == 200, answer.body

    async def race(session: aiohttp.ClientSession, index: int, trace_id: bytes, span_id: bytes) -> None:
        span_to, records_to = pair if index % 2 else pair[::-1]
        await asyncio.gather(
            post(session, span_to, "/v1/traces", span_body(agent_id, trace_id, span_id, start_ns)),
            post(session, records_to, "/v1/logs", logs_body(agent_id, message_records(trace_id, span_id, start_ns))))

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(race(session, index, *call) for index, call in enumerate(calls)))
        for index, (trace_id, span_id) in enumerate(calls):  # the senders retry the spans elsewhere
            await post(session, pair[index % 2], "/v1/traces", span_body(agent_id, trace_id, span_id, start_ns))
        runs = [await get_json(session, f"{pair[index % 2].base_url}/agents/{agent_id}/runs/"
                               f"{uuid.UUID(bytes=trace_id)}") for index, (trace_id, _) in enumerate(calls)]
    prompt = f"system: {SYSTEM}\nuser: {QUESTION}"
    for collector in pair:
        rows = sql_rows(collector.base_url, "SELECT trace_id, input_text, output_text FROM spans WHERE agent_id = ?",
                        [agent_id])
        assert sorted(rows) == sorted([trace_id.hex(), prompt, REPLY] for trace_id, _ in calls)
    assert [(run["user_input"], run["output"]) for run in runs] == [(prompt, REPLY)] * len(calls)


async def wait_evaluated(session: aiohttp.ClientSession, url: str, timeout_s: float = 15.0) -> dict[str, object]:
    """The run once its evaluation is recorded (polled, bounded)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        run = await get_json(session, url)
        if run["evaluation_status"] == "done" or asyncio.get_running_loop().time() > deadline:
            return run
        await asyncio.sleep(0.1)


def _evaluations_recorded(cluster: LocalCluster, run_id: str) -> int:
    """How many evaluations of the run were recorded (each is one evaluation_id)."""
    assert cluster.postgres is not None
    with psycopg.connect(cluster.postgres.url) as connection:
        row = connection.execute("SELECT count(DISTINCT evaluation_id) FROM evaluations WHERE run_id = %s",
                                 [run_id]).fetchone()
    assert row is not None
    return int(row[0])


async def test_each_hosted_job_runs_once_with_two_collectors_claiming(scale_out_cluster: LocalCluster,
                                                                       tmp_path: Path) -> None:
    hosting = {"jobs": {"poll_interval_ms": 50, "lease_s": 10, "shutdown_grace_s": 0.2},
               "hosted_agents": [{"agent_id": "slow", "entrypoint": "tests.support.hosted_agents:slow_once"}]}
    config = engine_config(scale_out_cluster, hosting, database=private_database())
    env = {"PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    workers = [start_collector_process(tmp_path / f"{name}.duckdb", config=config, env=env) for name in ("a", "b")]
    try:
        async with aiohttp.ClientSession() as session:
            jobs = []
            for index in range(8):
                task = json.dumps({"log": str(tmp_path / f"job-{index}.log"), "sleep_s": 0.2})
                async with session.post(f"{workers[index % 2].base_url}/agents/slow/runs/enqueue",
                                        json={"trigger": "manual", "user_input": task}) as answer:
                    assert answer.status == 202, await answer.text()
                    jobs.append(await answer.json())
            api = Api(workers[0].base_url, session)
            runs = [await finished_run(api, "slow", job["run_id"]) for job in jobs]
            owners = [await get_json(session, f"{workers[1].base_url}/jobs/{job['job_id']}") for job in jobs]
    finally:
        for worker in workers:
            worker.stop()
    assert [run["status"] for run in runs] == ["completed"] * 8
    assert [job["attempts"] for job in owners] == [1] * 8
    for index in range(8):  # each agent ran once: one start and one done in its own log
        lines = (tmp_path / f"job-{index}.log").read_text(encoding="utf-8").split()
        assert lines[0::2] == ["start", "done"], lines

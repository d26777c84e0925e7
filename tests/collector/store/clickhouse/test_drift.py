"""The clickhouse engine's DDL and queries answer alike on ClickHouse 18.16 (Debian's server, the
one CI runs) and on current ClickHouse (26.x, embedded by chdb): the engine's own functions run
on both over the same spans, stored twice (as a retry would), and must return the same."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from kate.collector.ingest.decode_logs import GenAiLogRecord
from kate.collector.store.clickhouse import genai_logs
from kate.collector.store.clickhouse import spans as ch_spans
from kate.collector.store.clickhouse.analysis import run_readonly_query
from kate.collector.store.clickhouse.client import ClickHouseClient
from kate.collector.store.clickhouse.schema import create_tables
from kate.collector.store.engine_settings import ClickHouseConfig
from kate.collector.store.genai_folding import record_times
from kate.collector.store.span_batch import SpanBatch
from kate.collector.store.values import AgentSpanFilter, SpanOrder
from kate.schema.record import SpanRecord

from scripts.local_cluster import LocalCluster
from tests.support.chdb_client import ChdbClient, chdb_session

AGENT = "agent-drift"
RUNS = ("run-1", "run-2")
START = 1_796_000_000_000_000_000  # 2026-11-30


def span(index: int, run_id: str, **values: Any) -> SpanRecord:
    fields: dict[str, Any] = dict(
        span_id=f"{index:016x}", trace_id=f"{RUNS.index(run_id) + 1:032x}", parent_span_id=None if index % 5 == 0 else "0" * 15 + "1",
        run_id=run_id, agent_id=AGENT, node_name=f"node-{index % 3}", span_kind=("LLM", "TOOL", "AGENT")[index % 3],
        input_text=f"q{index} \u00e9\u4e2d 'quoted' \\ back", output_text=None if index % 4 == 0 else f"a{index}",
        model="gpt-4o" if index % 3 == 0 else None, latency_ms=float(index % 4) * 1.5, token_count=index or None,
        input_tokens=index, output_tokens=None, status_code="ERROR" if index % 7 == 0 else "OK", status_message=None,
        start_time_unix_nano=None if index == 9 else START + (index % 6) * 1_000_000, end_time_unix_nano=START + 10**9,
        attributes='{"k": "v", "n": 1}', resource="{}", scope_name="scope", events="[]", truncated=index % 2 == 0,
        cached_input_tokens=None, cost_usd=None if index % 2 else index * 1e-6, input_cost_usd=None,
        output_cost_usd=None, cost_source="test" if index % 2 == 0 else None, session_id="s-1" if index == 3 else None,
        user_id=None,
    )
    fields.update(values)
    return SpanRecord(**fields)


BATCH = SpanBatch.of([span(index, RUNS[index % 2]) for index in range(24)])
# GenAI log records for a root span with its own input and no output (span 0), and for an LLM
# span without texts that arrives after them (span 30).
LATE = SpanBatch.of([span(30, "run-2", input_text=None, output_text=None, parent_span_id="0" * 15 + "2")])


def record(index: int, span_index: int, run_id: str, name: str, body: dict[str, Any]) -> GenAiLogRecord:
    return GenAiLogRecord(f"record-{index}", f"{RUNS.index(run_id) + 1:032x}", f"{span_index:016x}", AGENT, name,
                          START + index, index, None, json.dumps(body), '{"gen_ai.system": "openai"}', "{}", "scope")


def choice(content: str) -> dict[str, Any]:
    return {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}


RECORDS = [record(1, 0, "run-1", "gen_ai.user.message", {"content": "from the logs"}),
           record(2, 0, "run-1", "gen_ai.choice", choice("the logged answer")),
           record(3, 30, "run-2", "gen_ai.user.message", {"content": "late question \u00e9 'q'"}),
           record(4, 30, "run-2", "gen_ai.choice", choice("late answer"))]


@pytest.fixture
async def server_client(scale_out_cluster: LocalCluster) -> AsyncIterator[ClickHouseClient]:
    client = ClickHouseClient(ClickHouseConfig(urls=(scale_out_cluster.nodes[0].url,),
                                               database=f"drift_{uuid.uuid4().hex[:8]}"))
    await client.start()
    yield client
    await client.close()


@pytest.fixture
def embedded_client(tmp_path: Path) -> ChdbClient:
    client = ChdbClient(tmp_path / "chdb", database="drift")
    yield client  # type: ignore[misc]
    client.close()


async def answers(client: Any) -> dict[str, Any]:
    """Everything the engine asks of ClickHouse, over the spans stored twice."""
    await create_tables(client)
    received = dt.datetime(2026, 12, 1, 12, 0, 0)
    await ch_spans.insert_spans(client, BATCH, received)
    await ch_spans.insert_spans(client, BATCH, received)  # a retry: reads must fold it
    found: dict[str, Any] = {}
    found["records stored"] = [await genai_logs.store_records(client, RECORDS, received) for _ in range(2)]
    windows = record_times(RECORDS)
    before_span = await genai_logs.fold(client, windows, max_text_bytes=10_000)
    await ch_spans.insert_spans(client, LATE, received)
    after_span = await genai_logs.fold(client, windows, max_text_bytes=10_000)
    await ch_spans.insert_spans(client, LATE, received)  # a retry of the span as sent: the fold must win
    found["folds"] = [(sorted(folded.found), folded.run_texts) for folded in (before_span, after_span)]
    found["records"] = await run_readonly_query(
        client, "SELECT span_id, event_name, body FROM genai_log_records WHERE agent_id = ? ORDER BY time_unix_nano",
        [AGENT], max_rows=10, max_bytes=10_000, timeout_s=10)
    for run_id in RUNS:
        first = await ch_spans.run_span_page(client, AGENT, run_id, limit=5, after=None, span_kind=None)
        second = await ch_spans.run_span_page(client, AGENT, run_id, limit=50, after=first.next_cursor, span_kind=None)
        tools = await ch_spans.run_span_page(client, AGENT, run_id, limit=50, after=None, span_kind="TOOL")
        found[run_id] = ([first.rows.values, second.rows.values, first.total, second.next_cursor], tools.rows.values)
        found[f"{run_id} facts"] = await ch_spans.span_facts(client, AGENT, run_id, 4)
    found["totals"] = dict(await ch_spans.run_totals(client, RUNS))
    found["roots"] = sorted(await ch_spans.stored_roots(client, RUNS))
    for order in SpanOrder:
        page = await ch_spans.agent_span_page(client, AGENT, AgentSpanFilter(span_kind="LLM"), order=order, limit=3,
                                              after=None)
        rest = await ch_spans.agent_span_page(client, AGENT, AgentSpanFilter(span_kind="LLM"), order=order, limit=50,
                                              after=page.next_cursor)
        found[f"agent by {order.value}"] = (page.rows.values, rest.rows.values)
    # Order by names: 18.16 reads ORDER BY 1 as the constant 1, current releases as the first column.
    for view, order in (("model_usage_daily", "day, model"), ("node_latency", "node_name, span_kind")):
        found[view] = await run_readonly_query(
            client, f"SELECT * FROM {view} WHERE agent_id = ? ORDER BY {order}", [AGENT], max_rows=50,
            max_bytes=50_000, timeout_s=10)
    found["span_details"] = await run_readonly_query(
        client, "SELECT span_id, start_time, end_time, is_error FROM span_details WHERE agent_id = ? ORDER BY span_id",
        [AGENT], max_rows=50, max_bytes=50_000, timeout_s=10)
    found["sql"] = await run_readonly_query(
        client, "SELECT span_kind, count() AS spans, sum(token_count) AS tokens FROM spans WHERE agent_id = ?"
        " GROUP BY span_kind ORDER BY span_kind", [AGENT], max_rows=10, max_bytes=10_000, timeout_s=10)
    return found


async def test_the_engines_queries_answer_alike_on_clickhouse_18_16_and_current(
        server_client: ClickHouseClient, embedded_client: ChdbClient) -> None:
    on_server = await answers(server_client)
    embedded = await answers(embedded_client)

    assert on_server["totals"]["run-1"]["span_count"] == 12  # each span once, though stored twice
    assert on_server["records stored"] == [4, 0]
    (root_key,), root_texts = on_server["folds"][0]
    assert root_key.span_id == f"{0:016x}"
    assert root_texts["run-1"].output == "a10"  # recomputed over every root: the last to end (ties: span id) wins
    assert [key.span_id for key in on_server["folds"][1][0]] == [f"{0:016x}", f"{30:016x}"]
    spans = {row[7]: row for page in on_server["run-2"][0][:2] for row in page}
    assert spans[f"{30:016x}"][2:4] == ("user: late question \u00e9 'q'", "late answer")
    root = next(row for page in on_server["run-1"][0][:2] for row in page if row[7] == f"{0:016x}")
    assert root[2:4] == ("q0 \u00e9\u4e2d 'quoted' \\ back", "the logged answer")  # its own input stays
    assert len(on_server["run-1"][0][0]) + len(on_server["run-1"][0][1]) == 12
    for key in on_server:
        assert to_12_digits(embedded[key]) == to_12_digits(on_server[key])


def to_12_digits(value: Any) -> Any:
    """Floats to 12 significant digits: 18.16 parses a float's decimal text to within one ulp
    (2.2e-05 is stored as 2.2000000000000003e-05), current releases exactly, and a span that GenAI
    log records are folded into is parsed again; nothing else may differ. /sql answers are JSON."""
    if isinstance(value, bytes):
        return to_12_digits(json.loads(value))
    if isinstance(value, float):
        return float(f"{value:.12g}")
    if isinstance(value, (list, tuple)):
        return [to_12_digits(item) for item in value]
    if isinstance(value, dict):
        return {key: to_12_digits(item) for key, item in value.items()}
    return value


@pytest.mark.parametrize("sql", ["SELECT * FROM url('http://127.0.0.1:9/', CSV, 'a String')",
                                 "SELECT * FROM file('/etc/passwd', CSV, 'a String')",
                                 "CREATE TABLE escape (a Int8) ENGINE = Memory"])
def test_current_clickhouse_refuses_in_readonly_mode_what_18_16_does(tmp_path: Path, sql: str) -> None:
    """/sql's guard is readonly=1 (tests/reliability/test_sql_sandbox.py holds 18.16 to it): current
    releases must refuse table functions and writes under it too."""
    session = chdb_session.Session(str(tmp_path / "readonly"))
    try:
        session.query("SET readonly = 1")
        with pytest.raises(RuntimeError, match="readonly"):
            session.query(sql)
    finally:
        session.close()

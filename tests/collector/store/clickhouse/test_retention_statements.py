"""The clickhouse engine's retention statements on a real 2-shard cluster: a whole pass of
runs (10,000 ids, some 400 KB of literals, past ClickHouse's default 256 KiB query size) is
counted and deleted in one statement per node, the GenAI log records of the deleted spans with
them, and nothing of the other runs."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator

import pytest
from kate.collector.ingest.decode_logs import GenAiLogRecord
from kate.collector.store.clickhouse import genai_logs
from kate.collector.store.clickhouse import spans as ch_spans
from kate.collector.store.clickhouse.client import ClickHouseClient
from kate.collector.store.clickhouse.control_stores import RUNS_PER_DELETE
from kate.collector.store.clickhouse.schema import create_tables
from kate.collector.store.engine_settings import ClickHouseConfig
from kate.collector.store.span_batch import SpanBatch
from kate.schema.record import SpanRecord

from scripts.local_cluster import CLUSTER_NAME, LocalCluster
from tests.support.cluster import private_database
from tests.support.waiting import poll

AGENT = "agent-retention"
START = 1_796_000_000_000_000_000
RECEIVED = dt.datetime(2026, 12, 1, 12, 0, 0)


def _span(run_id: str, index: int) -> SpanRecord:
    return SpanRecord(
        span_id=f"{index:016x}", trace_id=uuid.UUID(run_id).hex, parent_span_id=None if index == 0 else f"{0:016x}",
        run_id=run_id, agent_id=AGENT, node_name="call", span_kind="LLM", input_text=None, output_text=None, model=None,
        latency_ms=1.0, token_count=None, input_tokens=None, output_tokens=None, status_code="OK", status_message=None,
        start_time_unix_nano=START + index, end_time_unix_nano=START + 10**9, attributes="{}", resource="{}",
        scope_name=None, events="[]", truncated=False, cached_input_tokens=None, cost_usd=None, input_cost_usd=None,
        output_cost_usd=None, cost_source=None, session_id=None, user_id=None)


def _record(run_id: str, index: int) -> GenAiLogRecord:
    return GenAiLogRecord(f"{run_id}-{index}", uuid.UUID(run_id).hex, f"{index:016x}", AGENT, "gen_ai.user.message",
                          START + index, 0, None, json.dumps({"content": "hello"}), "{}", "{}", None)


@pytest.fixture
async def client(scale_out_cluster: LocalCluster) -> AsyncIterator[ClickHouseClient]:
    client = ClickHouseClient(ClickHouseConfig(urls=tuple(node.url for node in scale_out_cluster.nodes),
                                               database=private_database(), cluster=CLUSTER_NAME))
    await client.start()
    await create_tables(client)
    yield client
    await client.close()


async def test_a_whole_pass_of_runs_is_counted_and_deleted_in_one_statement_per_node(client: ClickHouseClient) -> None:
    due, kept = str(uuid.uuid4()), str(uuid.uuid4())
    await ch_spans.insert_spans(client, SpanBatch.of([_span(run_id, index) for run_id in (due, kept) for index in range(3)]),
                                RECEIVED)
    await genai_logs.store_records(client, [_record(run_id, 1) for run_id in (due, kept)], RECEIVED)
    pass_ids = [due, *(str(uuid.uuid4()) for _ in range(RUNS_PER_DELETE - 1))]

    totals = await ch_spans.run_totals(client, pass_ids)
    assert (totals.of(due)["span_count"], totals.of(kept)["span_count"]) == (3, 0)
    await genai_logs.delete_records_of_runs(client, pass_ids)
    assert await ch_spans.delete_run_spans(client, pass_ids) == 3

    await poll(lambda: client.json_rows(  # mutations apply in the background
        "SELECT (SELECT count() FROM spans) AS spans, (SELECT count() FROM genai_log_records) AS records"),
        lambda left: left == [{"spans": 3, "records": 1}], what="the pass's spans and records to go", timeout_s=10)
    kept_spans = await client.json_rows("SELECT DISTINCT run_id FROM spans")
    assert kept_spans == [{"run_id": kept}]

"""POST /sql has no side effects and cannot stall the collector (security review, second pass):
every function call an analyst writes must be on the allow-list (a write, a setting, logging,
profiling, a checkpoint or a sequence step is refused by name, wherever it hides); after each
refusal nothing changed, writes and reads go on and the collector restarts cleanly; a huge
answer is cut in bytes on the reader thread while OTLP exports are acknowledged promptly."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import StartCollector
from tests.reliability.hostile_corpus import otlp_request, span
from tests.support.http import Api
from tests.support.otlp_client import post_otlp
from tests.support.server import CollectorProcess, start_collector_process

COUNTS = ("SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM spans), (SELECT count(*) FROM jobs), "
          "(SELECT max(version) FROM schema_version), (SELECT count(*) FROM schema_version)")
# (payload, the function its refusal must name)
REFUSED = [
    ("SELECT * FROM json_execute_serialized_sql('{\"statements\":[{\"type\":\"DELETE\",\"table\":\"spans\"}]}')",
     "json_execute_serialized_sql"),
    ("FROM json_execute_serialized_sql('{\"statements\":[{\"type\":\"INSERT\",\"table\":\"schema_version\","
     "\"values\":[[999,\"evil\",null]]}]}')", "json_execute_serialized_sql"),
    ("SELECT * FROM enable_logging()", "enable_logging"),
    ("SELECT * FROM enable_profiling()", "enable_profiling"),
    ("SELECT * FROM checkpoint()", "checkpoint"),
    ("SELECT * FROM force_checkpoint()", "force_checkpoint"),
    ("SELECT * FROM truncate_duckdb_logs()", "truncate_duckdb_logs"),
    ("SELECT * FROM query('SET threads = 1')", "query"),  # a SET (or anything) through a function
    ("SELECT * FROM query_table('spans')", "query_table"),
    ("SELECT setseed(0.5)", "setseed"),
    ("SELECT system.main.write_log('x')", "write_log"),  # schema-qualified
    ("SELECT main.nextval('kate_seq')", "nextval"),
    ("SELECT pg_sleep(1)", "pg_sleep"),  # a built-in macro over a refused function
    ("WITH c AS (SELECT setseed(0.1) AS s) SELECT * FROM c", "setseed"),
    ("SELECT (SELECT x FROM (SELECT currval('kate_seq') AS x))", "currval"),
    ("SELECT list_transform([1, 2], lambda v: v + setseed(0.1))", "setseed"),
    ("SELECT count(*) OVER (ORDER BY write_log('x')) FROM runs", "write_log"),
    ("SELECT * FROM runs PIVOT (count(setseed(0.1)) FOR status IN ('running'))", "setseed"),
    ("EXPLAIN ANALYZE SELECT * FROM enable_logging()", "enable_logging"),
    ("SELECT * FROM range(3), LATERAL (SELECT * FROM disable_logging())", "disable_logging"),
]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    process = start_collector_process(tmp_path_factory.mktemp("sandbox") / "kate.duckdb")
    yield process
    process.stop()


@pytest.fixture
async def api(sandbox: CollectorProcess) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(sandbox.base_url, session)


async def seed(api: Api, agent_id: str) -> str:
    run = await api.create_run(agent_id)
    spans = [{"node_name": "plan", "span_kind": "LLM", "model": "m-1", "latency_ms": 100, "token_count": 10,
              "start_time": "2026-03-30T10:00:00Z", "attributes": {"k": "v"}},
             {"node_name": "tool", "span_kind": "TOOL", "latency_ms": 40, "start_time": "2026-03-30T10:00:01Z"}]
    answer = await api.call("POST", f"/agents/{agent_id}/runs/{run['id']}/spans", {"spans": spans})
    assert answer.status == 201, answer.text
    return str(run["id"])


async def rows(api: Api, sql: str, **extra: object) -> list[list[object]]:
    answer = await api.call("POST", "/sql", {"sql": sql, **extra})
    assert answer.status == 200, (sql, answer.text)
    return list(answer.body["rows"])


async def assert_refused_and_nothing_changed(api: Api, agent_id: str, sql: str, function: str) -> None:
    before = await rows(api, COUNTS)
    answer = await api.call("POST", "/sql", {"sql": sql})
    assert answer.status in (400, 422), (sql, answer.text)
    error = answer.body["error"]
    assert error["details"][0]["field"] == "sql"
    assert f"{function}()" in error["message"] and "disabled in analysis queries" in error["message"], error
    assert await rows(api, COUNTS) == before  # nothing written, deleted or inserted
    await api.create_run(agent_id)  # a write still commits
    assert await rows(api, "SELECT 42") == [[42]]  # and reads still work


@pytest.mark.parametrize(("sql", "function"), REFUSED, ids=[f"{i:02d}-{name}" for i, (_, name) in enumerate(REFUSED)])
async def test_a_side_effect_is_refused_naming_the_function_and_nothing_changes(
    api: Api, agent_id: str, sql: str, function: str
) -> None:
    await seed(api, agent_id)
    await assert_refused_and_nothing_changed(api, agent_id, sql, function)


async def test_analysis_still_reads_and_computes_everything_an_analyst_needs(api: Api, agent_id: str) -> None:
    run_id = await seed(api, agent_id)
    by_agent = [agent_id]
    assert await rows(api, "SELECT span_count, total_tokens FROM run_summary WHERE run_id = ?", params=[run_id]) \
        == [[2, 10]]
    assert await rows(api, "SELECT node_name, calls FROM node_latency WHERE agent_id = ? ORDER BY 1",
                      params=by_agent) == [["plan", 1], ["tool", 1]]
    assert await rows(api, "SELECT span_kind, count(*), sum(latency_ms), median(latency_ms) FROM spans "
                           "WHERE agent_id = ? GROUP BY ALL ORDER BY 1", params=by_agent) \
        == [["LLM", 1, 100.0, 100.0], ["TOOL", 1, 40.0, 40.0]]
    assert await rows(api, "SELECT node_name, row_number() OVER w, lag(node_name) OVER w FROM spans "
                           "WHERE agent_id = ? WINDOW w AS (ORDER BY start_time_unix_nano) ORDER BY 2", params=by_agent) \
        == [["plan", 1, None], ["tool", 2, "plan"]]
    assert await rows(api, "SELECT (SELECT sum(range) FROM range(4)), (SELECT count(*) FROM generate_series(1, 3)), "
                           "(SELECT list(u) FROM unnest([1, 2]) t(u)), unnest([7])") == [[6, 3, [1, 2], 7]]
    assert await rows(api, "SELECT json_extract_string('{\"a\": {\"b\": 1}}', '$.a.b'), "
                           "(SELECT count(*) FROM json_each('{\"x\": 1, \"y\": 2}')), to_json({'k': 1})") \
        == [["1", 2, '{"k":1}']]
    assert await rows(api, "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) "
                           "SELECT list_transform(list(n), lambda v: v * 2) FROM r") == [[[2, 4, 6]]]
    assert await rows(api, "SELECT count(*) FROM duckdb_views() WHERE view_name = 'run_summary'") == [[1]]
    for explain in ("EXPLAIN SELECT count(*) FROM spans", "EXPLAIN ANALYZE SELECT count(*) FROM spans"):
        assert len(await rows(api, explain)) >= 1
    assert await rows(api, "SELECT 'nan'::DOUBLE, 'inf'::DOUBLE, random() < 1") == [["NaN", "Infinity", True]]


async def test_after_every_refusal_the_collector_restarts_cleanly_and_kate_sql_offline_refuses_too(
    start_collector: StartCollector, tmp_path: Path, agent_id: str
) -> None:
    db_path = tmp_path / "kate.duckdb"
    server = start_collector(db_path)
    async with aiohttp.ClientSession() as session:
        api = Api(server.base_url, session)
        await seed(api, agent_id)
        for sql, function in REFUSED:
            await assert_refused_and_nothing_changed(api, agent_id, sql, function)
        counts = await rows(api, COUNTS)
    assert server.stop() == 0 and "Traceback" not in server.log()

    offline = subprocess.run([sys.executable, "-m", "kate.collector", "sql", "SELECT * FROM checkpoint()",
                              "--db", str(db_path)], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert offline.returncode == 1 and "checkpoint() is disabled" in offline.stderr, offline.stderr

    again = start_collector(db_path)
    async with aiohttp.ClientSession() as session:
        api = Api(again.base_url, session)
        assert await rows(api, COUNTS) == counts
        await api.create_run(agent_id)
    assert again.stop() == 0 and "Traceback" not in again.log()


async def test_a_huge_answer_is_cut_in_bytes_while_otlp_exports_are_acknowledged_promptly(
    start_collector: StartCollector,
) -> None:
    """The issue's query: 10,000 rows of 100 kB. Before, it took RSS to 4 GB and held the event loop
    while the JSON was built, so OTLP acknowledgements waited 13-15 s."""
    server = start_collector()  # defaults: sql.max_response_bytes 16 MiB, sql.timeout_ms 10 s
    big = "SELECT repeat('x', 100000) AS text FROM range(10000)"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        query = asyncio.create_task(_post_sql(session, server.base_url, big))
        acks = [await _export_seconds(session, server.base_url)]
        while not query.done() and len(acks) < 50:
            acks.append(await _export_seconds(session, server.base_url))
        status, body = await query

    answer = json.loads(body)
    assert status == 200 and answer["truncated"] is True
    assert len(body) <= 16 * 1024 * 1024 and 0 < answer["row_count"] < 10_000
    assert max(acks) < 3.0, acks  # the OTLP exporter gives up at 10 s


async def _post_sql(session: aiohttp.ClientSession, base_url: str, sql: str) -> tuple[int, bytes]:
    async with session.post(f"{base_url}/sql", json={"sql": sql}) as response:
        return response.status, await response.read()


async def _export_seconds(session: aiohttp.ClientSession, base_url: str) -> float:
    started = time.monotonic()
    answer = await post_otlp(session, base_url, otlp_request(span()).SerializeToString())
    assert answer.status == 200, answer.body
    return time.monotonic() - started

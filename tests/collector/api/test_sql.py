"""POST /sql and `kate sql`: read-only analysis over the span tables, live and from the file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import StartApp
from tests.support.http import Api
from tests.support.server import CollectorProcess


async def seed(api: Api, agent_id: str) -> str:
    run = await api.create_run(agent_id)
    spans = [
        {"node_name": "plan", "span_kind": "LLM", "model": "m-1", "latency_ms": 100, "token_count": 10,
         "input_tokens": 7, "output_tokens": 3, "start_time": "2026-03-30T10:00:00Z"},
        {"node_name": "plan", "span_kind": "LLM", "model": "m-1", "latency_ms": 300, "token_count": 20,
         "start_time": "2026-03-30T10:00:01Z", "status": "ERROR"},
        {"node_name": "search", "span_kind": "TOOL", "latency_ms": 50, "start_time": "2026-03-30T10:00:02Z"},
    ]
    answer = await api.call("POST", f"/agents/{agent_id}/runs/{run['id']}/spans", {"spans": spans})
    assert answer.status == 201
    return str(run["id"])


async def sql(api: Api, query: str, **extra: object) -> dict:
    answer = await api.call("POST", "/sql", {"sql": query, **extra})
    assert answer.status == 200, answer.text
    return dict(answer.body)


async def test_every_table_listed_for_the_engine_is_readable_and_named_in_its_dialect(
    api: Api, collector: CollectorProcess, agent_id: str
) -> None:
    await seed(api, agent_id)
    answer = await api.call("GET", "/sql/tables")
    assert answer.status == 200, answer.text
    names = [table["name"] for table in answer.body["tables"]]
    assert {"spans", "genai_log_records", "span_details", "model_usage_daily", "node_latency"} <= set(names)
    assert all(table["description"] for table in answer.body["tables"])
    on_duckdb = answer.body["dialect"] == "DuckDB"
    assert ({"runs", "run_summary", "evaluations", "sessions"} <= set(names)) is on_duckdb  # runs: PostgreSQL
    for name in names:
        await sql(api, f"SELECT * FROM {name} LIMIT 1")


@pytest.mark.duckdb_only("the analysis views (run_summary, model_usage_daily, node_latency)")
async def test_analysis_views_summarise_runs_models_and_nodes(api: Api, agent_id: str) -> None:
    run_id = await seed(api, agent_id)

    summary = await sql(api, "SELECT span_count, total_tokens, llm_calls, tool_calls, error_count, models "
                             "FROM run_summary WHERE run_id = ?", params=[run_id])
    usage = await sql(api, "SELECT day, model, calls, input_tokens, total_tokens, errors FROM model_usage_daily "
                           "WHERE agent_id = $agent", params={"agent": agent_id})
    nodes = await sql(api, "SELECT node_name, calls, p50_ms, max_ms, error_rate FROM node_latency "
                           "WHERE agent_id = ? ORDER BY node_name", params=[agent_id])

    assert summary["rows"] == [[3, 30, 2, 1, 1, ["m-1"]]]
    assert usage["rows"] == [["2026-03-30", "m-1", 2, 7, 30, 1]]
    assert nodes["rows"] == [["plan", 2, 200.0, 300.0, 0.5], ["search", 1, 50.0, 50.0, 0.0]]
    assert nodes["columns"] == ["node_name", "calls", "p50_ms", "max_ms", "error_rate"]


@pytest.mark.duckdb_only("its cases are DuckDB SQL (ClickHouse refuses writes with readonly=1; test_sql_sandbox checks both)")
async def test_sql_refuses_anything_but_one_read_only_statement(api: Api, agent_id: str) -> None:
    await seed(api, agent_id)
    refused = [
        "DELETE FROM spans", "DROP TABLE runs", "SELECT 1; DROP TABLE runs", "CREATE TABLE x (a INT)",
        "COPY spans TO 'out.csv'", "ATTACH 'other.db'", "SET threads = 1", "PRAGMA version", "INSTALL httpfs",
    ]
    for query in refused:
        answer = await api.call("POST", "/sql", {"sql": query})
        assert answer.status in (400, 422), query
        assert answer.body["error"]["details"][0]["field"] == "sql"
    files = await api.call("POST", "/sql", {"sql": "SELECT * FROM read_text('/etc/hostname')"})
    assert files.status == 400 and "disabled" in files.body["error"]["message"]
    count = await sql(api, "SELECT count(*) FROM spans WHERE agent_id = ?", params=[agent_id])
    assert count["rows"] == [[3]]


@pytest.mark.duckdb_only("its queries use DuckDB's range() table function")
async def test_sql_caps_rows_and_validates_its_body(api: Api) -> None:
    capped = await sql(api, "SELECT * FROM range(50)", max_rows=10)
    assert (capped["row_count"], capped["truncated"]) == (10, True)
    for body, field in (({}, "sql"), ({"sql": "SELECT 1", "params": 3}, "params"),
                        ({"sql": "SELECT 1", "max_rows": 0}, "max_rows")):
        answer = await api.call("POST", "/sql", body)
        assert (answer.status, answer.body["error"]["details"][0]["field"]) == (422, field)


async def test_sql_interrupts_a_query_past_the_time_limit(start_app: StartApp) -> None:
    server = start_app(config={"sql": {"timeout_ms": 200}})
    slow = "SELECT count(*) FROM range(3000000000) a WHERE a.range % 7 = 3 AND md5(a.range::VARCHAR) LIKE '%ff%'"
    async with aiohttp.ClientSession() as session:
        api = Api(server.base_url, session)
        answer = await api.call("POST", "/sql", {"sql": slow})
        after = await api.call("POST", "/sql", {"sql": "SELECT 42"})

    assert (answer.status, answer.body["error"]["code"]) == (408, "query_timeout")
    assert after.body["rows"] == [[42]]


def kate_sql(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kate.collector", "sql", *args], capture_output=True,
                          text=True, timeout=60, cwd=cwd)


async def test_kate_sql_through_the_running_collector_and_from_the_file(
    start_app: StartApp, tmp_path: Path, agent_id: str
) -> None:
    db_path = tmp_path / "kate.duckdb"
    server = start_app(db_path)
    async with aiohttp.ClientSession() as session:
        await seed(Api(server.base_url, session), agent_id)
    query = "SELECT node_name, count(*) AS n FROM spans GROUP BY ALL ORDER BY node_name"

    live = kate_sql(query, "--url", server.base_url, cwd=tmp_path)
    refused = kate_sql(query, "--url", "http://127.0.0.1:9", cwd=tmp_path)
    locked = kate_sql(query, "--db", str(db_path), cwd=tmp_path)
    assert server.stop() == 0
    offline_json = kate_sql(query, "--db", str(db_path), "--format", "json", cwd=tmp_path)
    offline_csv = kate_sql(query, "--db", str(db_path), "--format", "csv", cwd=tmp_path)

    assert live.returncode == 0, live.stderr
    assert live.stdout.splitlines()[0].split() == ["node_name", "|", "n"]
    assert "plan      | 2" in live.stdout and "(2 rows)" in live.stdout
    assert refused.returncode == 1 and "no collector answers" in refused.stderr
    assert locked.returncode == 1 and "use --url" in locked.stderr
    assert offline_json.returncode == 0, offline_json.stderr
    assert json.loads(offline_json.stdout) == [{"node_name": "plan", "n": 2}, {"node_name": "search", "n": 1}]
    assert offline_csv.stdout.splitlines() == ["node_name,n", "plan,2", "search,1"]

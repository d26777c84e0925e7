"""Data outlives the process: a clean stop, a SIGKILL after acknowledgement, and a reopen."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import duckdb
import pytest
from kate.collector.store.duckdb.migrate import migration_files

from tests.conftest import StartCollector
from tests.support.http import Api


async def write_run(base_url: str, agent_id: str, spans: int) -> str:
    async with aiohttp.ClientSession() as session:
        api = Api(base_url, session)
        run = await api.create_run(agent_id)
        body = {"spans": [{"node_name": f"n{i}", "span_kind": "LLM", "token_count": i} for i in range(spans)]}
        answer = await api.call("POST", f"/agents/{agent_id}/runs/{run['id']}/spans", body)
        assert answer.status == 201
        return str(run["id"])


async def read_run(base_url: str, agent_id: str, run_id: str) -> dict:
    async with aiohttp.ClientSession() as session:
        api = Api(base_url, session)
        run = await api.call("GET", f"/agents/{agent_id}/runs/{run_id}")
        spans = await api.call("GET", f"/agents/{agent_id}/runs/{run_id}/spans")
        return {"run": run.body, "names": [s["node_name"] for s in spans.body["spans"]]}


async def test_restart_keeps_runs_and_spans(start_collector: StartCollector, tmp_path: Path, agent_id: str) -> None:
    db_path = tmp_path / "kate.duckdb"
    first = start_collector(db_path)
    run_id = await write_run(first.base_url, agent_id, 3)
    assert first.stop() == 0
    assert not Path(f"{db_path}.wal").exists()  # a clean stop checkpoints

    second = start_collector(db_path)
    after = await read_run(second.base_url, agent_id, run_id)

    assert after["run"]["span_count"] == 3
    assert after["names"] == ["n0", "n1", "n2"]


async def test_acknowledged_writes_survive_sigkill(start_collector: StartCollector, tmp_path: Path, agent_id: str) -> None:
    db_path = tmp_path / "kate.duckdb"
    first = start_collector(db_path)
    run_ids = [await write_run(first.base_url, agent_id, 50) for _ in range(5)]
    first.kill()

    second = start_collector(db_path)
    counts = [(await read_run(second.base_url, agent_id, run_id))["run"]["span_count"] for run_id in run_ids]

    assert counts == [50] * 5


def test_an_old_file_is_upgraded_in_place_and_a_newer_one_refused(
    start_collector: StartCollector, tmp_path: Path
) -> None:
    db_path = tmp_path / "kate.duckdb"
    (first_version, first_name, first_sql), *_ = migration_files()
    with duckdb.connect(str(db_path)) as connection:  # a file written by the first release
        connection.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, "
                           "applied_at TIMESTAMP NOT NULL)")
        connection.execute(first_sql)
        connection.execute("INSERT INTO schema_version VALUES (?, ?, now()::TIMESTAMP)", [first_version, first_name])
        connection.execute("INSERT INTO runs (run_id, agent_id, status, trigger, source, created_at) "
                           "VALUES ('0190a8a0-0000-7000-8000-000000000001', 'old', 'running', 'manual', 'api', now()::TIMESTAMP)")

    start_collector(db_path).stop()
    with duckdb.connect(str(db_path)) as connection:
        versions = connection.execute("SELECT version, name FROM schema_version ORDER BY version").fetchall()
        runs = connection.execute("SELECT agent_id FROM runs").fetchall()
        connection.execute("INSERT INTO schema_version VALUES (999, '999_future.sql', now()::TIMESTAMP)")

    assert versions == [(version, name) for version, name, _ in migration_files()]
    assert runs == [("old",)]
    with pytest.raises(RuntimeError, match="newer than this Kate"):
        start_collector(db_path)

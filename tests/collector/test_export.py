"""`kate export` against a real collector and a real file (docs/operations.md#export): the
files hold what the API answers, open in DuckDB, pyarrow and pandas, are partitioned by day, and
two consecutive windows hold every row exactly once."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import duckdb
import pandas
import pyarrow.parquet as pq
import pytest
from kate.collector.store.duckdb.exports import export_page
from kate.collector.store.duckdb.migrate import apply_migrations
from kate.collector.store.export_schemas import EXPORT_SCHEMAS
from kate.collector.store.values import ExportWindow

from tests.conftest import StartCollector
from tests.support.http import Api
from tests.support.otlp_client import get_run, run_spans
from tests.support.server import CollectorProcess
from tests.support.waiting import evaluated_run

SINCE = "2026-11-01T00:00:00Z"
BOUNDARY = "2026-12-01T00:00:00Z"  # one span starts exactly here: it belongs to the later window
UNTIL = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).strftime("%Y-%m-%dT00:00:00Z")
STARTS = ["2026-11-30T23:59:59.999999Z", BOUNDARY, "2026-12-01T10:00:00Z"]


def kate_export(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "kate.collector", "export", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


async def agent_with_runs(collector: CollectorProcess, agent_id: str, runs: int = 2) -> list[str]:
    """Runs of three spans each, on both sides of BOUNDARY, completed and evaluated."""
    ids = []
    async with aiohttp.ClientSession() as session:
        api = Api(collector.base_url, session)
        for number in range(runs):
            run = await api.create_run(agent_id)
            spans = [{"node_name": f"step-{index}", "start_time": start, "latency_ms": 5, "model": "gpt-4o",
                      "output_text": f"run {number} step {index}", "attributes": {"custom.key": index}}
                     for index, start in enumerate(STARTS)]
            uploaded = await api.call("POST", f"/agents/{agent_id}/runs/{run['id']}/spans", {"spans": spans})
            assert uploaded.status == 201, uploaded.text
            assert (await api.call("POST", f"/agents/{agent_id}/runs/{run['id']}/complete")).status == 200
            await evaluated_run(api, agent_id, run["id"])
            ids.append(str(run["id"]))
    return ids


def parquet_rows(folder: Path, table: str) -> list[dict[str, Any]]:
    with duckdb.connect() as connection:
        result = connection.execute(f"SELECT * FROM read_parquet('{folder / table}/*/*.parquet', hive_partitioning = true)")
        names = [column[0] for column in result.description or ()]
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


async def test_export_through_the_collector_holds_what_the_api_answers(collector: CollectorProcess, agent_id: str,
                                                                      tmp_path: Path) -> None:
    run_ids = await agent_with_runs(collector, agent_id)

    done = kate_export("--url", collector.base_url, "--since", SINCE, "--until", UNTIL, "--agent", agent_id,
                       "--out", str(tmp_path / "out"), cwd=tmp_path)

    assert "runs 2, spans 6," in done.stdout
    out = tmp_path / "out"
    assert sorted(path.name for path in (out / "spans").iterdir()) == ["date=2026-11-30", "date=2026-12-01"]
    spans = {row["span_id"]: row for row in parquet_rows(out, "spans")}
    from_api = [span for run_id in run_ids for span in run_spans(collector.base_url, agent_id, run_id)]
    assert len(spans) == len(from_api) == 6
    for span in from_api:
        exported = spans[span["span_id"]]
        assert (exported["run_id"], exported["node_name"], exported["output_text"], exported["model"]) == (
            span["run_id"], span["node_name"], span["output_text"], span["model"])
        assert json.loads(exported["attributes"]) == span["attributes"]
    assert sorted(row["run_id"] for row in parquet_rows(out, "runs")) == sorted(run_ids)
    evaluations = parquet_rows(out, "evaluations")
    scored = {run_id: get_run(collector.base_url, agent_id, run_id)["scores"] for run_id in run_ids}
    assert sorted((row["run_id"], row["evaluator"], row["score"]) for row in evaluations) == sorted(
        (run_id, score["evaluator"], score["score"]) for run_id, scores in scored.items() for score in scores)
    assert evaluations  # the first run was evaluated (the agent's cooldown may skip the second)
    # The same files open in pyarrow and pandas.
    assert pq.read_table(out / "spans").num_rows == 6
    assert len(pandas.read_parquet(out / "runs")) == 2


async def test_two_consecutive_windows_hold_every_row_once(collector: CollectorProcess, agent_id: str,
                                                           tmp_path: Path) -> None:
    await agent_with_runs(collector, agent_id)
    common = ("--url", collector.base_url, "--agent", agent_id, "--format", "jsonl")

    kate_export(*common, "--since", SINCE, "--until", UNTIL, "--out", str(tmp_path / "all"), cwd=tmp_path)
    kate_export(*common, "--since", SINCE, "--until", BOUNDARY, "--out", str(tmp_path / "before"), cwd=tmp_path)
    kate_export(*common, "--since", BOUNDARY, "--until", UNTIL, "--out", str(tmp_path / "after"), cwd=tmp_path)

    def span_ids(folder: Path) -> list[str]:
        return [json.loads(line)["span_id"] for path in sorted((folder / "spans").rglob("*.jsonl"))
                for line in path.read_text(encoding="utf-8").splitlines()]

    before, after, every = span_ids(tmp_path / "before"), span_ids(tmp_path / "after"), span_ids(tmp_path / "all")
    assert (len(before), len(after)) == (2, 4)  # the span at BOUNDARY is in the later window only
    assert sorted(before + after) == sorted(every) and len(set(every)) == 6


@pytest.mark.duckdb_only("kate export --db reads a DuckDB file")
async def test_export_from_a_stopped_file_equals_the_live_export(start_collector: StartCollector,
                                                                  tmp_path: Path) -> None:
    agent_id = f"agent-{uuid.uuid4().hex[:8]}"
    db = tmp_path / "stopped.duckdb"
    collector = start_collector(db)
    await agent_with_runs(collector, agent_id, runs=1)
    kate_export("--url", collector.base_url, "--since", SINCE, "--until", UNTIL, "--out", str(tmp_path / "live"),
                cwd=tmp_path)
    collector.stop()

    done = kate_export("--db", str(db), "--since", SINCE, "--until", UNTIL, "--out", str(tmp_path / "file"),
                       cwd=tmp_path)

    assert "runs 1, spans 3," in done.stdout
    for table in ("runs", "spans", "evaluations"):
        live = sorted(map(str, parquet_rows(tmp_path / "live", table)))
        assert live and sorted(map(str, parquet_rows(tmp_path / "file", table))) == live


@pytest.mark.parametrize(("query", "field"), [
    ("table=spans&since=2026-12-01T00:00:00Z", "until"),
    ("table=spans&since=2026-12-02T00:00:00Z&until=2026-12-01T00:00:00Z", "until"),
    ("table=nope&since=2026-12-01T00:00:00Z&until=2026-12-02T00:00:00Z", "table"),
    ("table=spans&since=yesterday&until=2026-12-02T00:00:00Z", "since"),
])
async def test_bad_export_requests_are_refused_naming_the_field(api: Api, query: str, field: str) -> None:
    answer = await api.call("GET", f"/export?{query}")

    assert (answer.status, answer.body["error"]["code"]) == (400, "bad_request")
    assert field in answer.body["error"]["message"]


def test_the_duckdb_export_has_the_shared_export_schemas(tmp_path: Path) -> None:
    """Both engines export the columns and Arrow types of store/export_schemas.py."""
    with duckdb.connect(str(tmp_path / "kate.duckdb")) as connection:
        apply_migrations(connection)
        window = ExportWindow(dt.datetime(2026, 1, 1), dt.datetime(2027, 1, 1))
        for table, schema in EXPORT_SCHEMAS.items():
            assert export_page(connection.cursor(), table, window, 10).rows.schema == schema, table

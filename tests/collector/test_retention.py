"""Retention against a real collector and a real file (docs/operations.md#retention): whole
finished runs go, oldest first, with their spans and evaluations; running runs and kept agents
stay; uploads go on meanwhile; `kate prune` plans and deletes on a stopped file."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import aiohttp
import pytest
from kate.collector.config import ConfigError, load_config

from tests.conftest import StartCollector
from tests.support.http import Api
from tests.support.otlp_client import sql_rows
from tests.support.waiting import poll

AGE_S = 2.0  # a tiny max_age_days, so runs come due while the test watches
MAX_UPLOADS = 30  # under the 60-a-minute limit of one run


async def finished_run(api: Api, agent_id: str, spans: int) -> str:
    run = await api.create_run(agent_id)
    uploaded = await api.call("POST", f"/agents/{agent_id}/runs/{run['id']}/spans",
                              {"spans": [{"node_name": f"step-{index}", "output_text": "done"} for index in range(spans)]})
    assert uploaded.status == 201, uploaded.text
    completed = await api.call("POST", f"/agents/{agent_id}/runs/{run['id']}/complete")
    assert completed.status == 200, completed.text
    return str(run["id"])


def metric(base_url: str, name: str) -> float:
    with urllib.request.urlopen(f"{base_url}/metrics", timeout=10) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    raise AssertionError(f"{name} is not in /metrics")


@pytest.mark.conformance
async def test_expired_runs_go_whole_while_uploads_to_a_running_run_continue(start_collector: StartCollector,
                                                                             storage_engine: object) -> None:
    collector = start_collector(config={"retention": {"max_age_days": AGE_S / 86_400, "interval_s": 1, "slice_runs": 2,
                                                      "max_age_days_by_agent": {"keeper": 0}}})
    async with aiohttp.ClientSession() as session:
        api = Api(collector.base_url, session)
        expiring = [await finished_run(api, "short", spans=3) for _ in range(5)]
        kept = await finished_run(api, "keeper", spans=2)
        running = await api.create_run("short")

        uploads = 0

        async def gone() -> int:
            nonlocal uploads
            if uploads < MAX_UPLOADS:  # the running run takes uploads all along
                answer = await api.call("POST", f"/agents/short/runs/{running['id']}/spans",
                                        {"spans": [{"node_name": f"live-{uploads}"}]})
                assert answer.status == 201, answer.text
                uploads += 1
            answers = [await api.call("GET", f"/agents/short/runs/{run_id}") for run_id in expiring]
            return sum(answer.status == 404 for answer in answers)

        await poll(gone, lambda count: count == len(expiring), what="the expired runs to be deleted", timeout_s=60)

        assert (await api.call("GET", f"/agents/keeper/runs/{kept}")).status == 200
        live = await api.call("GET", f"/agents/short/runs/{running['id']}")
        assert (live.status, live.body["status"], live.body["span_count"]) == (200, "running", uploads)

    ids = ", ".join(f"'{run_id}'" for run_id in expiring)  # UUIDs: plain literals, in either engine's SQL
    # On ClickHouse the spans go by a mutation, applied in the background: polled, bounded.
    await poll(lambda: sql_rows(collector.base_url, f"SELECT count(*) FROM spans WHERE run_id IN ({ids})"),
               lambda rows: rows[0][0] == 0, what="the expired runs' spans to be gone", timeout_s=30)
    if storage_engine is None:  # DuckDB: the evaluations table is in the same file
        ((evaluations,),) = sql_rows(collector.base_url, f"SELECT count(*) FROM evaluations WHERE run_id IN ({ids})")
        assert evaluations == 0
    ((kept_spans,),) = sql_rows(collector.base_url, "SELECT count(*) FROM spans WHERE run_id = ?", [kept])
    assert kept_spans == 2
    assert metric(collector.base_url, "kate_retention_deleted_runs_total") >= len(expiring)
    assert metric(collector.base_url, "kate_retention_deleted_spans_total") >= 3 * len(expiring)


def kate(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kate.collector", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


async def test_kate_prune_dry_run_changes_nothing_then_prune_deletes_only_finished_runs(
    start_collector: StartCollector, tmp_path: Path
) -> None:
    db = tmp_path / "prune.duckdb"
    collector = start_collector(db, config={"evaluation": {"enabled": False}})
    async with aiohttp.ClientSession() as session:
        api = Api(collector.base_url, session)
        finished = [await finished_run(api, "batch", spans=4) for _ in range(3)]
        running = await api.create_run("batch")
    assert collector.stop() == 0
    time.sleep(0.2)  # the runs finished at least this long ago: older than --max-age-days below
    tiny_age = str(0.1 / 86_400)

    dry = kate("prune", "--db", str(db), "--dry-run", "--max-age-days", tiny_age, cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "batch: 3 runs past their age, 12 spans" in dry.stdout
    assert "dry run: 3 runs, 12 spans would be deleted" in dry.stdout

    done = kate("prune", "--db", str(db), "--max-age-days", tiny_age, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "deleted 3 runs, 12 spans" in done.stdout

    again = start_collector(db)
    async with aiohttp.ClientSession() as session:
        api = Api(again.base_url, session)
        for run_id in finished:
            assert (await api.call("GET", f"/agents/batch/runs/{run_id}")).status == 404
        assert (await api.call("GET", f"/agents/batch/runs/{running['id']}")).status == 200


async def test_kate_prune_over_max_bytes_deletes_finished_runs_never_a_running_one(start_collector: StartCollector,
                                                                       tmp_path: Path) -> None:
    db = tmp_path / "size.duckdb"
    collector = start_collector(db, config={"evaluation": {"enabled": False}})
    async with aiohttp.ClientSession() as session:
        api = Api(collector.base_url, session)
        for _ in range(2):
            await finished_run(api, "sized", spans=2)
        running = await api.create_run("sized")
    collector.stop()

    dry = kate("prune", "--db", str(db), "--dry-run", "--max-bytes", "1KiB", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "sized: 2 runs over max_bytes, 4 spans" in dry.stdout
    assert "bytes in use" in dry.stdout

    done = kate("prune", "--db", str(db), "--max-bytes", "1KiB", cwd=tmp_path)
    assert "deleted 2 runs" in done.stdout, done.stdout + done.stderr
    again = start_collector(db)
    ids = sql_rows(again.base_url, "SELECT run_id FROM runs WHERE agent_id = 'sized'")
    assert ids == [[running["id"]]]


def test_kate_prune_without_a_retention_setting_says_so(tmp_path: Path) -> None:
    done = kate("prune", "--db", str(tmp_path / "none.duckdb"), "--dry-run", cwd=tmp_path)

    assert done.returncode == 2
    assert "no retention is set" in done.stderr


@pytest.mark.parametrize(("section", "named"), [
    ({"max_age_days": -1}, "retention.max_age_days"),
    ({"max_age_days_by_agent": {"a": -2}}, "retention.max_age_days_by_agent.a"),
    ({"max_bytes": "lots"}, "retention.max_bytes"),
    ({"interval_s": 0}, "retention.interval_s"),
    ({"slice_runs": 0}, "retention.slice_runs"),
])
def test_bad_retention_settings_are_refused_naming_the_key(tmp_path: Path, section: dict[str, object],
                                                           named: str) -> None:
    import yaml

    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"retention": section}), encoding="utf-8")

    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        load_config(path)

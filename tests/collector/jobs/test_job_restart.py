"""Jobs survive the collector: a queued job runs after a restart, and a job whose collector was
SIGKILLed mid-run is claimed again once its lease expires and completes exactly once."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import duckdb
import pytest

from tests.conftest import StartCollector
from tests.support.http import Api
from tests.support.waiting import finished_run, poll

pytestmark = pytest.mark.conformance  # start_collector: once on DuckDB, once on the cluster

REPO_ROOT = str(Path(__file__).resolve().parents[3])
ENV = {"PYTHONPATH": REPO_ROOT}


def config(*, worker_enabled: bool = True) -> dict:
    return {
        "jobs": {"worker_enabled": worker_enabled, "poll_interval_ms": 100, "lease_s": 1, "retry_backoff_s": 0.05,
                 "shutdown_grace_s": 0.2},
        "hosted_agents": [
            {"agent_id": "echo", "entrypoint": "tests.support.hosted_agents:echo"},
            {"agent_id": "slow", "entrypoint": "tests.support.hosted_agents:slow_once", "max_attempts": 3},
        ],
    }


async def test_a_queued_job_runs_after_a_restart(start_collector: StartCollector, tmp_path: Path) -> None:
    db_path = tmp_path / "kate.duckdb"
    first = start_collector(db_path, config=config(worker_enabled=False), env=ENV)
    async with aiohttp.ClientSession() as session:
        api = Api(first.base_url, session)
        enqueued = (await api.call("POST", "/agents/echo/runs/enqueue", {"trigger": "manual", "user_input": "later"})).body
        waiting = (await api.call("GET", f"/jobs/{enqueued['job_id']}")).body
    assert first.stop() == 0

    second = start_collector(db_path, config=config(), env=ENV)
    async with aiohttp.ClientSession() as session:
        api = Api(second.base_url, session)
        done = await finished_run(api, "echo", enqueued["run_id"])
        job = (await api.call("GET", f"/jobs/{enqueued['job_id']}")).body

    assert (waiting["status"], waiting["attempts"]) == ("queued", 0)
    assert (done["status"], done["output"]) == ("completed", "echo: later")
    assert (job["status"], job["attempts"]) == ("succeeded", 1)


async def test_a_job_running_when_the_collector_died_completes_exactly_once(start_collector: StartCollector,
                                                                           tmp_path: Path) -> None:
    db_path, log = tmp_path / "kate.duckdb", tmp_path / "executions.log"
    first = start_collector(db_path, config=config(), env=ENV)
    task = json.dumps({"log": str(log), "sleep_s": 1.5})
    async with aiohttp.ClientSession() as session:
        api = Api(first.base_url, session)
        enqueued = (await api.call("POST", "/agents/slow/runs/enqueue", {"trigger": "manual", "user_input": task})).body
        await poll(lambda: _read(log), lambda text: "start" in text, what="the agent to start")
    first.kill()  # SIGKILL mid-run: no release, the lease must expire

    second = start_collector(db_path, config=config(), env=ENV)
    async with aiohttp.ClientSession() as session:
        api = Api(second.base_url, session)
        done = await finished_run(api, "slow", enqueued["run_id"])
        job = (await api.call("GET", f"/jobs/{enqueued['job_id']}")).body

    entries = [line.split() for line in log.read_text(encoding="utf-8").splitlines()]
    starts = [pid for event, pid in entries if event == "start"]
    dones = [pid for event, pid in entries if event == "done"]
    assert (done["status"], done["output"]) == ("completed", "slow and done")
    assert (job["status"], job["attempts"]) == ("succeeded", 2)
    assert len(starts) == 2 and dones == [starts[1]]  # the orphaned first attempt died with its collector


@pytest.mark.duckdb_only("its check reads the jobs table of the DuckDB file")
async def test_a_clean_stop_gives_a_running_job_back_without_counting_the_attempt(
    start_collector: StartCollector, tmp_path: Path
) -> None:
    db_path, log = tmp_path / "kate.duckdb", tmp_path / "executions.log"
    first = start_collector(db_path, config=config(), env=ENV)
    task = json.dumps({"log": str(log), "sleep_s": 1.0})
    async with aiohttp.ClientSession() as session:
        api = Api(first.base_url, session)
        enqueued = (await api.call("POST", "/agents/slow/runs/enqueue", {"trigger": "manual", "user_input": task})).body
        await poll(lambda: _read(log), lambda text: "start" in text, what="the agent to start")
    assert first.stop() == 0  # SIGTERM: the agent outlives shutdown_grace_s, is killed, its job released
    with duckdb.connect(str(db_path)) as connection:
        released = connection.execute("SELECT j.status, j.attempts, r.status FROM jobs j JOIN runs r USING (run_id)"
                                      " WHERE j.job_id = ?", [enqueued["job_id"]]).fetchall()

    second = start_collector(db_path, config=config(), env=ENV)
    async with aiohttp.ClientSession() as session:
        api = Api(second.base_url, session)
        done = await finished_run(api, "slow", enqueued["run_id"])
        job = (await api.call("GET", f"/jobs/{enqueued['job_id']}")).body

    events = [line.split()[0] for line in log.read_text(encoding="utf-8").splitlines()]
    assert released == [("queued", 0, "queued")]
    assert done["status"] == "completed" and (job["status"], job["attempts"]) == ("succeeded", 1)
    assert events == ["start", "start", "done"]  # the first attempt was killed after the grace period


async def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.exists() else ""

"""Hosted jobs cannot hang (issue 12): the input cap, over-limit frames, and timeout_s held
whatever the agent process does, on the real collector hosting tests/support/hosted_agents.py.

Every attempt that misbehaves must end within timeout_s + END_BOUND_S with its process group
killed, and the agent's queue (max_concurrency 1) must go on with the next job.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from kate.collector.jobs.process import END_BOUND_S

from tests.support.http import Api
from tests.support.processes import still_alive
from tests.support.server import CollectorProcess, start_collector_process
from tests.support.waiting import finished_run, poll

REPO_ROOT = str(Path(__file__).resolve().parents[2])
AGENTS = "tests.support.hosted_agents"
TIMEOUT_S = 3
STARTUP_SLACK_S = 5  # starting the agent's interpreter on a loaded 2-CPU machine
CONFIG = {
    "jobs": {"poll_interval_ms": 100, "retry_backoff_s": 0.05, "max_input_bytes": 1000},
    "evaluation": {"cooldown_s": 0},
    "hosted_agents": [
        {"agent_id": "flooder", "entrypoint": f"{AGENTS}:floods_and_ignores_sigterm", "timeout_s": TIMEOUT_S,
         "max_attempts": 1},
        {"agent_id": "huge", "entrypoint": f"{AGENTS}:one_huge_span", "timeout_s": 60, "max_attempts": 1},
        {"agent_id": "echo", "entrypoint": f"{AGENTS}:echo", "timeout_s": 20},
    ],
}


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    db_path = tmp_path_factory.mktemp("limits") / "kate.duckdb"
    process = start_collector_process(db_path, config=CONFIG, env={"PYTHONPATH": REPO_ROOT})
    yield process
    process.stop()


@pytest.fixture
async def host_api(host: CollectorProcess) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(host.base_url, session)


async def enqueue(api: Api, agent_id: str, user_input: str) -> dict[str, Any]:
    answer = await api.call("POST", f"/agents/{agent_id}/runs/enqueue", {"trigger": "manual", "user_input": user_input})
    assert answer.status == 202, answer.text
    return dict(answer.body)


async def get_job(api: Api, job_id: str) -> dict[str, Any]:
    answer = await api.call("GET", f"/jobs/{job_id}")
    assert answer.status == 200, answer.text
    return dict(answer.body)


async def test_an_input_over_jobs_max_input_bytes_is_refused_with_413_and_nothing_queued(host_api: Api) -> None:
    at_cap = await host_api.call("POST", "/agents/echo/runs/enqueue", {"trigger": "manual", "user_input": "é" * 500})
    over = await host_api.call("POST", "/agents/echo/runs/enqueue", {"trigger": "manual", "user_input": "é" * 501})
    runs = await host_api.call("GET", "/agents/echo/runs")

    assert at_cap.status == 202, at_cap.text  # 1000 bytes of UTF-8: at the cap
    assert over.status == 413, over.text
    error = over.body["error"]
    assert error["code"] == "payload_too_large" and error["details"][0]["field"] == "user_input"
    assert "1002 bytes" in error["message"] and "jobs.max_input_bytes" in error["message"]
    assert [run["id"] for run in runs.body["runs"]] == [at_cap.body["run_id"]]


async def test_an_agent_that_floods_ignores_sigterm_and_leaves_a_child_is_killed_at_its_timeout(
    host_api: Api, tmp_path: Path
) -> None:
    pid_file = tmp_path / "child.pid"
    started = time.monotonic()
    stubborn = await enqueue(host_api, "flooder", str(pid_file))
    following = await enqueue(host_api, "flooder", "quick")

    failed = await finished_run(host_api, "flooder", stubborn["run_id"], timeout_s=30)
    elapsed_s = time.monotonic() - started
    job = await get_job(host_api, stubborn["job_id"])
    child_pid = int(pid_file.read_text(encoding="utf-8"))
    await poll(lambda: still_alive(child_pid), lambda running: not running, what="the agent's child to die",
               timeout_s=END_BOUND_S)
    after = await finished_run(host_api, "flooder", following["run_id"])

    assert failed["error"] == f"timed out after {TIMEOUT_S} s; the agent process was killed"
    assert elapsed_s < TIMEOUT_S + END_BOUND_S + STARTUP_SLACK_S
    assert (job["status"], job["attempts"], job["lease_until"]) == ("failed", 1, None)
    assert (after["status"], after["output"]) == ("completed", "quick answer")


async def test_a_span_frame_over_the_limit_fails_the_attempt_promptly_and_the_queue_goes_on(host_api: Api) -> None:
    started = time.monotonic()
    huge = await enqueue(host_api, "huge", "huge")
    following = await enqueue(host_api, "huge", "quick")

    failed = await finished_run(host_api, "huge", huge["run_id"], timeout_s=30)
    elapsed_s = time.monotonic() - started
    job = await get_job(host_api, huge["job_id"])
    after = await finished_run(host_api, "huge", following["run_id"])
    health = await host_api.call("GET", "/healthz")

    assert failed["status"] == "failed"
    assert failed["error"].startswith("the agent process sent a span frame of 65.0 MiB, over the limit of 64 MiB")
    assert job["status"] == "failed" and job["error"].startswith(failed["error"])
    assert elapsed_s < 30  # the agent's timeout_s is 60: the frame ended it, not the timeout
    assert (after["status"], after["output"]) == ("completed", "quick answer")
    assert health.status == 200

"""Kate-hosted agents on the real collector: enqueue, the worker, and agents that misbehave.

One collector hosts the agents of tests/support/hosted_agents.py; the agent processes import
them through the PYTHONPATH handed to the collector. Every wait polls with a deadline.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.cluster import ENGINES, engine_config, private_database
from tests.support.http import Api
from tests.support.server import CollectorProcess, start_collector_process
from tests.support.waiting import finished_run, get_run, poll

REPO_ROOT = str(Path(__file__).resolve().parents[3])
AGENTS = "tests.support.hosted_agents"


def hosted(agent_id: str, function: str, **settings: Any) -> dict[str, Any]:
    return {"agent_id": agent_id, "entrypoint": f"{AGENTS}:{function}", "timeout_s": 20, **settings}


CONFIG = {
    "jobs": {"poll_interval_ms": 100, "retry_backoff_s": 0.05, "shutdown_grace_s": 0.5},
    "evaluation": {"cooldown_s": 0},
    "hosted_agents": [
        hosted("echo", "echo"),
        hosted("echo-async", "echo_async"),
        hosted("gated", "gated"),
        hosted("raiser", "raises", max_attempts=2),
        hosted("hanger", "hangs", timeout_s=1, max_attempts=1),
        hosted("suicide", "kills_itself", max_attempts=1),
        hosted("hog", "hogs_memory", max_attempts=1, memory_limit_mb=400),
        hosted("broken", "no_such_agent", max_attempts=3),
    ],
}


@pytest.fixture(scope="module", params=ENGINES)
def host(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    """The hosting collector, once per storage engine (on the cluster in a database of its own)."""
    db_path = tmp_path_factory.mktemp("hosting") / "kate.duckdb"
    cluster = request.getfixturevalue("scale_out_cluster") if request.param == "clickhouse" else None
    config = engine_config(cluster, CONFIG, database=private_database()) if cluster else CONFIG
    process = start_collector_process(db_path, config=config, env={"PYTHONPATH": REPO_ROOT})
    yield process
    process.stop()


@pytest.fixture
async def host_api(host: CollectorProcess) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(host.base_url, session)


async def enqueue(api: Api, agent_id: str, user_input: str = "hi") -> dict[str, Any]:
    answer = await api.call("POST", f"/agents/{agent_id}/runs/enqueue", {"trigger": "manual", "user_input": user_input})
    assert answer.status == 202, answer.text
    assert answer.headers["Location"] == f"/jobs/{answer.body['job_id']}"
    return dict(answer.body)


async def get_job(api: Api, job_id: str) -> dict[str, Any]:
    answer = await api.call("GET", f"/jobs/{job_id}")
    assert answer.status == 200, answer.text
    return dict(answer.body)


async def spans_of(api: Api, agent_id: str, run_id: str) -> list[dict[str, Any]]:
    return list((await api.call("GET", f"/agents/{agent_id}/runs/{run_id}/spans")).body["spans"])


async def test_enqueue_queued_running_completed_with_spans_and_output(host_api: Api, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    enqueued = await enqueue(host_api, "gated", str(gate))
    run_id, job_id = enqueued["run_id"], enqueued["job_id"]
    first = await get_run(host_api, "gated", run_id)

    running = await poll(lambda: get_run(host_api, "gated", run_id), lambda run: run["status"] == "running",
                         what="the run to start")
    job_running = await get_job(host_api, job_id)
    gate.touch()
    done = await finished_run(host_api, "gated", run_id)
    job = await get_job(host_api, job_id)
    spans = await spans_of(host_api, "gated", run_id)

    assert enqueued["status"] == "queued"
    assert first["status"] in ("queued", "running") and first["source"] == "hosted" and first["job_id"] == job_id
    assert running["started_at"] is not None and running["user_input"] == str(gate)
    assert (job_running["status"], job_running["attempts"], job_running["run_id"]) == ("running", 1, run_id)
    assert job_running["lease_until"] is not None
    assert (done["status"], done["output"], done["error"]) == ("completed", "the gate opened", None)
    assert (job["status"], job["attempts"], job["lease_until"]) == ("succeeded", 1, None) and job["finished_at"]
    root = next(span for span in spans if span["parent_span_id"] is None)
    assert (root["node_name"], root["span_kind"], root["output_text"]) == ("gated", "AGENT", "the gate opened")
    assert any(span["node_name"] == "wait_for_gate" and span["parent_span_id"] == root["span_id"] for span in spans)


async def test_sync_and_async_agents_complete_and_are_evaluated(host_api: Api) -> None:
    sync_job, async_job = await enqueue(host_api, "echo", "bonjour"), await enqueue(host_api, "echo-async", "hola")

    sync_run = await finished_run(host_api, "echo", sync_job["run_id"])
    async_run = await finished_run(host_api, "echo-async", async_job["run_id"])
    evaluated = await poll(lambda: get_run(host_api, "echo", sync_job["run_id"]),
                           lambda run: run["evaluation_status"] == "done", what="the evaluation")
    spans = {span["node_name"]: span for span in await spans_of(host_api, "echo", sync_job["run_id"])}

    assert (sync_run["output"], async_run["output"]) == ("echo: bonjour", "async echo: hola")
    assert spans["draft"]["span_kind"] == "LLM" and spans["draft"]["token_count"] == 12
    assert spans["draft"]["model"] == "fake-model" and sync_run["total_tokens"] == 12
    assert {span["node_name"] for span in await spans_of(host_api, "echo-async", async_job["run_id"])} == {"lookup", "echo_async"}
    assert evaluated["overall_score"] == 1.0


async def test_an_agent_that_raises_is_retried_then_the_run_fails(host_api: Api) -> None:
    enqueued = await enqueue(host_api, "raiser", "x")

    failed = await finished_run(host_api, "raiser", enqueued["run_id"])
    job = await get_job(host_api, enqueued["job_id"])
    roots = await spans_of(host_api, "raiser", enqueued["run_id"])

    assert (failed["status"], failed["error"]) == ("failed", "ValueError: boom: x")
    assert (job["status"], job["attempts"]) == ("failed", 2)
    assert job["error"].startswith("ValueError: boom: x\nTraceback") and "raise ValueError" in job["error"]
    assert [(span["node_name"], span["status"]) for span in roots] == [("raises", "ERROR")] * 2  # one per attempt


async def test_an_agent_that_hangs_is_killed_at_its_timeout(host_api: Api) -> None:
    started = time.monotonic()
    enqueued = await enqueue(host_api, "hanger")

    failed = await finished_run(host_api, "hanger", enqueued["run_id"])
    job = await get_job(host_api, enqueued["job_id"])
    health = await host_api.call("GET", "/healthz")

    assert failed["error"] == "timed out after 1 s; the agent process was killed"
    assert time.monotonic() - started < 10
    assert (job["status"], job["attempts"]) == ("failed", 1) and "hanging now" in job["error"]  # its stderr tail
    assert health.status == 200


async def test_an_agent_that_kills_its_own_process_fails_the_run_not_the_collector(host_api: Api) -> None:
    enqueued = await enqueue(host_api, "suicide")

    failed = await finished_run(host_api, "suicide", enqueued["run_id"])
    after = await enqueue(host_api, "echo", "still here")

    assert (failed["status"], failed["error"]) == ("failed", "the agent process was killed by signal SIGKILL")
    assert (await finished_run(host_api, "echo", after["run_id"]))["output"] == "echo: still here"


async def test_an_agent_that_blows_its_memory_limit_fails_alone(host_api: Api) -> None:
    enqueued = await enqueue(host_api, "hog")

    failed = await finished_run(host_api, "hog", enqueued["run_id"])
    health = await host_api.call("GET", "/healthz")

    assert (failed["status"], failed["error"]) == ("failed", "MemoryError")
    assert health.status == 200


async def test_an_entrypoint_that_does_not_import_fails_without_retries(host_api: Api) -> None:
    enqueued = await enqueue(host_api, "broken")

    failed = await finished_run(host_api, "broken", enqueued["run_id"])
    job = await get_job(host_api, enqueued["job_id"])

    assert failed["error"].startswith(f"cannot load {AGENTS}:no_such_agent: AttributeError")
    assert job["attempts"] == 1


async def test_enqueue_and_jobs_refuse_what_they_cannot_do(host_api: Api, agent_id: str) -> None:
    not_hosted = await host_api.call("POST", f"/agents/{agent_id}/runs/enqueue", {"trigger": "manual"})
    bad_input = await host_api.call("POST", "/agents/echo/runs/enqueue", {"trigger": "manual", "user_input": 3})
    bad_trigger = await host_api.call("POST", "/agents/echo/runs/enqueue", {"trigger": "later"})
    unknown_job = await host_api.call("GET", "/jobs/01a22978-c85d-7f70-ad4b-2c60f7ec2c5d")

    assert (not_hosted.status, not_hosted.body["error"]["code"]) == (404, "agent_not_hosted")
    assert (bad_input.status, bad_input.body["error"]["details"][0]["field"]) == (422, "user_input")
    assert bad_trigger.status == 422
    assert (unknown_job.status, unknown_job.body["error"]["code"]) == (404, "not_found")

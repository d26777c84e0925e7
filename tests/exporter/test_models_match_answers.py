"""Every key of every Runs API answer has a field in the SDK's models, and no model field is invented.

The answers come from the real collector (hosting one agent, evaluating at once), so a field the
collector adds later fails here until exporter/_models.py carries it.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from kate.exporter import Client, Enqueued, Job, Run, RunPage, Score, Span, SpanPage, SyncClient, Uploaded

from tests.support.http import Api
from tests.support.server import CollectorProcess, start_collector_process
from tests.support.waiting import evaluated_run, poll

REPO_ROOT = str(Path(__file__).resolve().parents[2])
CONFIG = {
    "evaluation": {"cooldown_s": 0},
    "hosted_agents": [{"agent_id": "echo", "entrypoint": "tests.support.hosted_agents:echo", "timeout_s": 20}],
}
SPAN = {"node_name": "answer", "span_kind": "LLM", "output_text": "hi", "model": "m", "token_count": 3}


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    process = start_collector_process(
        tmp_path_factory.mktemp("answers") / "kate.duckdb", config=CONFIG, env={"PYTHONPATH": REPO_ROOT}
    )
    yield process
    process.stop()


@pytest.fixture
async def host_api(host: CollectorProcess) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(host.base_url, session)


def field_names(model: type[Any]) -> set[str]:
    return {field.name for field in dataclasses.fields(model)}


async def answer(api: Api, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    reply = await api.call(method, path, body)
    assert reply.status < 300, reply.text
    return dict(reply.body)


async def test_the_models_have_exactly_the_keys_of_the_collectors_answers(host_api: Api) -> None:
    agent = f"agent-{uuid.uuid4().hex[:12]}"
    runs = f"/agents/{agent}/runs"
    created = await answer(host_api, "POST", runs, {"trigger": "test"})
    uploaded = await answer(host_api, "POST", f"{runs}/{created['id']}/spans", {"spans": [SPAN]})
    await answer(host_api, "POST", f"{runs}/{created['id']}/complete")
    scored = await evaluated_run(host_api, agent, created["id"])
    listed = await answer(host_api, "GET", runs)
    spans = await answer(host_api, "GET", f"{runs}/{created['id']}/spans")
    evaluating = await answer(host_api, "POST", f"{runs}/{created['id']}/evaluate")
    enqueued = await answer(host_api, "POST", "/agents/echo/runs/enqueue", {"trigger": "test", "user_input": "hi"})
    job = await answer(host_api, "GET", f"/jobs/{enqueued['job_id']}")

    assert scored["scores"], "the evaluation gave no scores to compare"
    for run in (created, scored, evaluating, *listed["runs"]):
        assert set(run) == field_names(Run)
    assert {key for score in scored["scores"] for key in score} == field_names(Score)
    assert set(listed) == field_names(RunPage)
    assert set(spans) == field_names(SpanPage)
    assert set(spans["spans"][0]) == field_names(Span)
    assert set(uploaded) == field_names(Uploaded)
    assert set(enqueued) == field_names(Enqueued)
    assert set(job) == field_names(Job)


async def test_the_typed_calls_return_scores_evaluations_and_jobs(host: CollectorProcess) -> None:
    agent = f"agent-{uuid.uuid4().hex[:12]}"
    async with Client(host.base_url) as client:
        run = await client.runs.create(agent_id=agent, trigger="test")
        await client.runs.upload_spans(agent_id=agent, run_id=run.id, spans=[SPAN])
        await client.runs.complete(agent_id=agent, run_id=run.id)
        scored = await poll(lambda: client.runs.get(agent_id=agent, run_id=run.id),
                            lambda got: got.evaluation_status not in (None, "pending"), what="the evaluation")
        admitted = await client.runs.evaluate(agent_id=agent, run_id=run.id)
        enqueued = await client.runs.enqueue(agent_id="echo", trigger="test", user_input="hi")
        job = await client.jobs.get(job_id=enqueued.job_id)
    with SyncClient(host.base_url) as sync_client:
        sync_job = sync_client.jobs.get(job_id=enqueued.job_id)
        again = sync_client.runs.evaluate(agent_id=agent, run_id=run.id)

    assert scored.evaluation_status == "done" and scored.scores
    assert all(isinstance(score, Score) and 0 <= (score.score or 0) <= 1 for score in scored.scores)
    assert "final_output" in {score.evaluator for score in scored.scores}
    assert admitted.evaluation_status == "pending" and again.id == run.id
    assert (job.job_id, job.run_id, job.agent_id) == (enqueued.job_id, enqueued.run_id, "echo")
    assert job.created_at is not None and job.status in ("queued", "running", "succeeded")
    assert (sync_job.job_id, sync_job.created_at) == (job.job_id, job.created_at)

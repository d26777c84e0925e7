"""Evaluations with several collectors on one ClickHouse cluster and PostgreSQL: each pending
evaluation runs once (the judge is called once for it) however many collectors find it pending,
and one that a killed collector was running is taken over by another (docs/deployment.md)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
import pytest

from scripts.local_cluster import LocalCluster
from tests.support.cluster import engine_config, private_database
from tests.support.fake_judge import FakeJudge, fake_judge
from tests.support.http import Api
from tests.support.server import CollectorProcess, start_collector_process
from tests.support.waiting import evaluated_run, poll

JUDGE_S = 6.0  # a [slow] judge call: long enough to start a collector meanwhile
SHORT_JUDGE_S = 2.0
OFF = {"enabled": False}
StartOne = Callable[..., CollectorProcess]


@pytest.fixture
def judge() -> Iterator[FakeJudge]:
    with fake_judge(slow_s=JUDGE_S) as server:
        yield server


@pytest.fixture
def start(scale_out_cluster: LocalCluster, judge: FakeJudge, tmp_path: Path) -> Iterator[StartOne]:
    """Starts collectors sharing one private database, each looking for pending evaluations
    every 0.2 s, with the LLM judge as the only evaluator."""
    database = private_database()
    started: list[CollectorProcess] = []

    def start_one(name: str, max_concurrency: int = 4) -> CollectorProcess:
        """A collector whose judge requests name it as their model."""
        config = engine_config(scale_out_cluster, {"evaluation": {
            "cooldown_s": 0, "resume_interval_s": 0.2, "max_concurrency": max_concurrency,
            "builtin": {name: OFF for name in ("no_error_spans", "final_output", "latency_budget", "token_budget",
                                               "tool_calls")},
            "llm_judge": {"enabled": True, "base_url": judge.url, "model": name, "timeout_s": 30,
                          "api_key_env": "KATE_TEST_JUDGE_KEY"},
        }}, database=database)
        collector = start_collector_process(tmp_path / f"{name}.duckdb", config=config,
                                            env={"KATE_TEST_JUDGE_KEY": "sk-test"})
        started.append(collector)
        return collector

    yield start_one
    for collector in started:
        collector.stop()


async def _completed_slow_run(api: Api, agent_id: str) -> str:
    run = await api.create_run(agent_id)
    span = {"node_name": "agent", "span_kind": "AGENT", "input_text": "[slow] write a haiku", "output_text": "autumn"}
    await api.call("POST", f"/agents/{agent_id}/runs/{run['id']}/spans", {"spans": [span]})
    completed = await api.call("POST", f"/agents/{agent_id}/runs/{run['id']}/complete")
    assert completed.body["evaluation_status"] == "pending", completed.body
    return str(run["id"])


async def _judge_called(judge: FakeJudge, times: int) -> None:
    await poll(lambda: len(judge.requests), lambda count: count >= times, what=f"{times} judge calls", timeout_s=30)


async def test_collectors_that_start_or_look_while_another_evaluates_leave_it_alone(
    start: StartOne, judge: FakeJudge, agent_id: str
) -> None:
    a = start("a")
    start("b")  # looks for pending evaluations every 0.2 s
    async with aiohttp.ClientSession() as session:
        run_id = await _completed_slow_run(Api(a.base_url, session), agent_id)
        await _judge_called(judge, 1)  # a is evaluating
        c = start("c")  # resumes what is pending at start
        run = await evaluated_run(Api(c.base_url, session), agent_id, run_id, timeout_s=60)
    assert run["evaluation_status"] == "done" and [score["evaluator"] for score in run["scores"]] == ["llm_judge"]
    assert len(judge.requests) == 1


async def test_an_evaluation_of_a_killed_collector_is_taken_over(start: StartOne, judge: FakeJudge, agent_id: str) -> None:
    judge.slow_s = SHORT_JUDGE_S  # a is killed as soon as its call begins
    a, b = start("a"), start("b")
    async with aiohttp.ClientSession() as session:
        run_id = await _completed_slow_run(Api(a.base_url, session), agent_id)
        await _judge_called(judge, 1)
        a.kill()  # mid-call: its PostgreSQL session ends, and its claim with it
        await _judge_called(judge, 2)  # b took it over
        run = await evaluated_run(Api(b.base_url, session), agent_id, run_id, timeout_s=60)
    assert run["evaluation_status"] == "done" and len(judge.requests) == 2


async def test_collectors_share_a_backlog_of_pending_evaluations(start: StartOne, judge: FakeJudge, agent_id: str) -> None:
    """a runs one evaluation at a time and claims no more than that: b takes the other."""
    judge.slow_s = SHORT_JUDGE_S  # longer than b's look for pending evaluations (0.2 s)
    a = start("a", max_concurrency=1)
    b = start("b")
    async with aiohttp.ClientSession() as session:
        runs = [await _completed_slow_run(Api(a.base_url, session), agent_id) for _ in range(2)]
        for run_id in runs:
            run = await evaluated_run(Api(b.base_url, session), agent_id, run_id, timeout_s=60)
            assert run["evaluation_status"] == "done"
    assert sorted(request["body"]["model"] for request in judge.requests) == ["a", "b"]

"""The LLM-as-judge evaluator against a fake OpenAI-compatible server on 127.0.0.1.

The collector runs with only the judge enabled (so its verdict is the overall score), no
cooldown, a 1 s judge timeout, and the API key in an environment variable named in config.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from kate.collector.evaluation.settings import DEFAULT_RUBRIC

from tests.support.fake_judge import FakeJudge, fake_judge
from tests.support.http import Api
from tests.support.server import CollectorProcess, start_collector_process
from tests.support.waiting import evaluated_run

KEY = "sk-test-judge-key"
OFF = {"enabled": False}


@pytest.fixture(scope="module")
def judge() -> Iterator[FakeJudge]:
    with fake_judge() as server:
        yield server


@pytest.fixture(scope="module")
def judged(judge: FakeJudge, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    config = {"evaluation": {
        "cooldown_s": 0,
        "builtin": {name: OFF for name in ("no_error_spans", "final_output", "latency_budget", "token_budget", "tool_calls")},
        "llm_judge": {"enabled": True, "base_url": judge.url, "model": "judge-model", "weight": 2,
                      "api_key_env": "KATE_TEST_JUDGE_KEY", "timeout_s": 1},
    }}
    db_path: Path = tmp_path_factory.mktemp("judged") / "kate.duckdb"
    process = start_collector_process(db_path, config=config, env={"KATE_TEST_JUDGE_KEY": KEY})
    yield process
    process.stop()


@pytest.fixture
async def judged_api(judged: CollectorProcess) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(judged.base_url, session)


async def judge_run(api: Api, agent_id: str, user_input: str, output: str = "A haiku about autumn.") -> dict:
    run = await api.create_run(agent_id)
    span = {"node_name": "agent", "span_kind": "AGENT", "input_text": user_input, "output_text": output}
    await api.call("POST", f"/agents/{agent_id}/runs/{run['id']}/spans", {"spans": [span]})
    await api.call("POST", f"/agents/{agent_id}/runs/{run['id']}/complete")
    return await evaluated_run(api, agent_id, run["id"])


async def test_the_judge_scores_json_and_sloppy_answers(judged_api: Api, judge: FakeJudge, agent_id: str) -> None:
    as_json, sloppy = await asyncio.gather(judge_run(judged_api, agent_id, "[json] write a haiku"),
                                           judge_run(judged_api, agent_id, "[sloppy] write a haiku"))

    assert as_json["evaluation_status"] == "done"
    assert as_json["scores"] == [{"evaluator": "llm_judge", "score": 0.8, "weight": 2.0,
                                  "reason": "Covers the request well."}]
    assert as_json["overall_score"] == pytest.approx(0.8)
    assert sloppy["overall_score"] == pytest.approx(0.7)
    assert sloppy["scores"][0]["reason"] == "Overall decent."
    sent = next(r for r in judge.requests if "[json] write a haiku" in r["body"]["messages"][-1]["content"])
    assert sent["authorization"] == f"Bearer {KEY}"
    assert sent["body"]["model"] == "judge-model"
    assert sent["body"]["messages"][0] == {"role": "system", "content": DEFAULT_RUBRIC}
    assert "A haiku about autumn." in sent["body"]["messages"][1]["content"]


async def test_judge_failures_say_why(judged_api: Api, agent_id: str) -> None:
    garbage, slow, down, silent = await asyncio.gather(
        judge_run(judged_api, agent_id, "[garbage] write a haiku"),
        judge_run(judged_api, agent_id, "[slow] write a haiku"),
        judge_run(judged_api, agent_id, "[http500] write a haiku"),
        judge_run(judged_api, agent_id, "[json] write a haiku", output=""),
    )

    reasons = [run["scores"][0]["reason"] for run in (garbage, slow, down, silent)]
    assert [run["evaluation_status"] for run in (garbage, slow, down, silent)] == ["failed"] * 4
    assert all(run["overall_score"] is None and run["scores"][0]["score"] is None for run in (garbage, slow, down))
    assert reasons[0] == "no score found in the judge's answer: 'I would rather not grade this today.'"
    assert reasons[1] == "the judge did not answer within 1 s"
    assert reasons[2].startswith("the judge answered HTTP 500:") and "the judge is down" in reasons[2]
    assert reasons[3] == "nothing to judge: the run has no final output"

"""Automatic evaluation on the real collector (default config: built-in evaluators, 60 s cooldown).

Completion answers at once; the score arrives in the background, so tests poll the run with a
deadline. Each test uses a fresh agent, so the shared collector's cooldowns never interfere.
"""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp
import pytest

from tests.conftest import StartApp
from tests.support.http import Api
from tests.support.waiting import evaluated_run

BUILTINS = {"no_error_spans", "final_output", "latency_budget", "token_budget", "tool_calls"}


async def completed_run(api: Api, agent_id: str, spans: list[dict[str, Any]] | None = None) -> str:
    run = await api.create_run(agent_id)
    if spans:
        uploaded = await api.call("POST", f"/agents/{agent_id}/runs/{run['id']}/spans", {"spans": spans})
        assert uploaded.status == 201, uploaded.text
    completed = await api.call("POST", f"/agents/{agent_id}/runs/{run['id']}/complete")
    assert completed.status == 200 and completed.body["status"] == "completed"
    return str(run["id"])


@pytest.mark.duckdb_only("its check reads the evaluations table with /sql, which holds spans only on ClickHouse")
async def test_completion_is_scored_by_every_builtin_evaluator(api: Api, agent_id: str) -> None:
    run_id = await completed_run(api, agent_id, [
        {"node_name": "plan", "span_kind": "LLM", "output_text": "a plan", "token_count": 100},
        {"node_name": "search", "span_kind": "TOOL", "status": "ERROR", "status_message": "HTTP 503"},
        {"node_name": "search", "span_kind": "TOOL"},
        {"node_name": "answer", "span_kind": "LLM", "output_text": "the final answer", "token_count": 20},
    ])

    run = await evaluated_run(api, agent_id, run_id)

    scores = {score["evaluator"]: score for score in run["scores"]}
    assert run["evaluation_status"] == "done" and set(scores) == BUILTINS
    assert scores["no_error_spans"]["score"] == pytest.approx(0.75)
    assert scores["no_error_spans"]["reason"] == "1 of 4 spans ended in ERROR: search"
    assert scores["tool_calls"]["score"] == pytest.approx(0.5)
    assert scores["final_output"]["score"] == 1.0 and "'answer'" in scores["final_output"]["reason"]
    assert scores["token_budget"]["reason"] == "used 120 tokens, within the budget of 50000"
    assert scores["latency_budget"]["score"] == 1.0
    assert all(score["weight"] == 1.0 for score in scores.values())
    assert run["overall_score"] == pytest.approx((0.75 + 0.5 + 1 + 1 + 1) / 5)
    rows = await api.call("POST", "/sql", {"sql": "SELECT evaluator, score, agent_id FROM evaluations "
                                                  "WHERE run_id = ? ORDER BY evaluator", "params": [run_id]})
    assert [row[0] for row in rows.body["rows"]] == sorted(BUILTINS)
    assert {row[2] for row in rows.body["rows"]} == {agent_id}


async def test_a_second_completion_inside_the_cooldown_is_skipped_and_can_be_forced(api: Api, agent_id: str) -> None:
    first = await evaluated_run(api, agent_id, await completed_run(api, agent_id))
    second_id = await completed_run(api, agent_id)

    skipped = await evaluated_run(api, agent_id, second_id)
    forced = await api.call("POST", f"/agents/{agent_id}/runs/{second_id}/evaluate")
    scored = await evaluated_run(api, agent_id, second_id)

    assert first["evaluation_status"] == "done"
    assert (skipped["evaluation_status"], skipped["overall_score"], skipped["scores"]) == ("skipped_cooldown", None, [])
    assert forced.status == 202 and forced.body["evaluation_status"] == "pending"
    assert scored["evaluation_status"] == "done" and 0 <= scored["overall_score"] <= 1
    assert {score["evaluator"] for score in scored["scores"]} == BUILTINS


@pytest.mark.duckdb_only("its check reads the evaluations table with /sql, which holds spans only on ClickHouse")
async def test_a_forced_evaluation_replaces_the_previous_scores(api: Api, agent_id: str) -> None:
    run_id = await completed_run(api, agent_id, [{"node_name": "answer", "span_kind": "LLM", "output_text": "hi"}])
    await evaluated_run(api, agent_id, run_id)

    again = await api.call("POST", f"/agents/{agent_id}/runs/{run_id}/evaluate")
    rescored = await evaluated_run(api, agent_id, run_id)
    rows = await api.call("POST", "/sql", {"sql": "SELECT count(*), count(DISTINCT evaluation_id) FROM evaluations "
                                                  "WHERE run_id = ?", "params": [run_id]})

    assert again.status == 202 and rescored["evaluation_status"] == "done"
    assert len(rescored["scores"]) == len(BUILTINS)  # only the latest evaluation is shown
    assert rows.body["rows"] == [[2 * len(BUILTINS), 2]]  # both stay in the table for SQL


async def test_a_failed_run_can_be_evaluated_and_scores_low(api: Api, agent_id: str) -> None:
    run = await api.create_run(agent_id)
    await api.call("POST", f"/agents/{agent_id}/runs/{run['id']}/fail", {"error": "ValueError: boom"})

    forced = await api.call("POST", f"/agents/{agent_id}/runs/{run['id']}/evaluate")
    evaluated = await evaluated_run(api, agent_id, run["id"])

    scores = {score["evaluator"]: score for score in evaluated["scores"]}
    assert forced.status == 202
    assert scores["no_error_spans"] == {"evaluator": "no_error_spans", "score": 0.0, "weight": 1.0,
                                        "reason": "the run failed: ValueError: boom"}
    assert scores["final_output"]["score"] == 0.0
    assert evaluated["overall_score"] == pytest.approx(3 / 5)


async def test_evaluate_refuses_unknown_and_unfinished_runs(api: Api, agent_id: str) -> None:
    running = await api.create_run(agent_id)

    unknown = await api.call("POST", f"/agents/{agent_id}/runs/{uuid.uuid4()}/evaluate")
    other_agent = await api.call("POST", f"/agents/someone-else/runs/{running['id']}/evaluate")
    unfinished = await api.call("POST", f"/agents/{agent_id}/runs/{running['id']}/evaluate")
    after = await api.call("GET", f"/agents/{agent_id}/runs/{running['id']}")

    assert (unknown.status, unknown.body["error"]["code"]) == (404, "not_found")
    assert other_agent.status == 404
    assert (unfinished.status, unfinished.body["error"]["code"]) == (409, "run_not_finished")
    assert after.body["evaluation_status"] is None and after.body["scores"] == []


async def test_runs_listed_carry_their_scores(api: Api, agent_id: str) -> None:
    run_id = await completed_run(api, agent_id)
    await evaluated_run(api, agent_id, run_id)

    listed = await api.call("GET", f"/agents/{agent_id}/runs")

    (run,) = listed.body["runs"]
    assert run["evaluation_status"] == "done" and {score["evaluator"] for score in run["scores"]} == BUILTINS


async def test_an_otlp_root_span_completes_its_run_and_starts_an_evaluation(api: Api, agent_id: str) -> None:
    trace_id = uuid.uuid4().hex
    span = {"traceId": trace_id, "spanId": "00f067aa0ba902b7", "name": "agent", "kind": 1,
            "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000001000000000",
            "attributes": [{"key": "output.value", "value": {"stringValue": "all done"}}]}
    resource = {"attributes": [{"key": "kate.agent.id", "value": {"stringValue": agent_id}}]}
    exported = await api.call("POST", "/v1/traces", {"resourceSpans": [{"resource": resource,
                                                                        "scopeSpans": [{"spans": [span]}]}]})

    run = await evaluated_run(api, agent_id, str(uuid.UUID(trace_id)))  # docs/mapping.md#agents-and-runs: the trace id names the run

    assert exported.status == 200
    assert (run["source"], run["status"], run["evaluation_status"]) == ("otlp", "completed", "done")
    assert {score["evaluator"]: score["score"] for score in run["scores"]}["final_output"] == 1.0


async def test_the_completion_answer_already_says_whether_the_run_will_be_evaluated(
    start_app: StartApp, agent_id: str
) -> None:
    server = start_app(config={"evaluation": {"cooldown_s": 3600}})
    async with aiohttp.ClientSession() as session:
        api = Api(server.base_url, session)
        first, second = await api.create_run(agent_id), await api.create_run(agent_id)
        admitted = await api.call("POST", f"/agents/{agent_id}/runs/{first['id']}/complete")
        skipped = await api.call("POST", f"/agents/{agent_id}/runs/{second['id']}/complete")

    assert admitted.body["evaluation_status"] in ("pending", "done")
    assert skipped.body["evaluation_status"] == "skipped_cooldown"

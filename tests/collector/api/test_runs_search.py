"""GET /agents/{agent_id}/runs?q=: case-insensitive search in the runs' user_input and output."""

from __future__ import annotations

import aiohttp

from tests.conftest import StartCollector
from tests.support.http import Api

CONFIG = {
    "jobs": {"worker_enabled": False},  # the runs stay queued with their user_input; no agent runs
    "hosted_agents": [{"agent_id": "searchable", "entrypoint": "tests.support.hosted_agents:echo"}],
}


async def test_q_finds_runs_by_input_text_with_wildcards_taken_literally(start_collector: StartCollector) -> None:
    server = start_collector(config=CONFIG)
    async with aiohttp.ClientSession() as session:
        api = Api(server.base_url, session)
        ids = {}
        for text in ("Plan a post about DuckDB", "Summarise the 100% plan", "unrelated"):
            answer = await api.call("POST", "/agents/searchable/runs/enqueue", {"trigger": "manual", "user_input": text})
            assert answer.status == 202, answer.text
            ids[text] = answer.body["run_id"]

        async def found(q: str) -> set[str]:
            answer = await api.call("GET", "/agents/searchable/runs", params={"q": q})
            assert answer.status == 200, answer.text
            return {run["id"] for run in answer.body["runs"]}

        assert await found("duckdb") == {ids["Plan a post about DuckDB"]}
        assert await found("PLAN") == {ids["Plan a post about DuckDB"], ids["Summarise the 100% plan"]}
        assert await found("100%") == {ids["Summarise the 100% plan"]}
        assert await found("%") == {ids["Summarise the 100% plan"]}  # not a wildcard
        assert await found("") == set(ids.values())
        too_long = await api.call("GET", "/agents/searchable/runs", params={"q": "x" * 201})

    assert too_long.status == 400 and too_long.body["error"]["details"][0]["field"] == "q"

"""The cooldown clock and pending evaluations live in the DuckDB file: a restart keeps both."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import duckdb

from tests.conftest import StartCollector
from tests.support.http import Api
from tests.support.waiting import evaluated_run

CONFIG = {"evaluation": {"cooldown_s": 3600, "cooldown_s_by_agent": {"eager": 0}}}


async def complete_and_settle(base_url: str, agent_id: str) -> dict:
    async with aiohttp.ClientSession() as session:
        api = Api(base_url, session)
        run = await api.create_run(agent_id)
        await api.call("POST", f"/agents/{agent_id}/runs/{run['id']}/complete")
        return await evaluated_run(api, agent_id, run["id"])


async def test_cooldown_survives_a_restart_and_per_agent_overrides_apply(start_collector: StartCollector,
                                                                        tmp_path: Path) -> None:
    db_path = tmp_path / "kate.duckdb"
    first = start_collector(db_path, config=CONFIG)
    before = await complete_and_settle(first.base_url, "steady")
    assert first.stop() == 0

    second = start_collector(db_path, config=CONFIG)
    after = await complete_and_settle(second.base_url, "steady")
    eager = [await complete_and_settle(second.base_url, "eager") for _ in range(2)]

    assert before["evaluation_status"] == "done"
    assert after["evaluation_status"] == "skipped_cooldown"  # the hour-long cooldown outlived the restart
    assert [run["evaluation_status"] for run in eager] == ["done", "done"]  # override: cooldown 0


async def test_an_evaluation_left_pending_by_a_stop_is_resumed_at_start(start_collector: StartCollector,
                                                                      tmp_path: Path) -> None:
    db_path = tmp_path / "kate.duckdb"
    first = start_collector(db_path)
    run = await complete_and_settle(first.base_url, "interrupted")
    assert first.stop() == 0
    with duckdb.connect(str(db_path)) as connection:  # as if the collector died mid-evaluation
        connection.execute("DELETE FROM evaluations")
        connection.execute("UPDATE runs SET evaluation_status = 'pending', overall_score = NULL, "
                           "evaluation_id = 'interrupted-1' WHERE run_id = ?", [run["id"]])

    second = start_collector(db_path)
    async with aiohttp.ClientSession() as session:
        resumed = await evaluated_run(Api(second.base_url, session), "interrupted", run["id"])

    assert resumed["evaluation_status"] == "done" and len(resumed["scores"]) == 5
    assert resumed["overall_score"] == run["overall_score"]

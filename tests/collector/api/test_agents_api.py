"""GET /agents against a real collector: counts, last activity, hosted agents, pages, key scoping."""

from __future__ import annotations

import aiohttp
from kate.collector.auth import hash_key
from kate.exporter import Agent, AgentPage, Client, SyncClient

from tests.conftest import StartApp
from tests.support.http import Api

ADMIN_KEY, WRITER_KEY = "kate_agents_admin_key", "kate_agents_writer_key"
CONFIG = {
    "evaluation": {"enabled": False},
    "hosted_agents": [{"agent_id": "hosted-only", "entrypoint": "tests.support.hosted_agents:echo"}],
    "auth": {"keys": [
        {"name": "admin", "sha256": hash_key(ADMIN_KEY)},
        {"name": "writer", "sha256": hash_key(WRITER_KEY), "agents": ["writer", "hosted-only"]},
    ]},
}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def all_pages(api: Api, key: str, limit: int) -> list[list[dict[str, object]]]:
    pages, cursor = [], None
    for _ in range(20):  # bounded: at most 20 pages
        query = {"limit": str(limit), **({"cursor": cursor} if cursor else {})}
        answer = await api.call("GET", "/agents", params=query, headers=bearer(key))
        assert answer.status == 200, answer.text
        pages.append(answer.body["agents"])
        cursor = answer.body["next_cursor"]
        if cursor is None:
            return pages
    raise AssertionError("GET /agents never ended its pages")


async def test_agents_list_counts_runs_pages_and_respects_key_scope(start_app: StartApp) -> None:
    server = start_app(config=CONFIG)
    async with aiohttp.ClientSession() as session:
        api = Api(server.base_url, session)
        for agent, runs in (("writer", 2), ("reader", 1), ("auditor", 3)):
            for _ in range(runs):
                created = await api.call("POST", f"/agents/{agent}/runs", {"trigger": "manual"}, headers=bearer(ADMIN_KEY))
                assert created.status == 201, created.text
        done = await api.call("POST", f"/agents/auditor/runs/{created.body['id']}/complete", headers=bearer(ADMIN_KEY))
        assert done.status == 200, done.text
        admin_pages = await all_pages(api, ADMIN_KEY, limit=2)
        writer_pages = await all_pages(api, WRITER_KEY, limit=50)
        anonymous = await api.call("GET", "/agents")

    admin = [agent for page in admin_pages for agent in page]
    assert [len(page) for page in admin_pages] == [2, 2]
    assert [(a["agent_id"], a["run_count"], a["hosted"]) for a in admin] == [
        ("auditor", 3, False), ("hosted-only", 0, True), ("reader", 1, False), ("writer", 2, False)]
    assert all(a["last_activity_at"].endswith("Z") for a in admin if a["run_count"])
    assert admin[0]["last_activity_at"] == done.body["completed_at"]  # the latest event of its runs
    assert next(a for a in admin if a["agent_id"] == "hosted-only")["last_activity_at"] is None
    writer = [agent["agent_id"] for page in writer_pages for agent in page]
    assert writer == ["hosted-only", "writer"]
    assert anonymous.status == 401


async def test_sdk_clients_list_agents_with_their_key(start_app: StartApp) -> None:
    server = start_app(config=CONFIG)
    with SyncClient(server.base_url, api_key=ADMIN_KEY) as admin:
        admin.runs.create(agent_id="writer")
        admin.runs.create(agent_id="reader")
        first = admin.list_agents(limit=1)
        rest = admin.list_agents(cursor=first.next_cursor)
    async with Client(server.base_url, api_key=WRITER_KEY) as writer:
        scoped = await writer.list_agents()

    assert [agent.agent_id for agent in first] == ["hosted-only"] and first.next_cursor
    assert [(a.agent_id, a.run_count) for a in rest] == [("reader", 1), ("writer", 1)] and rest.next_cursor is None
    assert isinstance(rest.agents[0], Agent) and rest.agents[0].last_activity_at is not None
    assert isinstance(scoped, AgentPage)
    assert [(a.agent_id, a.hosted) for a in scoped] == [("hosted-only", True), ("writer", False)]

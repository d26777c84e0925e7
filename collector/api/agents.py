"""Handler of GET /agents (Kate extension): the agents the caller's key may see, paged like runs."""

from __future__ import annotations

from aiohttp import web
from kate.collector.api import params
from kate.collector.api.access import principal
from kate.collector.api.context import STATE_KEY
from kate.collector.api.serialize import json_response
from kate.collector.store import agents as agent_store


async def list_agents(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    caller = principal(request)
    limit = params.limit(request, default=state.config.api.default_page_size, maximum=state.config.api.max_page_size)
    after = params.cursor(request)
    hosted = [agent.agent_id for agent in state.hosted]
    page = await state.database.read(
        lambda c: agent_store.list_agents(c, hosted=hosted, allowed=caller.agents, limit=limit, after=after)
    )
    return json_response({"agents": page.items, "next_cursor": page.next_cursor})

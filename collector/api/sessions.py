"""Handlers of GET /agents/{agent_id}/sessions and GET /agents/{agent_id}/sessions/{session_id}/runs
(Kate extensions, docs/api.md#sessions): an agent's conversations and the runs of one, paged like runs."""

from __future__ import annotations

from aiohttp import web
from kate.collector.api import params
from kate.collector.api.context import STATE_KEY
from kate.collector.api.serialize import json_response
from kate.collector.errors import NotFound


async def list_sessions(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    agent_id = params.agent_id(request)
    limit = params.limit(request, default=state.config.api.default_page_size, maximum=state.config.api.max_page_size)
    after = params.cursor(request)
    page = await state.store.runs.sessions(agent_id, limit, after)
    return json_response({"sessions": page.items, "next_cursor": page.next_cursor})


async def list_session_runs(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    agent_id, session_id = params.agent_id(request), params.session_id(request)
    limit = params.limit(request, default=state.config.api.default_page_size, maximum=state.config.api.max_page_size)
    after = params.cursor(request)
    page = await state.store.runs.session_runs(agent_id, session_id, limit, after)
    if not page.items and after is None:
        raise NotFound(f"session {session_id} of agent {agent_id} not found")
    return json_response({"runs": page.items, "next_cursor": page.next_cursor})

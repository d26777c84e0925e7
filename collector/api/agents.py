"""Handlers of GET /agents and GET /agents/{agent_id}/spans (Kate extensions): the agents the
caller's key may see, and one agent's spans across its runs; both paged like runs."""

from __future__ import annotations

from aiohttp import web
from kate.collector.api import params
from kate.collector.api.access import principal
from kate.collector.api.context import STATE_KEY
from kate.collector.api.serialize import json_response, span_objects
from kate.collector.store.interfaces import AgentSpanFilter, SpanOrder
from kate.schema.record import SpanKind, StatusCode


async def list_agents(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    caller = principal(request)
    limit = params.limit(request, default=state.config.api.default_page_size, maximum=state.config.api.max_page_size)
    after = params.cursor(request)
    hosted = [agent.agent_id for agent in state.hosted]
    page = await state.store.runs.agents(hosted=hosted, allowed=caller.agents, limit=limit, after=after
    )
    return json_response({"agents": page.items, "next_cursor": page.next_cursor})


async def list_agent_spans(request: web.Request) -> web.Response:
    """Kate extension: the agent's spans across runs, filtered, slowest or newest first."""
    state = request.app[STATE_KEY]
    agent_id = params.agent_id(request)
    filters = AgentSpanFilter(
        span_kind=_value(params.choice(request, "span_kind", SpanKind)),
        status=_value(params.choice(request, "status", StatusCode)),
        since=params.timestamp(request, "since"),
        until=params.timestamp(request, "until"),
    )
    order = params.choice(request, "order", SpanOrder) or SpanOrder.START
    limit = params.limit(request, default=state.config.api.default_page_size, maximum=state.config.api.max_page_size)
    after = params.cursor(request)
    page = await state.store.spans.agent_spans(agent_id, filters, order=order, limit=limit, after=after
    )
    return json_response({"spans": span_objects(page.rows.names, page.rows.values), "next_cursor": page.next_cursor})


def _value(member: SpanKind | StatusCode | None) -> str | None:
    return member.value if member is not None else None

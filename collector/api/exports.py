"""Handler of GET /export (Kate extension, docs/api.md#export): one table's rows of a time window
as an Arrow IPC stream, read page by page so that the collector holds one page at a time.

`kate export` reads it and writes Parquet or JSONL files (collector/export_command.py).
"""

from __future__ import annotations

import datetime as dt

from aiohttp import web
from kate.collector.api import params
from kate.collector.api.access import principal
from kate.collector.api.context import STATE_KEY
from kate.collector.errors import BadRequest
from kate.collector.store.interfaces import ExportTable, ExportWindow
from kate.schema.agent_id import agent_id_problem

ARROW_STREAM = "application/vnd.apache.arrow.stream"
PAGE_ROWS = 5_000
_END_OF_STREAM = b"\xff\xff\xff\xff\x00\x00\x00\x00"  # the Arrow IPC end-of-stream marker


async def export_table(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    window = _window(request)
    caller = principal(request)
    if window.agent_id is None:
        caller.require_unrestricted("an export of every agent (name one with agent=)")
    else:
        caller.require_agent(window.agent_id)
    table = params.choice(request, "table", ExportTable)
    if table is None:
        raise BadRequest("table is required: runs, spans, evaluations or genai_log_records",
                         details=[{"field": "table", "message": "required"}])
    page = await state.store.analysis.export_page(table, window, PAGE_ROWS)
    response = web.StreamResponse(headers={"Content-Type": ARROW_STREAM})
    await response.prepare(request)  # from here a failure can only cut the stream short: the reader sees no end
    await response.write(page.rows.schema.serialize().to_pybytes())
    while True:
        for batch in page.rows.to_batches():
            await response.write(batch.serialize().to_pybytes())
        if page.after is None:
            break
        page = await state.store.analysis.export_page(table, window, PAGE_ROWS, page.after)
    await response.write(_END_OF_STREAM)
    await response.write_eof()
    return response


def _window(request: web.Request) -> ExportWindow:
    since, until = _required_time(request, "since"), _required_time(request, "until")
    if until <= since:
        raise BadRequest("until must be after since", details=[{"field": "until", "message": "must be after since"}])
    agent_id = request.query.get("agent") or None
    if agent_id is not None and (problem := agent_id_problem(agent_id)) is not None:
        raise BadRequest(f"agent {problem}", details=[{"field": "agent", "message": problem}])
    return ExportWindow(since, until, agent_id)


def _required_time(request: web.Request, name: str) -> dt.datetime:
    value = params.timestamp(request, name)
    if value is None:
        raise BadRequest(f"{name} is required: an RFC 3339 time", details=[{"field": name, "message": "required"}])
    return value

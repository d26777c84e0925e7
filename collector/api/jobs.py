"""Handler of GET /jobs/{job_id}: a hosted agent's job (docs/hosted-agents.md). Enqueue is in api/runs.py.

The path names no agent, so the access check happens here, once the job's agent is known.
"""

from __future__ import annotations

from aiohttp import web
from kate.collector.api import params
from kate.collector.api.access import principal
from kate.collector.api.context import STATE_KEY
from kate.collector.api.serialize import json_response
from kate.collector.errors import NotFound


async def get_job(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    raw = request.match_info["job_id"]
    job_id = params.canonical_uuid(raw)
    if job_id is None:
        raise NotFound(f"job {raw[:64]} not found: job ids are UUIDs")
    job = await state.store.jobs.get(job_id)
    principal(request).require_agent(job["agent_id"])
    return json_response(job)

"""Handler of POST /agents/{agent_id}/runs/{run_id}/evaluate: force an evaluation (docs/evaluation.md).

Answers 202 at once with the run (evaluation_status pending); the scores arrive in the
background. Rate limited per run (api.evaluate_rate_limit_per_minute). No SQL here.
"""

from __future__ import annotations

from aiohttp import web
from kate.collector.api import params
from kate.collector.api.context import STATE_KEY
from kate.collector.api.ratelimit import run_key
from kate.collector.api.serialize import json_response


async def evaluate_run(request: web.Request) -> web.Response:
    """Evaluate a completed or failed run now, regardless of the agent's cooldown."""
    state = request.app[STATE_KEY]
    agent_id, run_id = params.agent_id(request), params.run_id(request)
    # Per run: each evaluation may call a paid LLM judge. 404 and 409 give the token back.
    async with state.evaluate_limiter.charged(run_key(agent_id, run_id)) as allowance:
        ticket = await state.evaluations.force(agent_id, run_id)  # 404 unknown run, 409 run_not_finished
    try:  # read before the evaluation starts: the answer shows what was admitted (pending)
        run = await state.store.runs.get(agent_id, run_id)
    finally:
        state.evaluations.begin(ticket)
    return json_response(run, status=202, headers=allowance.headers())

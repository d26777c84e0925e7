"""Liveness, readiness and metrics: /healthz answers while the process serves; /readyz checks
the store; /metrics is the Prometheus text of kate.collector.metrics."""

from __future__ import annotations

from aiohttp import web
from kate.collector import metrics
from kate.collector.api.context import STATE_KEY
from kate.collector.api.serialize import json_response
from kate.collector.errors import Overloaded


async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    if not state.store.is_open:
        raise Overloaded("the store is not open")
    await state.store.analysis.ping(timeout_s=5)
    return json_response({"status": "ready"})


async def prometheus_metrics(request: web.Request) -> web.Response:
    response = web.Response(body=metrics.exposition())
    response.headers["Content-Type"] = metrics.CONTENT_TYPE
    return response

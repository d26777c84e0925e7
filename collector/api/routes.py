"""Every URL of the collector's HTTP port in one table."""

from __future__ import annotations

from aiohttp import web
from kate.collector.api import agents, evaluations, exports, health, jobs, openapi, runs, sessions, sql
from kate.collector.ingest import receive_http
from kate.collector.middleware import RENDERER_KEY, ErrorRenderer, Handler

_RUN = "/agents/{agent_id}/runs/{run_id}"

ROUTES: tuple[tuple[str, str, Handler], ...] = (
    ("GET", "/agents", agents.list_agents),
    ("GET", "/agents/{agent_id}/runs", runs.list_runs),
    ("GET", "/agents/{agent_id}/spans", agents.list_agent_spans),
    ("GET", "/agents/{agent_id}/sessions", sessions.list_sessions),
    ("GET", "/agents/{agent_id}/sessions/{session_id}/runs", sessions.list_session_runs),
    ("POST", "/agents/{agent_id}/runs", runs.create_run),
    ("POST", "/agents/{agent_id}/runs/enqueue", runs.enqueue_run),
    ("GET", _RUN, runs.get_run),
    ("POST", f"{_RUN}/complete", runs.complete_run),
    ("POST", f"{_RUN}/fail", runs.fail_run),
    ("POST", f"{_RUN}/evaluate", evaluations.evaluate_run),
    ("GET", f"{_RUN}/spans", runs.list_run_spans),
    ("POST", f"{_RUN}/spans", runs.upload_spans),
    ("GET", "/jobs/{job_id}", jobs.get_job),
    ("POST", "/sql", sql.run_sql),
    ("GET", "/sql/tables", sql.list_tables),
    ("GET", "/export", exports.export_table),
    ("GET", "/healthz", health.healthz),
    ("GET", "/readyz", health.readyz),
    ("GET", "/metrics", health.prometheus_metrics),
    ("GET", "/openapi.json", openapi.openapi_document),
    ("POST", "/v1/traces", receive_http.receive_traces),
    ("POST", "/v1/metrics", receive_http.discard_signal),
    ("POST", "/v1/logs", receive_http.receive_logs),
)

# Routes whose errors are not the JSON envelope: OTLP answers google.rpc.Status (OTLP/HTTP spec).
ERROR_RENDERERS: dict[str, ErrorRenderer] = {
    "/v1/traces": receive_http.render_otlp_error,
    "/v1/metrics": receive_http.render_otlp_error,
    "/v1/logs": receive_http.render_otlp_error,
}


def add_routes(app: web.Application) -> None:
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, handler)
    app[RENDERER_KEY] = dict(ERROR_RENDERERS)

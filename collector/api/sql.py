"""POST /sql: read-only analysis queries over the live file, served by the process that owns it;
GET /sql/tables: what those queries can read on this storage engine, and in which SQL dialect.

Body: {"sql": "SELECT ...", "params": [...] | {...}, "max_rows": n}. Rows, answer bytes and time
are capped by config (sql.max_rows, sql.max_response_bytes, sql.timeout_ms); a timeout answers
408 `query_timeout`. The answer's JSON is built on the reader thread, never on the event loop.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from kate.collector.api.context import STATE_KEY
from kate.collector.api.serialize import json_response, read_json_object
from kate.collector.errors import NotFound, QueryTimeout, ValidationError

# What each table or view holds, in a few words (docs/sql.md has the columns).
TABLE_DESCRIPTIONS = {
    "runs": "runs, one row each",
    "spans": "spans, one row each",
    "evaluations": "scores per evaluator",
    "jobs": "hosted agents' jobs",
    "genai_log_records": "GenAI prompts and completions received as OTLP logs",
    "span_details": "spans with timestamps and is_error",
    "run_summary": "per run: spans, tokens, errors, models",
    "model_usage_daily": "per agent, day and model",
    "node_latency": "p50/p95/p99 and error rate per node",
    "evaluation_scores": "latest scores per run",
    "sessions": "per session: runs, tokens, cost, first input, last output",
}


async def run_sql(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    _require_enabled(state.config.sql.enabled)
    body = await read_json_object(request)
    sql, params, max_rows = _query(body, state.config.sql.max_rows)
    timeout_ms, max_bytes = state.config.sql.timeout_ms, state.config.sql.max_response_bytes
    try:
        body_bytes = await state.store.analysis.query_json(sql, params, max_rows=max_rows, max_bytes=max_bytes,
                                                           timeout_s=timeout_ms / 1000)
    except TimeoutError:
        raise QueryTimeout(f"query did not finish within {timeout_ms} ms and was interrupted") from None
    return web.Response(body=body_bytes, content_type="application/json", charset="utf-8")


async def list_tables(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    _require_enabled(state.config.sql.enabled)
    analysis = state.store.analysis
    return json_response({"dialect": analysis.dialect,
                          "tables": [{"name": name, "description": TABLE_DESCRIPTIONS[name]} for name in analysis.tables]})


def _require_enabled(enabled: bool) -> None:
    if not enabled:
        raise NotFound("the SQL endpoint is disabled (sql.enabled: false)")


def _query(body: dict[str, Any], row_cap: int) -> tuple[str, Any, int]:
    sql = body.get("sql")
    if not isinstance(sql, str) or not sql.strip():
        raise ValidationError.for_field("sql", "is required: one SELECT statement")
    params = body.get("params")
    if params is not None and not isinstance(params, (list, dict)):
        raise ValidationError.for_field("params", "must be a list (for ?) or an object (for $name)")
    max_rows = body.get("max_rows", row_cap)
    if not isinstance(max_rows, int) or isinstance(max_rows, bool) or not 1 <= max_rows <= row_cap:
        raise ValidationError.for_field("max_rows", f"must be an integer from 1 to {row_cap}")
    return sql, params, max_rows

"""The OpenAPI 3.1 document of the HTTP port, served at /openapi.json.

Written by hand next to routes.py; tests check that every route is documented and that the
example responses of the API match their schemas' required keys.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from kate.collector.api.request_guard import OTLP_PREFIX, PROBE_PATHS
from kate.collector.api.serialize import json_response

_JSON = "application/json"
_PROTOBUF = "application/x-protobuf"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _body(schema: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": _ref(schema)}}}


def _errors(*statuses: int) -> dict[str, Any]:
    reasons = {400: "Bad request", 401: "Unauthorized", 404: "Not found", 408: "Query timeout",
               409: "Wrong state or duplicate", 413: "Too large", 415: "Wrong content type",
               422: "Validation error", 429: "Rate limited", 503: "Overloaded, retry after Retry-After"}
    return {str(code): _body("Error", reasons[code]) for code in statuses}


# The request guard's answers, possible on every operation but the probes (request_guard.py).
_GUARD_REASONS = {403: "Origin not allowed (origin_not_allowed), or the key may not access this agent",
                  415: "A body that is not application/json (unsupported_media_type)",
                  421: "Host is not a name of this collector (host_not_allowed): server.allowed_hosts"}


def _with_guard_answers(paths: dict[str, Any]) -> dict[str, Any]:
    """Every operation outside PROBE_PATHS, with the guard's 403/421 (and 415 on POST) added where missing."""
    for path, operations in paths.items():
        if path in PROBE_PATHS:
            continue
        for method, operation in operations.items():
            otlp = path.startswith(OTLP_PREFIX)
            for status, reason in _GUARD_REASONS.items():
                if status == 415 and method == "get":
                    continue  # bodies are checked on POST only
                answer = _otlp("google.rpc.Status", reason) if otlp else _body("Error", reason)
                operation["responses"].setdefault(str(status), answer)
    return paths


def _param(name: str, where: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": where, "required": where == "path", "description": description,
            "schema": schema or {"type": "string"}}


_AGENT = _param("agent_id", "path", "Agent identifier (1-256 printable characters)")
_RUN = _param("run_id", "path", "Run UUID", {"type": "string", "format": "uuid"})
_LIMIT = _param("limit", "query", "Page size (1..1000)", {"type": "integer", "minimum": 1, "maximum": 1000})
_CURSOR = _param("cursor", "query", "Opaque cursor from next_cursor of the previous page")
_STATUSES = ["queued", "running", "completed", "failed"]
_TRIGGERS = ["manual", "automatic", "test"]
_KINDS = ["LLM", "EMBEDDING", "CHAIN", "RETRIEVER", "RERANKER", "TOOL", "AGENT", "GUARDRAIL",
          "EVALUATOR", "PROMPT", "DECISION", "UNKNOWN"]
_TIME = {"type": ["string", "null"], "format": "date-time"}


def _paths() -> dict[str, Any]:
    run = "/agents/{agent_id}/runs/{run_id}"
    return {
        "/agents": {"get": {"operationId": "list_agents",
                            "summary": "Agents with runs or hosted here, in agent_id order (Kate extension); "
                                       "a key limited to some agents sees only those",
                            "parameters": [_LIMIT, _CURSOR],
                            "responses": {"200": _body("AgentList", "A page of agents"), **_errors(400)}}},
        "/agents/{agent_id}/runs": {
            "get": {"operationId": "list_runs", "summary": "List runs, newest first",
                    "parameters": [_AGENT, _LIMIT, _CURSOR,
                                   _param("status", "query", "Filter by status", {"enum": _STATUSES}),
                                   _param("trigger", "query", "Filter by trigger", {"enum": _TRIGGERS}),
                                   _param("since", "query", "created_at >= (RFC 3339)", {"type": "string", "format": "date-time"}),
                                   _param("until", "query", "created_at < (RFC 3339)", {"type": "string", "format": "date-time"}),
                                   _param("q", "query", "Case-insensitive substring of user_input or output (Kate extension)",
                                          {"type": "string", "maxLength": 200})],
                    "responses": {"200": _body("RunList", "A page of runs"), **_errors(400, 422)}},
            "post": {"operationId": "create_run", "summary": "Create a run",
                     "parameters": [_AGENT], "requestBody": {"required": True, "content": {_JSON: {"schema": _ref("CreateRun")}}},
                     "responses": {"201": _body("Run", "AgentRunResponse"), **_errors(400, 409, 415, 422, 503)}},
        },
        "/agents/{agent_id}/spans": {
            "get": {"operationId": "list_agent_spans",
                    "summary": "An agent's spans across its runs, newest or slowest first (Kate extension)",
                    "parameters": [_AGENT, _LIMIT, _CURSOR,
                                   _param("span_kind", "query", "Filter by kind", {"enum": _KINDS}),
                                   _param("status", "query", "Filter by status", {"enum": ["OK", "ERROR", "UNSET"]}),
                                   _param("since", "query", "span start >= (RFC 3339)", {"type": "string", "format": "date-time"}),
                                   _param("until", "query", "span start < (RFC 3339)", {"type": "string", "format": "date-time"}),
                                   _param("order", "query", "start: newest first (default); latency: slowest first",
                                          {"enum": ["start", "latency"]})],
                    "responses": {"200": _body("AgentSpanList", "A page of spans"), **_errors(400, 422)}},
        },
        "/agents/{agent_id}/sessions": {
            "get": {"operationId": "list_sessions",
                    "summary": "An agent's sessions, most recently active first (Kate extension)",
                    "parameters": [_AGENT, _LIMIT, _CURSOR],
                    "responses": {"200": _body("SessionList", "A page of sessions"), **_errors(400, 422)}},
        },
        "/agents/{agent_id}/sessions/{session_id}/runs": {
            "get": {"operationId": "list_session_runs",
                    "summary": "A session's runs, oldest first (Kate extension)",
                    "parameters": [_AGENT, _param("session_id", "path", "Session id (1-256 printable characters)"),
                                   _LIMIT, _CURSOR],
                    "responses": {"200": _body("RunList", "A page of runs"), **_errors(400, 404, 422)}},
        },
        "/agents/{agent_id}/runs/enqueue": {
            "post": {"operationId": "enqueue_run", "summary": "Enqueue a run of a Kate-hosted agent",
                     "parameters": [_AGENT], "requestBody": {"required": True, "content": {_JSON: {"schema": _ref("EnqueueRun")}}},
                     "responses": {"202": _body("Enqueued", "Queued"), **_errors(400, 404, 413, 415, 422, 503)}},
        },
        run: {"get": {"operationId": "get_run", "summary": "Get a run", "parameters": [_AGENT, _RUN],
                      "responses": {"200": _body("Run", "AgentRunResponse"), **_errors(404, 422)}}},
        f"{run}/complete": {
            "post": {"operationId": "complete_run", "summary": "Mark a running run completed",
                     "parameters": [_AGENT, _RUN],
                     "responses": {"200": _body("Run", "AgentRunResponse"), **_errors(404, 409, 422, 503)}},
        },
        f"{run}/fail": {
            "post": {"operationId": "fail_run", "summary": "Mark a queued or running run failed (Kate extension)",
                     "parameters": [_AGENT, _RUN],
                     "requestBody": {"required": False, "content": {_JSON: {"schema": _ref("FailRun")}}},
                     "responses": {"200": _body("Run", "AgentRunResponse"), **_errors(400, 404, 409, 415, 422, 503)}},
        },
        f"{run}/evaluate": {
            "post": {"operationId": "evaluate_run",
                     "summary": "Evaluate a completed or failed run now, regardless of cooldown (Kate extension); "
                                "202 with evaluation_status pending, scores follow in the background; "
                                "rate limited per run (api.evaluate_rate_limit_per_minute)",
                     "parameters": [_AGENT, _RUN],
                     "responses": {"202": _body("Run", "AgentRunResponse, evaluation pending"),
                                   **_errors(404, 409, 422, 429, 503)}},
        },
        "/jobs/{job_id}": {
            "get": {"operationId": "get_job", "summary": "A job of a Kate-hosted agent",
                    "parameters": [_param("job_id", "path", "Job UUID (job_id of the enqueue answer)",
                                          {"type": "string", "format": "uuid"})],
                    "responses": {"200": _body("Job", "The job"), **_errors(404)}},
        },
        f"{run}/spans": {
            "get": {"operationId": "list_run_spans", "summary": "Spans of a run in start order",
                    "parameters": [_AGENT, _RUN, _LIMIT, _CURSOR,
                                   _param("span_kind", "query", "Filter by kind", {"enum": _KINDS})],
                    "responses": {"200": _body("SpanList", "A page of spans"), **_errors(400, 404, 422)}},
            "post": {"operationId": "upload_spans", "summary": "Upload spans to a running run (all or nothing)",
                     "parameters": [_AGENT, _RUN],
                     "requestBody": {"required": True, "content": {_JSON: {"schema": _ref("UploadSpans")}}},
                     "responses": {"201": _body("Uploaded", "Stored"), **_errors(400, 404, 409, 413, 415, 422, 429, 503)}},
        },
        "/sql": {"post": {"operationId": "run_sql", "summary": "One read-only SQL query over the span tables",
                          "requestBody": {"required": True, "content": {_JSON: {"schema": _ref("SqlQuery")}}},
                          "responses": {"200": _body("SqlResult", "Rows"), **_errors(400, 404, 408, 415, 422)}}},
        "/sql/tables": {"get": {"operationId": "list_sql_tables",
                                "summary": "The tables and views /sql reads on this storage engine, and its SQL dialect",
                                "responses": {"200": _body("SqlTables", "Tables"), **_errors(404)}}},
        "/export": {"get": {
            "operationId": "export_table",
            "summary": "One table's rows of a time window as an Arrow IPC stream (Kate extension; kate export reads it)",
            "parameters": [{**_param("table", "query", "runs, spans, evaluations or genai_log_records",
                                     {"enum": ["runs", "spans", "evaluations", "genai_log_records"]}), "required": True},
                           {**_param("since", "query", "window start, included (RFC 3339)",
                                     {"type": "string", "format": "date-time"}), "required": True},
                           {**_param("until", "query", "window end, excluded (RFC 3339)",
                                     {"type": "string", "format": "date-time"}), "required": True},
                           _param("agent", "query", "only this agent's rows")],
            "responses": {"200": {"description": "Arrow IPC stream: the table's columns plus day",
                                  "content": {"application/vnd.apache.arrow.stream": {"schema": {"type": "string",
                                                                                                  "format": "binary"}}}},
                          **_errors(400)}}},
        "/healthz": {"get": {"operationId": "healthz", "summary": "Liveness",
                             "responses": {"200": _body("Health", "Alive")}}},
        "/readyz": {"get": {"operationId": "readyz", "summary": "Readiness (store open)",
                            "responses": {"200": _body("Health", "Ready"), **_errors(503)}}},
        "/metrics": {"get": {"operationId": "prometheus_metrics", "summary": "Prometheus metrics (text format)",
                             "responses": {"200": {"description": "Counters, gauges and histograms of the collector",
                                                   "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
        "/openapi.json": {"get": {"operationId": "openapi_document", "summary": "This document",
                                  "responses": {"200": {"description": "OpenAPI 3.1 document"}}}},
        **_otlp_paths(),
    }


def _otlp(schema: str, description: str) -> dict[str, Any]:
    """An OTLP message: protobuf or OTLP/JSON (hex ids), answered in the request's media type."""
    described = {"schema": {"description": f"opentelemetry.proto {schema}"}}
    return {"description": description, "content": {_PROTOBUF: described, _JSON: described}}


def _otlp_errors() -> dict[str, Any]:
    reasons = {400: "Undecodable body or unsupported Content-Encoding (do not retry)",
               413: "Body above server.max_body_bytes after decompression (do not retry)",
               415: "Content-Type is not application/x-protobuf or application/json (text/plain body)",
               503: "Overloaded: retry after Retry-After"}
    answers = {str(code): _otlp("google.rpc.Status", reason) for code, reason in reasons.items()}
    # 415: the request's type is not OTLP's, so the answer cannot be in it (the Collector's text/plain).
    answers["415"] = {"description": reasons[415], "content": {"text/plain": {"schema": {"type": "string"}}}}
    return answers


def _otlp_paths() -> dict[str, Any]:
    traces = {"operationId": "receive_traces", "tags": ["OTLP"],
              "summary": "OTLP/HTTP trace export; answered after commit (gzip and deflate accepted)",
              "requestBody": {"required": True, "content": _otlp("ExportTraceServiceRequest", "")["content"]},
              "responses": {"200": _otlp("ExportTraceServiceResponse",
                                         "Stored; partialSuccess counts spans that were rejected, with the reason"),
                            **_otlp_errors()}}
    logs = {"operationId": "receive_logs", "tags": ["OTLP"],
            "summary": "OTLP/HTTP logs export: GenAI event records (gen_ai.*) are stored and their content folded "
                       "into the spans they name; other records are dropped. Answered after commit",
            "requestBody": {"required": True, "content": _otlp("ExportLogsServiceRequest", "")["content"]},
            "responses": {"200": _otlp("ExportLogsServiceResponse",
                                       "Stored; partialSuccess counts GenAI records that were rejected, with the reason"),
                          **_otlp_errors()}}
    discarded = {"tags": ["OTLP"], "summary": "Accepted and discarded, so exporters of every signal see success",
                 "responses": {"200": _otlp("empty ExportMetricsServiceResponse", "Discarded"), **_otlp_errors()}}
    return {"/v1/traces": {"post": traces},
            "/v1/metrics": {"post": {"operationId": "receive_metrics", **discarded}},
            "/v1/logs": {"post": logs}}


def _schemas() -> dict[str, Any]:
    nullable_str = {"type": ["string", "null"]}
    nullable_num = {"type": ["number", "null"]}
    nullable_int = {"type": ["integer", "null"]}
    return {
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {
            "type": "object", "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                           "details": {"type": "array", "items": {"type": "object"}}}}}},
        "CreateRun": {"type": "object", "required": ["trigger"], "properties": {
            "trigger": {"enum": _TRIGGERS}, "run_id": {"type": "string", "format": "uuid"},
            "session_id": {"type": "string", "minLength": 1, "maxLength": 256},
            "user_id": {"type": "string", "minLength": 1, "maxLength": 256}}},
        "FailRun": {"type": "object", "properties": {"error": {"type": "string"}}},
        "EnqueueRun": {"type": "object", "required": ["trigger"], "properties": {
            "trigger": {"enum": _TRIGGERS}, "user_input": {"type": "string", "description": "at most jobs.max_input_bytes of UTF-8"},
            "run_id": {"type": "string", "format": "uuid"}}},
        "Job": {"type": "object", "required": ["job_id", "run_id", "agent_id", "status", "attempts", "created_at"],
                "properties": {"job_id": {"type": "string", "format": "uuid"}, "run_id": {"type": "string", "format": "uuid"},
                               "agent_id": {"type": "string"},
                               "status": {"enum": ["queued", "running", "succeeded", "failed"]},
                               "attempts": {"type": "integer"}, "error": nullable_str,
                               "created_at": {"type": "string", "format": "date-time"}, "started_at": _TIME,
                               "finished_at": _TIME, "lease_until": _TIME, "next_attempt_at": _TIME}},
        "Score": {"type": "object", "required": ["evaluator", "score", "weight", "reason"], "properties": {
            "evaluator": {"type": "string"}, "score": nullable_num, "weight": {"type": "number"},
            "reason": {"type": "string"}}},
        "Enqueued": {"type": "object", "required": ["run_id", "job_id", "status"], "properties": {
            "run_id": {"type": "string"}, "job_id": {"type": "string"}, "status": {"const": "queued"}}},
        "Run": {"type": "object",
                "required": ["id", "agent_id", "status", "trigger", "overall_score", "created_at", "completed_at"],
                "properties": {"id": {"type": "string", "format": "uuid"}, "agent_id": {"type": "string"},
                               "status": {"enum": _STATUSES}, "trigger": {"enum": _TRIGGERS},
                               "overall_score": nullable_num, "created_at": {"type": "string", "format": "date-time"},
                               "completed_at": _TIME, "started_at": _TIME, "source": {"enum": ["api", "otlp", "hosted"]},
                               "user_input": nullable_str, "output": nullable_str,
                               "error": nullable_str, "job_id": nullable_str,
                               "evaluation_status": {"enum": ["pending", "done", "skipped_cooldown", "failed", None]},
                               "scores": {"type": "array", "items": _ref("Score")},
                               "span_count": {"type": "integer"}, "total_tokens": {"type": "integer"},
                               "total_cost_usd": nullable_num, "session_id": nullable_str, "user_id": nullable_str}},
        "Session": {"type": "object",
                    "required": ["session_id", "agent_id", "run_count", "first_time", "last_time"],
                    "properties": {"session_id": {"type": "string"}, "agent_id": {"type": "string"},
                                   "user_id": nullable_str, "run_count": {"type": "integer"},
                                   "span_count": {"type": "integer"}, "total_tokens": {"type": "integer"},
                                   "total_cost_usd": nullable_num, "failed_runs": {"type": "integer"},
                                   "first_input": nullable_str, "last_output": nullable_str,
                                   "p50_latency_ms": nullable_num, "p99_latency_ms": nullable_num,
                                   "first_time": {"type": "string", "format": "date-time"},
                                   "last_time": {"type": "string", "format": "date-time"}}},
        "SessionList": {"type": "object", "required": ["sessions", "next_cursor"], "properties": {
            "sessions": {"type": "array", "items": _ref("Session")}, "next_cursor": nullable_str}},
        "RunList": {"type": "object", "required": ["runs"], "properties": {
            "runs": {"type": "array", "items": _ref("Run")}, "next_cursor": nullable_str}},
        "Span": {"type": "object",
                 "required": ["node_name", "span_kind", "input_text", "output_text", "model", "latency_ms", "token_count"],
                 "properties": {"node_name": {"type": "string"}, "span_kind": {"enum": _KINDS},
                                "input_text": nullable_str, "output_text": nullable_str, "model": nullable_str,
                                "latency_ms": nullable_num, "token_count": nullable_int,
                                "span_id": {"type": "string"}, "trace_id": {"type": "string"},
                                "parent_span_id": nullable_str, "start_time": _TIME, "end_time": _TIME,
                                "status": {"enum": ["OK", "ERROR", "UNSET"]}, "status_message": nullable_str,
                                "input_tokens": nullable_int, "output_tokens": nullable_int,
                                "cached_input_tokens": nullable_int, "cost_usd": nullable_num,
                                "input_cost_usd": nullable_num, "output_cost_usd": nullable_num,
                                "cost_source": nullable_str, "session_id": nullable_str, "user_id": nullable_str,
                                "attributes": {"type": "object"}}},
        "SpanList": {"type": "object", "required": ["spans", "total"], "properties": {
            "spans": {"type": "array", "items": _ref("Span")}, "total": {"type": "integer"},
            "next_cursor": nullable_str}},
        "AgentSpanList": {"type": "object", "required": ["spans", "next_cursor"], "properties": {
            "spans": {"type": "array", "items": _ref("Span")}, "next_cursor": nullable_str}},
        "UploadSpan": {"type": "object", "required": ["node_name"], "properties": {
            "node_name": {"type": "string", "minLength": 1}, "span_kind": {"enum": _KINDS},
            "input_text": nullable_str, "output_text": nullable_str, "model": nullable_str,
            "latency_ms": {"type": ["number", "null"], "minimum": 0},
            "token_count": {"type": ["integer", "null"], "minimum": 0},
            "input_tokens": {"type": ["integer", "null"], "minimum": 0},
            "output_tokens": {"type": ["integer", "null"], "minimum": 0},
            "span_id": {"type": "string", "pattern": "^[0-9a-fA-F]{16}$"},
            "trace_id": {"type": "string", "pattern": "^[0-9a-fA-F]{32}$"},
            "parent_span_id": {"type": ["string", "null"], "pattern": "^[0-9a-fA-F]{16}$"},
            "start_time": {"type": "string", "format": "date-time"}, "end_time": {"type": "string", "format": "date-time"},
            "status": {"enum": ["OK", "ERROR", "UNSET"]}, "status_message": nullable_str,
            "attributes": {"type": "object"}}},
        "UploadSpans": {"type": "object", "required": ["spans"], "properties": {
            "spans": {"type": "array", "items": _ref("UploadSpan")}}},
        "Uploaded": {"type": "object", "required": ["uploaded", "span_ids"], "properties": {
            "uploaded": {"type": "integer"}, "span_ids": {"type": "array", "items": {"type": "string"}}}},
        "SqlQuery": {"type": "object", "required": ["sql"], "properties": {
            "sql": {"type": "string"}, "params": {"type": ["array", "object"]},
            "max_rows": {"type": "integer", "minimum": 1}}},
        "SqlTables": {"type": "object", "required": ["dialect", "tables"], "properties": {
            "dialect": {"type": "string", "enum": ["DuckDB", "ClickHouse"]},
            "tables": {"type": "array", "items": {"type": "object", "required": ["name", "description"], "properties": {
                "name": {"type": "string"}, "description": {"type": "string"}}}}}},
        "SqlResult": {"type": "object", "required": ["columns", "types", "rows", "row_count", "truncated"], "properties": {
            "columns": {"type": "array", "items": {"type": "string"}}, "types": {"type": "array", "items": {"type": "string"}},
            "rows": {"type": "array", "items": {"type": "array"}}, "row_count": {"type": "integer"},
            "truncated": {"type": "boolean"}}},
        "Agent": {"type": "object", "required": ["agent_id", "run_count", "last_activity_at", "hosted"], "properties": {
            "agent_id": {"type": "string"}, "run_count": {"type": "integer"}, "last_activity_at": _TIME,
            "hosted": {"type": "boolean"}}},
        "AgentList": {"type": "object", "required": ["agents", "next_cursor"], "properties": {
            "agents": {"type": "array", "items": _ref("Agent")}, "next_cursor": nullable_str}},
        "Health": {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}},
    }


def build_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Kate collector", "version": "0.1.0",
                 "description": "Runs API, span upload, read-only SQL and OTLP/HTTP of the Kate tracing "
                                "collector. Errors use the Error envelope, except on the OTLP routes "
                                "(/v1/*), which answer google.rpc.Status as OTLP requires."},
        "paths": _with_guard_answers(_paths()),
        "components": {"schemas": _schemas()},
    }


async def openapi_document(request: web.Request) -> web.Response:
    return json_response(build_document())

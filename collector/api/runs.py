"""Handlers of the Runs API, one per operation of the Runs API (docs/api.md): parse, call the store, serialize.

No SQL and no business rules here: those live in store/ and ingest/. Errors are raised and
rendered by the middleware.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from kate.collector.api import params
from kate.collector.api.context import STATE_KEY, AppState
from kate.collector.api.ratelimit import run_key
from kate.collector.api.serialize import json_response, read_json_bytes, read_json_object, span_objects
from kate.collector.errors import PayloadTooLarge, ValidationError
from kate.collector.ingest.decode_upload import UploadTarget
from kate.collector.ingest.sink import RunRef
from kate.collector.store.ids import uuid7
from kate.collector.store.interfaces import NewRun, RunFilter, RunSource, RunStatus, RunTrigger
from kate.schema.record import SpanKind
from kate.schema.text import cap_text

_TRIGGERS = ", ".join(trigger.value for trigger in RunTrigger)


def _state(request: web.Request) -> AppState:
    return request.app[STATE_KEY]


async def list_runs(request: web.Request) -> web.Response:
    state = _state(request)
    agent_id = params.agent_id(request)
    filters = RunFilter(
        status=params.choice(request, "status", RunStatus),
        trigger=params.choice(request, "trigger", RunTrigger),
        since=params.timestamp(request, "since"),
        until=params.timestamp(request, "until"),
        text=params.search_text(request, "q"),
    )
    limit = params.limit(request, default=state.config.api.default_page_size, maximum=state.config.api.max_page_size)
    after = params.cursor(request)
    page = await state.store.runs.list(agent_id, filters, limit, after)
    return json_response({"runs": page.items, "next_cursor": page.next_cursor})


async def create_run(request: web.Request) -> web.Response:
    state = _state(request)
    agent_id = params.agent_id(request)
    body = await read_json_object(request)
    trigger = _trigger(body.get("trigger"))
    run_id = _requested_run_id(body.get("run_id"))
    run = NewRun(run_id=run_id, agent_id=agent_id, trigger=trigger, source=RunSource.API,
                 session_id=_optional_id(body.get("session_id"), "session_id"),
                 user_id=_optional_id(body.get("user_id"), "user_id"))
    await state.store.runs.create(run)
    created = await state.store.runs.get(agent_id, run_id)
    return json_response(created, status=201, headers={"Location": f"/agents/{agent_id}/runs/{run_id}"})


def _optional_id(value: Any, field: str) -> str | None:
    if value is None:
        return None
    problem = params.id_problem(value)
    if problem is not None:
        raise ValidationError.for_field(field, problem)
    return str(value)


def _trigger(value: Any) -> RunTrigger:
    if value is None:
        raise ValidationError.for_field("trigger", f"is required: one of {_TRIGGERS}")
    if not isinstance(value, str) or value not in {t.value for t in RunTrigger}:
        raise ValidationError.for_field("trigger", f"must be one of {_TRIGGERS}, got {str(value)[:40]!r}")
    return RunTrigger(value)


def _requested_run_id(value: Any) -> str:
    if value is None:
        return uuid7()
    canonical = params.canonical_uuid(value) if isinstance(value, str) else None
    if canonical is None:
        raise ValidationError.for_field("run_id", f"must be a UUID string, got {str(value)[:64]!r}")
    return canonical


async def get_run(request: web.Request) -> web.Response:
    state = _state(request)
    agent_id, run_id = params.agent_id(request), params.run_id(request)
    run = await state.store.runs.get(agent_id, run_id)
    return json_response(run)


async def complete_run(request: web.Request) -> web.Response:
    state = _state(request)
    agent_id, run_id = params.agent_id(request), params.run_id(request)
    await state.store.runs.complete(agent_id, run_id)  # admitted for evaluation (docs/evaluation.md)
    run = await state.store.runs.get(agent_id, run_id)
    return json_response(run)


async def fail_run(request: web.Request) -> web.Response:
    """Kate extension: mark a running run failed, e.g. when the agent raised."""
    state = _state(request)
    agent_id, run_id = params.agent_id(request), params.run_id(request)
    body = await read_json_object(request, optional=True)
    error = body.get("error")
    if error is not None and not isinstance(error, str):
        raise ValidationError.for_field("error", "must be a string describing the failure")
    capped = cap_text(error, state.config.ingest.max_text_bytes)[0] if error else None
    await state.store.runs.fail(agent_id, run_id, capped)
    run = await state.store.runs.get(agent_id, run_id)
    return json_response(run)


async def list_run_spans(request: web.Request) -> web.Response:
    state = _state(request)
    agent_id, run_id = params.agent_id(request), params.run_id(request)
    span_kind = params.choice(request, "span_kind", SpanKind)
    limit = params.limit(request, default=state.config.api.max_page_size, maximum=state.config.api.max_page_size)
    after = params.cursor(request)
    page = await state.store.spans.run_spans(agent_id, run_id, limit=limit, after=after,
                                             span_kind=span_kind.value if span_kind else None)
    spans = span_objects(page.rows.names, page.rows.values)
    return json_response({"spans": spans, "total": page.total, "next_cursor": page.next_cursor})


async def upload_spans(request: web.Request) -> web.Response:
    state = _state(request)
    agent_id, run_id = params.agent_id(request), params.run_id(request)
    limit_key = run_key(agent_id, run_id)
    await state.upload_limiter.require_token(limit_key)  # 429 before the body is read; nothing taken yet
    raw = await read_json_bytes(request)
    state.sink.require_room(len(raw))  # when the queues are full: 503 before parsing and mapping
    target = UploadTarget(agent_id, run_id, state.config.ingest.max_text_bytes, state.config.ingest.max_spans_per_upload,
                          state.config.cost)
    upload = await state.sink.decoder.decode_upload(raw, target)  # off the event loop when large
    # The run's token is taken only for this agent's running run (404/409 take none), and given
    # back when the write refuses (it checks the run again, under the writer).
    await state.store.runs.require_running(agent_id, run_id)
    async with state.upload_limiter.charged(limit_key) as allowance:
        result = await state.sink.consume(upload.spans, protocol="upload", into=RunRef(agent_id, run_id))
    body = {"uploaded": result.stored, "span_ids": list(upload.span_ids)}
    return json_response(body, status=201, headers=allowance.headers())


async def enqueue_run(request: web.Request) -> web.Response:
    """Kate-hosted agents: the run (queued) and its job in one transaction; the worker runs it."""
    state = _state(request)
    agent_id = params.agent_id(request)
    body = await read_json_object(request)
    trigger = _trigger(body.get("trigger"))
    state.hosted.get(agent_id)  # 404 agent_not_hosted
    user_input = body.get("user_input")
    user_input = "" if user_input is None else user_input
    if not isinstance(user_input, str):
        raise ValidationError.for_field("user_input", "must be a string (the text handed to the agent)")
    _check_input_size(user_input, state.config.jobs.max_input_bytes)
    run = NewRun(_requested_run_id(body.get("run_id")), agent_id, trigger, RunSource.HOSTED, RunStatus.QUEUED, user_input)
    job_id = uuid7()
    await state.store.jobs.enqueue(run, job_id)
    state.jobs.wake()
    answer = {"run_id": run.run_id, "job_id": job_id, "status": RunStatus.QUEUED.value}
    return json_response(answer, status=202, headers={"Location": f"/jobs/{job_id}"})


def _check_input_size(user_input: str, max_bytes: int) -> None:
    """The input travels to the agent process and into the run and job rows: capped by jobs.max_input_bytes."""
    size = len(user_input.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        message = f"is {size} bytes (UTF-8), at most {max_bytes} allowed (jobs.max_input_bytes)"
        raise PayloadTooLarge(f"user_input: {message}", details=[{"field": "user_input", "message": message}])

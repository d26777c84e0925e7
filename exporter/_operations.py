"""Each Runs API operation as a transport-free request description plus its answer's parser.

The async Client and the sync facade send the same `Call`s, so paths, query parameters and
bodies are written once. No I/O here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from kate.exporter._models import AgentPage, Enqueued, Job, Run, RunPage, SpanPage, Uploaded

T = TypeVar("T")
Since = dt.datetime | str


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One HTTP request of the API and how to read its JSON answer."""

    method: str
    path: str
    parse: Callable[[Any], T]
    query: Mapping[str, str] = field(default_factory=dict)
    body: Mapping[str, Any] | None = None


def _runs_path(agent_id: str, *rest: str) -> str:
    segments = [quote(agent_id, safe=""), "runs", *(quote(s, safe="") for s in rest)]
    return "/agents/" + "/".join(segments)


def _query(**values: object) -> dict[str, str]:
    return {name: _query_value(value) for name, value in values.items() if value is not None}


def _query_value(value: object) -> str:
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    return str(value)


def list_runs(
    agent_id: str,
    *,
    limit: int | None = None,
    cursor: str | None = None,
    status: str | None = None,
    trigger: str | None = None,
    since: Since | None = None,
    until: Since | None = None,
) -> Call[RunPage]:
    query = _query(limit=limit, cursor=cursor, status=status, trigger=trigger, since=since, until=until)
    return Call("GET", _runs_path(agent_id), RunPage.from_json, query)


def create_run(agent_id: str, trigger: str, run_id: str | None = None, *, session_id: str | None = None,
               user_id: str | None = None) -> Call[Run]:
    body: dict[str, Any] = {"trigger": trigger}
    for name, value in (("run_id", run_id), ("session_id", session_id), ("user_id", user_id)):
        if value is not None:
            body[name] = value
    return Call("POST", _runs_path(agent_id), Run.from_json, body=body)


def get_run(agent_id: str, run_id: str) -> Call[Run]:
    return Call("GET", _runs_path(agent_id, run_id), Run.from_json)


def complete_run(agent_id: str, run_id: str) -> Call[Run]:
    return Call("POST", _runs_path(agent_id, run_id, "complete"), Run.from_json, body={})


def fail_run(agent_id: str, run_id: str, error: str | None = None) -> Call[Run]:
    body = {} if error is None else {"error": error}
    return Call("POST", _runs_path(agent_id, run_id, "fail"), Run.from_json, body=body)


def evaluate_run(agent_id: str, run_id: str) -> Call[Run]:
    return Call("POST", _runs_path(agent_id, run_id, "evaluate"), Run.from_json, body={})


def get_job(job_id: str) -> Call[Job]:
    return Call("GET", "/jobs/" + quote(job_id, safe=""), Job.from_json)


def list_run_spans(
    agent_id: str, run_id: str, *, limit: int | None = None, cursor: str | None = None, span_kind: str | None = None
) -> Call[SpanPage]:
    query = _query(limit=limit, cursor=cursor, span_kind=span_kind)
    return Call("GET", _runs_path(agent_id, run_id, "spans"), SpanPage.from_json, query)


def upload_spans(agent_id: str, run_id: str, spans: Sequence[Mapping[str, Any]]) -> Call[Uploaded]:
    return Call("POST", _runs_path(agent_id, run_id, "spans"), Uploaded.from_json, body={"spans": list(spans)})


def enqueue_run(agent_id: str, trigger: str, user_input: str | None = None) -> Call[Enqueued]:
    body: dict[str, Any] = {"trigger": trigger}
    if user_input is not None:
        body["user_input"] = user_input
    return Call("POST", _runs_path(agent_id, "enqueue"), Enqueued.from_json, body=body)


def list_agents(*, limit: int | None = None, cursor: str | None = None) -> Call[AgentPage]:
    return Call("GET", "/agents", AgentPage.from_json, _query(limit=limit, cursor=cursor))

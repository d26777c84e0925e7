"""The thin sync facade for scripts: the same operations and results as `Client`, over http.client.

Each method sends the same `Call` as its async twin; see `kate.exporter.Client` for the details.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any

from kate.exporter import _operations as op
from kate.exporter._models import AgentPage, Enqueued, Job, Run, RunPage, Span, SpanPage, Uploaded
from kate.exporter._operations import Since
from kate.exporter._run_context import DEFAULT_RUN_TIMEOUT_S, SyncRunContext
from kate.exporter._transport import DEFAULT_ENDPOINT, SyncTransport


class SyncClient:
    """Blocking client of the Kate collector: `with SyncClient(url) as client:`.

    Args:
        base_url: The collector's base URL, e.g. `http://127.0.0.1:4318`.
        api_key: Sent as `Authorization: Bearer <api_key>` when given.
        timeout: Seconds one request may take.

    Raises:
        ValueError: `base_url` is not an http(s) URL.
    """

    def __init__(self, base_url: str = DEFAULT_ENDPOINT, api_key: str | None = None, timeout: float = 10.0) -> None:
        self._transport = SyncTransport(base_url, api_key, timeout)
        self.runs = SyncRuns(self._transport)
        self.jobs = SyncJobs(self._transport)

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection; it reopens if the client is used again."""
        self._transport.close()

    def list_agents(self, *, limit: int | None = None, cursor: str | None = None) -> AgentPage:
        """One page of the agents this client's key may see, as `Client.list_agents`."""
        return self._transport.send(op.list_agents(limit=limit, cursor=cursor))

    def run(
        self,
        *,
        agent_id: str,
        trigger: str = "manual",
        run_id: str | None = None,
        timeout: float = DEFAULT_RUN_TIMEOUT_S,
    ) -> SyncRunContext:
        """A run context, as `Client.run`: `with client.run(agent_id=...) as run:`."""
        return SyncRunContext(self._transport, agent_id, trigger, run_id, timeout)


class SyncRuns:
    """The Runs API operations with the page's names; each mirrors the `Runs` method."""

    def __init__(self, transport: SyncTransport) -> None:
        self._transport = transport

    def list(
        self,
        *,
        agent_id: str,
        limit: int | None = None,
        cursor: str | None = None,
        status: str | None = None,
        trigger: str | None = None,
        since: Since | None = None,
        until: Since | None = None,
    ) -> RunPage:
        """One page of the agent's runs, newest first."""
        call = op.list_runs(
            agent_id, limit=limit, cursor=cursor, status=status, trigger=trigger, since=since, until=until
        )
        return self._transport.send(call)

    def iter(
        self,
        *,
        agent_id: str,
        page_size: int = 100,
        status: str | None = None,
        trigger: str | None = None,
        since: Since | None = None,
        until: Since | None = None,
    ) -> Iterator[Run]:
        """Every run of the agent, newest first, page by page."""
        cursor: str | None = None
        while True:
            page = self.list(
                agent_id=agent_id,
                limit=page_size,
                cursor=cursor,
                status=status,
                trigger=trigger,
                since=since,
                until=until,
            )
            yield from page.runs
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def create(self, *, agent_id: str, trigger: str = "manual", run_id: str | None = None,
               session_id: str | None = None, user_id: str | None = None) -> Run:
        """Create a running run, optionally in a session and for a user; Conflict `run_exists` if the id is taken."""
        return self._transport.send(op.create_run(agent_id, trigger, run_id, session_id=session_id, user_id=user_id))

    def get(self, *, agent_id: str, run_id: str) -> Run:
        """One run; NotFound if the agent has no such run."""
        return self._transport.send(op.get_run(agent_id, run_id))

    def complete(self, *, agent_id: str, run_id: str) -> Run:
        """Complete a running run; Conflict `run_not_running` otherwise."""
        return self._transport.send(op.complete_run(agent_id, run_id))

    def fail(self, *, agent_id: str, run_id: str, error: str | None = None) -> Run:
        """Fail a queued or running run with the error text; Conflict `run_not_running` otherwise."""
        return self._transport.send(op.fail_run(agent_id, run_id, error))

    def evaluate(self, *, agent_id: str, run_id: str) -> Run:
        """Evaluate a completed or failed run now; Conflict `run_not_finished` while it runs."""
        return self._transport.send(op.evaluate_run(agent_id, run_id))

    def spans(
        self,
        *,
        agent_id: str,
        run_id: str,
        limit: int | None = None,
        cursor: str | None = None,
        span_kind: str | None = None,
    ) -> SpanPage:
        """One page of the run's spans by start time."""
        return self._transport.send(
            op.list_run_spans(agent_id, run_id, limit=limit, cursor=cursor, span_kind=span_kind)
        )

    def iter_spans(
        self, *, agent_id: str, run_id: str, page_size: int = 1000, span_kind: str | None = None
    ) -> Iterator[Span]:
        """Every span of the run by start time, page by page."""
        cursor: str | None = None
        while True:
            page = self.spans(agent_id=agent_id, run_id=run_id, limit=page_size, cursor=cursor, span_kind=span_kind)
            yield from page.spans
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def upload_spans(self, *, agent_id: str, run_id: str, spans: Sequence[Mapping[str, Any]]) -> Uploaded:
        """Upload spans to a running run, all or nothing."""
        return self._transport.send(op.upload_spans(agent_id, run_id, spans))

    def enqueue(self, *, agent_id: str, trigger: str = "manual", user_input: str | None = None) -> Enqueued:
        """Enqueue a run of a Kate-hosted agent; NotFound `agent_not_hosted` otherwise."""
        return self._transport.send(op.enqueue_run(agent_id, trigger, user_input))


class SyncJobs:
    """The jobs of Kate-hosted runs; mirrors `Jobs`."""

    def __init__(self, transport: SyncTransport) -> None:
        self._transport = transport

    def get(self, *, job_id: str) -> Job:
        """One job; NotFound if there is no such job."""
        return self._transport.send(op.get_job(job_id))

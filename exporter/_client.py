"""The async SDK client: `Client(...).runs` speaks the Runs API (docs/api.md) over aiohttp.

No retries: every error is raised as the KateError subclass for its status and code.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from types import TracebackType
from typing import Any

from kate.exporter import _operations as op
from kate.exporter._models import AgentPage, Enqueued, Job, Run, RunPage, Span, SpanPage, Uploaded
from kate.exporter._operations import Since
from kate.exporter._run_context import DEFAULT_RUN_TIMEOUT_S, RunContext
from kate.exporter._transport import DEFAULT_ENDPOINT, AsyncTransport


class Client:
    """Async client of the Kate collector; use it as `async with Client(url) as client:`.

    Without `async with`, call `await client.aclose()` when done: it owns an aiohttp session.

    Args:
        base_url: The collector's base URL, e.g. `http://127.0.0.1:4318`.
        api_key: Sent as `Authorization: Bearer <api_key>` when given.
        timeout: Seconds one request may take.
    """

    def __init__(self, base_url: str = DEFAULT_ENDPOINT, api_key: str | None = None, timeout: float = 10.0) -> None:
        self._transport = AsyncTransport(base_url, api_key, timeout)
        self.runs = Runs(self._transport)
        self.jobs = Jobs(self._transport)

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP session; the client opens a new one if used again."""
        await self._transport.aclose()

    async def list_agents(self, *, limit: int | None = None, cursor: str | None = None) -> AgentPage:
        """One page of the agents this client's key may see, in agent_id order (GET /agents).

        Args:
            limit: Page size (server default 50, max 1000).
            cursor: `next_cursor` of the previous page.

        Returns:
            An AgentPage: iterate it, or read `.agents` and `.next_cursor`.

        Raises:
            ValidationError: `limit` or `cursor` is not accepted.
            KateError: Any other error answer; TransportError without an answer.
        """
        return await self._transport.send(op.list_agents(limit=limit, cursor=cursor))

    def run(
        self,
        *,
        agent_id: str,
        trigger: str = "manual",
        run_id: str | None = None,
        timeout: float = DEFAULT_RUN_TIMEOUT_S,
    ) -> RunContext:
        """A run context: `async with client.run(agent_id=..., trigger="manual") as run:`.

        On entry the run is created (and yielded as a `Run`); every span started inside gets
        `kate.run.id`. On exit the global tracer provider is flushed and the run completed;
        if the block raised, an ERROR span named `run` records the exception, the run is
        marked failed, and the exception propagates unchanged.

        The collector never breaks the agent: when it is unreachable, slow or answers errors,
        entry and exit each take at most about `timeout` seconds, nothing is raised, and one
        warning per collector is logged (see `kate.exporter.run` for the whole behaviour).

        Args:
            agent_id: The agent the run belongs to.
            trigger: `manual`, `automatic` or `test`.
            run_id: A UUID for the run; the SDK generates a UUIDv7 when omitted.
            timeout: Seconds entry, and exit, may each add when the collector is slow.

        Returns:
            An async context manager yielding the created Run.

        Raises:
            ValueError: `trigger`, `run_id` or `timeout` is invalid (checked before any I/O).
        """
        return RunContext(self._transport, agent_id, trigger, run_id, timeout)


class Runs:
    """The Runs API operations, named and keyworded as on the page (`client.runs.create(...)`)."""

    def __init__(self, transport: AsyncTransport) -> None:
        self._transport = transport

    async def list(
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
        """One page of the agent's runs, newest first (GET /agents/{agent_id}/runs).

        Args:
            agent_id: The agent.
            limit: Page size (server default 50, max 1000).
            cursor: `next_cursor` of the previous page.
            status: Only runs in this status (`running`, `completed`, ...).
            trigger: Only runs with this trigger.
            since: Only runs created at or after this time (datetime or RFC 3339).
            until: Only runs created before this time.

        Returns:
            A RunPage: iterate it, or read `.runs` and `.next_cursor`.

        Raises:
            ValidationError: A filter value is not accepted.
            KateError: Any other error answer; TransportError without an answer.
        """
        call = op.list_runs(
            agent_id, limit=limit, cursor=cursor, status=status, trigger=trigger, since=since, until=until
        )
        return await self._transport.send(call)

    async def iter(
        self,
        *,
        agent_id: str,
        page_size: int = 100,
        status: str | None = None,
        trigger: str | None = None,
        since: Since | None = None,
        until: Since | None = None,
    ) -> AsyncIterator[Run]:
        """Every run of the agent, newest first, fetched page by page: `async for run in ...`.

        Args:
            agent_id: The agent.
            page_size: Runs per request.
            status: As for `list`.
            trigger: As for `list`.
            since: As for `list`.
            until: As for `list`.

        Returns:
            An async iterator of Run.
        """
        cursor: str | None = None
        while True:
            page = await self.list(
                agent_id=agent_id,
                limit=page_size,
                cursor=cursor,
                status=status,
                trigger=trigger,
                since=since,
                until=until,
            )
            for run in page.runs:
                yield run
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    async def create(self, *, agent_id: str, trigger: str = "manual", run_id: str | None = None,
                     session_id: str | None = None, user_id: str | None = None) -> Run:
        """Create a running run (POST /agents/{agent_id}/runs).

        Args:
            agent_id: The agent.
            trigger: `manual`, `automatic` or `test`.
            run_id: A UUID for the run; the server generates one when omitted.
            session_id: The conversation the run belongs to (optional).
            user_id: The end user the run served (optional).

        Returns:
            The created Run (status `running`).

        Raises:
            Conflict: `run_exists`, a run with this id exists (nothing changed).
            ValidationError: The trigger or run id is invalid.
        """
        return await self._transport.send(op.create_run(agent_id, trigger, run_id, session_id=session_id,
                                                        user_id=user_id))

    async def get(self, *, agent_id: str, run_id: str) -> Run:
        """One run (GET /agents/{agent_id}/runs/{run_id}).

        Raises:
            NotFound: No such run for this agent.
        """
        return await self._transport.send(op.get_run(agent_id, run_id))

    async def complete(self, *, agent_id: str, run_id: str) -> Run:
        """Mark a running run completed; evaluation may follow (POST .../runs/{run_id}/complete).

        Returns:
            The Run with status `completed`.

        Raises:
            NotFound: No such run for this agent.
            Conflict: `run_not_running`, the run is not running.
        """
        return await self._transport.send(op.complete_run(agent_id, run_id))

    async def fail(self, *, agent_id: str, run_id: str, error: str | None = None) -> Run:
        """Mark a queued or running run failed, with the error text (POST .../runs/{run_id}/fail).

        Returns:
            The Run with status `failed` and `error` set.

        Raises:
            NotFound: No such run for this agent.
            Conflict: `run_not_running`, the run already ended.
        """
        return await self._transport.send(op.fail_run(agent_id, run_id, error))

    async def evaluate(self, *, agent_id: str, run_id: str) -> Run:
        """Evaluate a completed or failed run now, whatever the cooldown (POST .../runs/{run_id}/evaluate).

        Returns:
            The Run as admitted (`evaluation_status` pending); the scores follow in the background.

        Raises:
            NotFound: No such run for this agent.
            Conflict: `run_not_finished`, the run is still queued or running.
        """
        return await self._transport.send(op.evaluate_run(agent_id, run_id))

    async def spans(
        self,
        *,
        agent_id: str,
        run_id: str,
        limit: int | None = None,
        cursor: str | None = None,
        span_kind: str | None = None,
    ) -> SpanPage:
        """One page of the run's spans by start time (GET .../runs/{run_id}/spans).

        Args:
            agent_id: The agent.
            run_id: The run.
            limit: Page size (server default and max 1000).
            cursor: `next_cursor` of the previous page.
            span_kind: Only spans of this kind (`LLM`, `TOOL`, ...).

        Returns:
            A SpanPage with `.spans`, `.total` (all of the run's spans) and `.next_cursor`.

        Raises:
            NotFound: No such run for this agent.
        """
        return await self._transport.send(
            op.list_run_spans(agent_id, run_id, limit=limit, cursor=cursor, span_kind=span_kind)
        )

    async def iter_spans(
        self, *, agent_id: str, run_id: str, page_size: int = 1000, span_kind: str | None = None
    ) -> AsyncIterator[Span]:
        """Every span of the run by start time, page by page: `async for span in ...`."""
        cursor: str | None = None
        while True:
            page = await self.spans(
                agent_id=agent_id, run_id=run_id, limit=page_size, cursor=cursor, span_kind=span_kind
            )
            for span in page.spans:
                yield span
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    async def upload_spans(self, *, agent_id: str, run_id: str, spans: Sequence[Mapping[str, Any]]) -> Uploaded:
        """Upload spans to a running run, all or nothing (POST .../runs/{run_id}/spans).

        Args:
            agent_id: The agent.
            run_id: The run, which must be running.
            spans: JSON span objects: `node_name` is required; `span_kind`, `input_text`,
                `output_text`, `model`, `latency_ms`, `token_count`, ids, RFC 3339 times,
                `status` and `attributes` are optional.

        Returns:
            Uploaded: the count stored and the span ids in request order.

        Raises:
            Conflict: `run_not_running`.
            RateLimited: Too many uploads for this run; see `retry_after`.
            ValidationError: A span is invalid; `details` names each field.
            ServerError: `overloaded` (503, with `retry_after`) or another server failure.
        """
        return await self._transport.send(op.upload_spans(agent_id, run_id, spans))

    async def enqueue(self, *, agent_id: str, trigger: str = "manual", user_input: str | None = None) -> Enqueued:
        """Enqueue a run of a Kate-hosted agent (POST /agents/{agent_id}/runs/enqueue).

        Returns:
            Enqueued: run_id, job_id and status `queued`.

        Raises:
            NotFound: `agent_not_hosted`, the agent is not hosted by this collector.
        """
        return await self._transport.send(op.enqueue_run(agent_id, trigger, user_input))


class Jobs:
    """The jobs of Kate-hosted runs (`client.jobs.get(job_id=...)`)."""

    def __init__(self, transport: AsyncTransport) -> None:
        self._transport = transport

    async def get(self, *, job_id: str) -> Job:
        """One job (GET /jobs/{job_id}), as `Enqueued.job_id` names it.

        Raises:
            NotFound: No such job.
        """
        return await self._transport.send(op.get_job(job_id))

"""Run contexts (sync and async): create a run, stamp its id on spans, flush and end it on exit.

They never break the agent: a collector that is down, slow or failing costs at most `timeout`
seconds on entry and on exit and one warning per collector; only argument mistakes raise.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import time
import traceback
import uuid
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

from kate.exporter import _operations as op
from kate.exporter import _owned_runs
from kate.exporter._context import ensure_run_stamping, enter_run, flush_spans_within, leave_run
from kate.exporter._errors import KateError, ServerError, TransportError
from kate.exporter._models import Run
from kate.exporter._operations import Call
from kate.exporter._outage import health_of, too_slow
from kate.exporter._payload import cap
from kate.exporter._span_upload import rfc3339

if TYPE_CHECKING:
    from kate.exporter._transport import AsyncTransport, SyncTransport

TRIGGERS = ("manual", "automatic", "test")
DEFAULT_RUN_TIMEOUT_S = 2.0
_MAX_STACK_CHARS = 16 * 1024


def failure_span(error: BaseException, start_ns: int) -> dict[str, Any]:
    """The ERROR span that records where and why a run context failed (the run says failed too)."""
    stack = "".join(traceback.format_exception(error))[-_MAX_STACK_CHARS:]
    return {
        "node_name": "run",
        "span_kind": "CHAIN",
        "status": "ERROR",
        "status_message": failure_text(error),
        "start_time": rfc3339(start_ns),
        "end_time": rfc3339(time.time_ns()),
        "attributes": {"exception.type": type(error).__qualname__, "exception.stacktrace": stack},
    }


def failure_text(error: BaseException) -> str:
    return cap(f"{type(error).__name__}: {error}")


def new_run_id() -> str:
    """A UUIDv7 (RFC 9562), as the collector makes: time-ordered ids keep a run's spans together."""
    value = (time.time_ns() // 1_000_000 & 0xFFFF_FFFF_FFFF) << 80 | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version
    return str(uuid.UUID(int=(value & ~(0x3 << 62)) | (0x2 << 62)))  # variant


class _Plan:
    """What one run context does, apart from how it sends: checked arguments, calls, outcomes.

    The run id is chosen here, so spans carry it even when the collector cannot be reached.
    """

    def __init__(self, base_url: str, agent_id: str, trigger: str, run_id: str | None, timeout: float) -> None:
        if trigger not in TRIGGERS:
            raise ValueError(f"trigger must be one of {', '.join(TRIGGERS)}, got {trigger!r}")
        if not isinstance(timeout, int | float) or not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.agent_id, self.trigger, self.timeout = agent_id, trigger, float(timeout)
        self.run_id = _checked_run_id(run_id) if run_id is not None else new_run_id()
        self.base_url, self.health = base_url, health_of(base_url)
        self.created, self.started_ns = False, 0

    def create_call(self) -> Call[Run]:
        _owned_runs.claim(self.base_url, self.run_id, self.trigger)  # before sending: the exporter must not race it
        self.started_ns = time.time_ns()
        return op.create_run(self.agent_id, self.trigger, self.run_id)

    def entered(self, run: Run) -> Run:
        self.created = True
        _owned_runs.mark_created(self.base_url, self.run_id)
        self.health.succeeded()
        return run

    def not_entered(self, error: KateError) -> Run:
        """The run as the agent sees it when the collector did not create it: its spans still carry the id."""
        self.health.failed(f"creating run {self.run_id} of agent {self.agent_id}", error)
        return Run(id=self.run_id, agent_id=self.agent_id, status="running", trigger=self.trigger)

    def exit_calls(self, error: BaseException | None) -> list[tuple[str, Call[Any]]]:
        """The requests that end the run: complete it, or record the failure and fail it."""
        run, agent = self.run_id, self.agent_id
        if error is None:
            return [(f"completing run {run}", op.complete_run(agent, run))]
        spans = [failure_span(error, self.started_ns)]
        return [
            (f"recording the failure of run {run}", op.upload_spans(agent, run, spans)),
            (f"marking run {run} failed", op.fail_run(agent, run, failure_text(error))),
        ]

    def call_failed(self, what: str, error: KateError) -> bool:
        """Log the failure; True when the collector is out and the remaining calls are pointless."""
        self.health.failed(what, error)
        return isinstance(error, TransportError | ServerError)

    def out_of_time(self, what: str) -> None:
        self.health.failed(what, too_slow(f"the run context's {self.timeout:g} s bound passed"))

    def left_running(self) -> None:
        """The spans were not all exported in time: ending the run now would refuse the late ones."""
        error = too_slow(f"its spans were not exported within the run context's {self.timeout:g} s bound")
        self.health.failed(f"ending run {self.run_id} (left running, its spans still being exported)", error)


def _checked_run_id(run_id: str) -> str:
    try:
        return str(uuid.UUID(run_id))
    except (ValueError, TypeError, AttributeError):
        raise ValueError(f"run_id must be a UUID string, got {run_id!r}") from None


def _remaining_s(deadline: float) -> float:
    return deadline - time.monotonic()


class RunContext:
    """`async with client.run(agent_id=..., trigger=...) as run:`; see `Client.run`."""

    def __init__(
        self, transport: AsyncTransport, agent_id: str, trigger: str, run_id: str | None, timeout: float
    ) -> None:
        self._transport = transport
        self._plan = _Plan(transport.base_url, agent_id, trigger, run_id, timeout)
        self._token: contextvars.Token[str | None] | None = None

    async def __aenter__(self) -> Run:
        ensure_run_stamping()
        plan = self._plan
        try:
            run = plan.entered(await self._transport.send(plan.create_call(), plan.timeout))
        except KateError as error:
            run = plan.not_entered(error)
        self._token = enter_run(plan.run_id)
        return run

    async def __aexit__(
        self, exc_type: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._token is not None:
            leave_run(self._token)
        plan = self._plan
        if not plan.created:  # its spans go through the exporter, which creates the run when it can
            return
        deadline = time.monotonic() + plan.timeout
        # The SDK's flush blocks: keep it off the event loop.
        if not await asyncio.to_thread(flush_spans_within, _remaining_s(deadline)):
            plan.left_running()
            return
        for what, call in plan.exit_calls(error):
            if _remaining_s(deadline) <= 0:
                plan.out_of_time(what)
                return
            try:
                await self._transport.send(call, _remaining_s(deadline))
            except KateError as failure:
                if plan.call_failed(what, failure):
                    return
            else:
                plan.health.succeeded()


class SyncRunContext:
    """`with kate.exporter.run(...) as run:` or `with sync_client.run(...) as run:`."""

    def __init__(
        self,
        transport: SyncTransport,
        agent_id: str,
        trigger: str,
        run_id: str | None,
        timeout: float,
        *,
        close: Callable[[], None] | None = None,
    ) -> None:
        self._transport = transport
        self._plan = _Plan(transport.base_url, agent_id, trigger, run_id, timeout)
        self._close = close  # the client's, when the context owns it
        self._token: contextvars.Token[str | None] | None = None

    def __enter__(self) -> Run:
        ensure_run_stamping()
        plan = self._plan
        try:
            run = plan.entered(self._transport.send(plan.create_call(), plan.timeout))
        except KateError as error:
            run = plan.not_entered(error)
        self._token = enter_run(plan.run_id)
        return run

    def __exit__(
        self, exc_type: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._token is not None:
            leave_run(self._token)
        try:
            if self._plan.created:  # else its spans go through the exporter, which creates the run when it can
                self._end(error)
        finally:
            if self._close is not None:
                self._close()

    def _end(self, error: BaseException | None) -> None:
        plan = self._plan
        deadline = time.monotonic() + plan.timeout
        if not flush_spans_within(_remaining_s(deadline)):
            plan.left_running()
            return
        for what, call in plan.exit_calls(error):
            if _remaining_s(deadline) <= 0:
                plan.out_of_time(what)
                return
            try:
                self._transport.send(call, _remaining_s(deadline))
            except KateError as failure:
                if plan.call_failed(what, failure):
                    return
            else:
                plan.health.succeeded()

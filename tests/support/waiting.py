"""Waiting for asynchronous outcomes (evaluations, jobs) without fixed sleeps: poll with a deadline."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from tests.support.http import Api

T = TypeVar("T")
DEADLINE_S = 20.0


async def poll(fetch: Callable[[], Awaitable[T]] | Callable[[], T], done: Callable[[T], bool], *, what: str,
               timeout_s: float = DEADLINE_S) -> T:
    """fetch() (a coroutine function or a plain one) until done(value); AssertionError with the
    last value after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        fetched = fetch()
        value = cast(T, await fetched if inspect.isawaitable(fetched) else fetched)
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}; last value: {value!r}")
        await asyncio.sleep(0.05)


async def get_run(api: Api, agent_id: str, run_id: str) -> dict[str, Any]:
    answer = await api.call("GET", f"/agents/{agent_id}/runs/{run_id}")
    assert answer.status == 200, answer.text
    return dict(answer.body)


async def evaluated_run(api: Api, agent_id: str, run_id: str, **kwargs: Any) -> dict[str, Any]:
    """The run once its evaluation settled (done, failed or skipped_cooldown)."""
    return await poll(lambda: get_run(api, agent_id, run_id),
                      lambda run: run["evaluation_status"] not in (None, "pending"),
                      what=f"the evaluation of run {run_id}", **kwargs)


async def finished_run(api: Api, agent_id: str, run_id: str, **kwargs: Any) -> dict[str, Any]:
    """The run once it is completed or failed."""
    return await poll(lambda: get_run(api, agent_id, run_id),
                      lambda run: run["status"] in ("completed", "failed"),
                      what=f"run {run_id} to finish", **kwargs)

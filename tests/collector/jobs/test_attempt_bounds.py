"""One attempt (process.run_attempt) with a real agent process, when the worker's side is slow:
the timeout holds even while a span frame waits for the store and the agent blocks on a full pipe.

asyncio's Process.wait() returns only once every pipe reached its end; a worker that stopped
reading stdout at the timeout used to wait there forever (issue 12).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import pytest
from kate.collector.jobs.process import END_BOUND_S, AttemptSpec, run_attempt

from tests.support.processes import still_alive
from tests.support.waiting import poll

REPO_ROOT = str(Path(__file__).resolve().parents[3])
STARTUP_SLACK_S = 5  # starting the agent's interpreter on a loaded 2-CPU machine


def attempt(function: str, user_input: str) -> AttemptSpec:
    return AttemptSpec("agent", str(uuid.uuid4()), str(uuid.uuid4()), 1, f"tests.support.hosted_agents:{function}",
                       user_input, 0)


async def test_the_timeout_holds_while_the_store_holds_a_frame_and_the_agent_blocks_on_the_pipe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", REPO_ROOT)
    pid_file = tmp_path / "child.pid"
    held = asyncio.Event()

    async def store_that_never_commits(payload: bytes) -> None:
        held.set()
        await asyncio.Event().wait()

    started = time.monotonic()
    outcome = await asyncio.wait_for(
        run_attempt(attempt("floods_and_ignores_sigterm", str(pid_file)), store_that_never_commits, timeout_s=2),
        2 + END_BOUND_S + STARTUP_SLACK_S,
    )
    elapsed_s = time.monotonic() - started
    child_pid = int(pid_file.read_text(encoding="utf-8"))
    await poll(lambda: still_alive(child_pid), lambda running: not running, what="the agent's child to die",
               timeout_s=END_BOUND_S)

    assert held.is_set()
    assert (outcome.ok, outcome.error) == (False, "timed out after 2 s; the agent process was killed")
    assert "flooding" in outcome.detail  # the stderr tail
    assert elapsed_s < 2 + END_BOUND_S + STARTUP_SLACK_S

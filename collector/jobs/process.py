"""One attempt of a hosted job in its own process: spawn, feed, supervise, kill.

Owns the agent process's whole life: the spec on its stdin, span frames and the result on its
stdout, a tail of its stderr for error messages, the timeout, and killing its process group on
timeout, cancellation or a corrupt stream. Must not touch the store: spans go to a callback.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import json
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from kate.collector.jobs.frames import RESULT, SPANS, FrameError, read_frame

logger = logging.getLogger(__name__)
agent_logger = logging.getLogger("kate.agent")
RUNNER_MODULE = "kate.collector.jobs.runner"
SpanSink = Callable[[bytes], Awaitable[None]]
_TAIL_LINES = 40
_MAX_LINE_CHARS = 1000
_MAX_DETAIL_CHARS = 4000
# After the kill, reading the pipes to their end and reaping the process takes milliseconds;
# only a process that left the agent's group (setsid) can hold a pipe open longer.
END_BOUND_S = 5.0


@dataclass(frozen=True, slots=True)
class AttemptSpec:
    agent_id: str
    run_id: str
    job_id: str
    attempt: int
    entrypoint: str
    user_input: str
    memory_limit_mb: int


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    ok: bool
    output: str | None = None
    error: str | None = None  # one line for the run: "ValueError: boom", "timed out after 5 s"
    detail: str = ""  # traceback or the last lines of stderr, for the job
    retryable: bool = True


async def run_attempt(spec: AttemptSpec, on_spans: SpanSink, *, timeout_s: float, python: str = "") -> AttemptOutcome:
    """Run the agent once in a new process group; never raises but CancelledError (after
    killing the process). Whatever the agent does, this returns within timeout_s + END_BOUND_S."""
    process = await asyncio.create_subprocess_exec(
        python or sys.executable, "-m", RUNNER_MODULE,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        start_new_session=True,  # its own process group: a timeout kills the agent's children too
    )
    stderr = StderrTail(spec.agent_id)
    stderr_task = asyncio.create_task(stderr.consume(_stream(process.stderr)))
    failure: AttemptOutcome | None = None
    result = None
    try:
        result = await asyncio.wait_for(_supervise(process, spec, on_spans), timeout_s)
    except TimeoutError:
        failure = AttemptOutcome(False, error=f"timed out after {timeout_s:g} s; the agent process was killed")
    except FrameError as exc:
        failure = AttemptOutcome(False, error=str(exc))
    finally:
        tail = await _end(process, stderr_task, stderr)
    if failure is not None:
        return dataclasses.replace(failure, detail=tail)
    return _outcome(result, process.returncode, tail)


async def _send_spec(process: asyncio.subprocess.Process, spec: AttemptSpec) -> None:
    stdin = _stream(process.stdin)
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # it died at once: its exit says why
        stdin.write(json.dumps(dataclasses.asdict(spec)).encode("utf-8") + b"\n")
        await stdin.drain()


async def _supervise(process: asyncio.subprocess.Process, spec: AttemptSpec, on_spans: SpanSink) -> dict[str, Any] | None:
    """Send the spec (an agent that never reads it is timed out too), hand span frames to
    on_spans as they come; return the RESULT frame after the exit."""
    await _send_spec(process, spec)
    result = None
    stdout = _stream(process.stdout)
    while (frame := await read_frame(stdout)) is not None:
        kind, payload = frame
        if kind == SPANS:
            await on_spans(payload)
        elif kind == RESULT:
            result = _result(payload)
    await process.wait()
    return result


def _result(payload: bytes) -> dict[str, Any]:
    try:
        result = json.loads(payload)
    except ValueError:
        result = None
    if not isinstance(result, dict):
        raise FrameError("the agent process's result is not a JSON object")
    return result


async def _end(process: asyncio.subprocess.Process, stderr_task: asyncio.Task[None], stderr: StderrTail) -> str:
    """Kill the process group (the agent and anything it left running), close its stdin, reap
    it within END_BOUND_S; return the stderr tail."""
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the whole group is gone already
        os.killpg(process.pid, signal.SIGKILL)
    if process.stdin is not None and not process.stdin.is_closing():
        process.stdin.close()
    try:
        await asyncio.wait_for(_reap(process, stderr_task), END_BOUND_S)
    except TimeoutError:  # SIGKILLed all the same; the loop's child watcher still reaps it
        logger.warning("agent process %d was killed, but a process that left its group still holds its pipes",
                       process.pid)
    stderr_task.cancel()
    return stderr.text()


async def _reap(process: asyncio.subprocess.Process, stderr_task: asyncio.Task[None]) -> None:
    """asyncio's wait() returns only once every pipe reached its end, and a pipe whose reader
    stopped (frames left unread after a timeout or a bad frame) never does: read it out first."""
    stdout = _stream(process.stdout)
    while await stdout.read(65536):
        pass
    await asyncio.wait({stderr_task})
    await process.wait()


def _outcome(result: dict[str, Any] | None, returncode: int | None, stderr_tail: str) -> AttemptOutcome:
    if result is not None and result.get("ok"):
        return AttemptOutcome(True, output=result.get("output"))
    if result is not None:
        return AttemptOutcome(False, error=str(result.get("error")), detail=str(result.get("detail") or ""),
                              retryable=bool(result.get("retryable", True)))
    if returncode is not None and returncode < 0:
        error = f"the agent process was killed by signal {_signal_name(-returncode)}"
    else:
        error = f"the agent process exited with status {returncode} without a result"
    return AttemptOutcome(False, error=error, detail=stderr_tail)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def _stream(stream: Any) -> Any:
    if stream is None:
        raise RuntimeError("the agent process was started without pipes")
    return stream


class StderrTail:
    """Logs the agent's stderr line by line (logger kate.agent) and keeps the last lines."""

    def __init__(self, agent_id: str) -> None:
        self._agent_id = agent_id
        self._lines: collections.deque[str] = collections.deque(maxlen=_TAIL_LINES)

    async def consume(self, reader: asyncio.StreamReader) -> None:
        pending = b""
        while chunk := await reader.read(65536):
            *lines, pending = (pending + chunk).split(b"\n")
            if len(pending) > _MAX_LINE_CHARS:  # a huge line without newline: cut, keep draining
                lines.append(pending)
                pending = b""
            for line in lines:
                self._add(line)
        if pending:
            self._add(pending)

    def _add(self, line: bytes) -> None:
        text = line.decode("utf-8", "replace").rstrip()[:_MAX_LINE_CHARS]
        self._lines.append(text)
        agent_logger.info("[%s] %s", self._agent_id, text)

    def text(self) -> str:
        return "\n".join(self._lines)[-_MAX_DETAIL_CHARS:]

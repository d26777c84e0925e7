"""Agents the test collectors host (`tests.support.hosted_agents:<name>`).

They run in the agent process the worker starts, which finds this module through the
PYTHONPATH the tests pass to the collector. Each shows one behaviour the worker must handle.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from opentelemetry import trace

tracer = trace.get_tracer("tests.support.hosted_agents")


def echo(user_input: str) -> str:
    """Sync agent with one LLM span that reports tokens."""
    with tracer.start_as_current_span("draft", attributes={
        "openinference.span.kind": "LLM", "llm.model_name": "fake-model", "input.value": user_input,
        "llm.token_count.prompt": 7, "llm.token_count.completion": 5, "llm.token_count.total": 12,
    }) as span:
        answer = f"echo: {user_input}"
        span.set_attribute("output.value", answer)
    return answer


async def echo_async(user_input: str) -> str:
    """Async agent with one TOOL span."""
    with tracer.start_as_current_span("lookup", attributes={"openinference.span.kind": "TOOL", "tool.name": "lookup"}):
        await asyncio.sleep(0)
    return f"async echo: {user_input}"


def gated(user_input: str) -> str:
    """Waits (at most 20 s) until the file named by user_input exists: the test holds it running."""
    gate = Path(user_input)
    deadline = time.monotonic() + 20
    with tracer.start_as_current_span("wait_for_gate", attributes={"openinference.span.kind": "CHAIN"}):
        while not gate.exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"gate {gate} never opened")
            time.sleep(0.02)
    return "the gate opened"


def raises(user_input: str) -> str:
    raise ValueError(f"boom: {user_input}")


def hangs(user_input: str) -> str:
    print("hanging now", flush=True)
    time.sleep(3600)
    return "never"


def kills_itself(user_input: str) -> str:
    os.kill(os.getpid(), signal.SIGKILL)
    return "never"


def slow_once(user_input: str) -> str:
    """Appends `start PID` and, after sleep_s, `done PID` to the log file named in the JSON input."""
    task = json.loads(user_input)
    log = Path(task["log"])
    with log.open("a", encoding="utf-8") as file:
        file.write(f"start {os.getpid()}\n")
    time.sleep(float(task["sleep_s"]))
    with log.open("a", encoding="utf-8") as file:
        file.write(f"done {os.getpid()}\n")
    return "slow and done"


def hogs_memory(user_input: str) -> str:
    """Allocates until the process's memory limit stops it."""
    blocks = []
    while True:
        blocks.append(bytearray(50 * 1024 * 1024))


def floods_and_ignores_sigterm(user_input: str) -> str:
    """Answers "quick" at once. Otherwise ignores SIGTERM, leaves a child that ignores it too in
    its process group (pid written to the file named by user_input), and floods big spans for
    at most 120 s: its export thread blocks on the full frame pipe while the worker stores."""
    if user_input == "quick":
        return "quick answer"
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    child = subprocess.Popen([sys.executable, "-c", "import signal, time; "
                              "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)"])
    Path(user_input).write_text(str(child.pid), encoding="utf-8")
    blob = "x" * (256 * 1024)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with tracer.start_as_current_span("flood", attributes={"input.value": blob}):
            time.sleep(0.005)
        print("flooding", file=sys.stderr)
    return "never"


def one_huge_span(user_input: str) -> str:
    """Answers "quick" at once. Otherwise makes one span of 65 MiB: a frame over the 64 MiB
    limit (a single span cannot be split), then waits at most 120 s."""
    if user_input == "quick":
        return "quick answer"
    with tracer.start_as_current_span("huge", attributes={"input.value": "x" * (65 * 1024 * 1024)}):
        pass
    time.sleep(120)
    return "never"

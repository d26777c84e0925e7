"""An agent process for test_process_exit.py: configure, emit spans, exit without calling shutdown.

Usage: exit_agent.py ENDPOINT AGENT_ID fresh|existing. Prints one JSON line with the ids to check.
"""

from __future__ import annotations

import json
import sys

import kate.exporter as kate
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import TracerProvider


def main(endpoint: str, agent_id: str, mode: str) -> None:
    if mode == "existing":  # an application that set up OpenTelemetry before Kate
        otel_trace.set_tracer_provider(TracerProvider())
    exporter = kate.configure(endpoint=endpoint, agent_id=agent_id)
    assert kate.configure(endpoint=endpoint, agent_id=agent_id) is exporter, "configure() must be idempotent"
    trace_ids: list[int] = []

    @kate.trace
    def step(i: int) -> int:
        return i * i

    @kate.trace(kind="AGENT")
    def agent(n: int) -> int:
        trace_ids.append(otel_trace.get_current_span().get_span_context().trace_id)
        return sum(step(i) for i in range(n))

    with kate.run(trigger="test") as run:  # flushes and completes on exit
        agent(3)
    agent(20)  # its spans leave only through the SDK's atexit shutdown: nothing flushes them before
    print(json.dumps({"run_id": run.id, "trace_id": format(trace_ids[-1], "032x")}))


if __name__ == "__main__":
    main(*sys.argv[1:4])

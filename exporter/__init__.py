"""kate.exporter: what a Python agent imports to send its traces to a Kate collector.

Never imports kate.collector: agents install only the base package (opentelemetry-sdk, aiohttp).

    import kate.exporter as kate

    kate.configure(endpoint="http://127.0.0.1:4318", agent_id="my-agent")

    @kate.trace(kind="AGENT")
    def answer(question: str) -> str: ...

    with kate.run(trigger="manual"):
        answer("What is Kate?")

    async with kate.Client("http://127.0.0.1:4318") as client:
        runs = await client.runs.list(agent_id="my-agent")

configure(), @trace and the run contexts never raise because of the collector (down, slow or
failing): they cost a bounded wait and one warning; see kate.exporter.run. Client calls raise:
KateError ← TransportError, ValidationError, AuthenticationError, NotFound, Conflict,
RateLimited, ServerError (see kate.exporter._errors for the status and code of each).
"""

from __future__ import annotations

from kate.exporter._client import Client, Jobs, Runs
from kate.exporter._context import RunSpanProcessor, current_run_id
from kate.exporter._decorator import trace
from kate.exporter._errors import (
    AuthenticationError,
    Conflict,
    KateError,
    NotFound,
    RateLimited,
    ServerError,
    TransportError,
    ValidationError,
)
from kate.exporter._models import Agent, AgentPage, Enqueued, Job, Run, RunPage, Score, Span, SpanPage, Uploaded
from kate.exporter._run_context import RunContext, SyncRunContext
from kate.exporter._setup import configure, run
from kate.exporter._span_exporter import KateSpanExporter
from kate.exporter._sync_client import SyncClient, SyncJobs, SyncRuns
from kate.exporter._transport import DEFAULT_ENDPOINT

__all__ = [
    "DEFAULT_ENDPOINT",
    "Agent",
    "AgentPage",
    "AuthenticationError",
    "Client",
    "Conflict",
    "Enqueued",
    "Job",
    "Jobs",
    "KateError",
    "KateSpanExporter",
    "NotFound",
    "RateLimited",
    "Run",
    "RunContext",
    "RunPage",
    "RunSpanProcessor",
    "Runs",
    "Score",
    "ServerError",
    "Span",
    "SpanPage",
    "SyncClient",
    "SyncJobs",
    "SyncRunContext",
    "SyncRuns",
    "TransportError",
    "Uploaded",
    "ValidationError",
    "configure",
    "current_run_id",
    "run",
    "trace",
]

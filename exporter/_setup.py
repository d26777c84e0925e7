"""One-call setup (`configure`) and the sync run context that uses its settings (`run`).

Touches the global OpenTelemetry tracer provider and nothing else process-wide.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

from kate.exporter._context import ensure_run_stamping
from kate.exporter._run_context import DEFAULT_RUN_TIMEOUT_S, SyncRunContext
from kate.exporter._span_exporter import KateSpanExporter
from kate.exporter._span_upload import AGENT_ID_KEY
from kate.exporter._transport import DEFAULT_ENDPOINT, SyncTransport
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import ProxyTracerProvider


@dataclass(frozen=True, slots=True)
class _Settings:
    endpoint: str
    agent_id: str | None
    api_key: str | None


_lock = threading.Lock()
_exporters: weakref.WeakKeyDictionary[TracerProvider, dict[_Settings, KateSpanExporter]] = weakref.WeakKeyDictionary()
_last: _Settings | None = None


def configure(
    endpoint: str = DEFAULT_ENDPOINT,
    agent_id: str | None = None,
    api_key: str | None = None,
    *,
    timeout: float = 10.0,
    complete_runs: bool = True,
) -> KateSpanExporter:
    """Send this process's spans to Kate: one call, safe to repeat.

    Without an SDK tracer provider yet, installs one (resource `kate.agent.id`) as the global
    provider; with one, adds to it. Either way it gets a RunSpanProcessor and a
    BatchSpanProcessor with a KateSpanExporter. The SDK flushes it at interpreter exit.
    It sends nothing itself: a collector that is down at start-up is no error here, and
    exports to it later fail without raising (see `run` for the whole failure behaviour).

    Args:
        endpoint: The collector's base URL.
        agent_id: The agent the spans belong to (else the resource's `kate.agent.id` or
            `service.name`).
        api_key: Sent as `Authorization: Bearer <api_key>` when given.
        timeout: Seconds one export may take, retries included.
        complete_runs: Complete runs the exporter created when their root span ends.

    Returns:
        The exporter (the same one when called again with the same settings).

    Raises:
        TypeError: The global tracer provider is set and is not an SDK TracerProvider.
        ValueError: `endpoint` is not an http(s) URL.
    """
    global _last
    settings = _Settings(endpoint, agent_id, api_key)
    with _lock:
        provider = _sdk_provider(agent_id)
        configured = _exporters.setdefault(provider, {})
        if settings not in configured:
            exporter = KateSpanExporter(endpoint, agent_id, api_key, timeout=timeout, complete_runs=complete_runs)
            ensure_run_stamping(provider)
            provider.add_span_processor(BatchSpanProcessor(exporter))
            configured[settings] = exporter
        _last = settings
        return configured[settings]


def _sdk_provider(agent_id: str | None) -> TracerProvider:
    provider = otel_trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        return provider
    if not isinstance(provider, ProxyTracerProvider):
        kind = type(provider).__name__
        msg = f"the global tracer provider is a {kind}, not an SDK TracerProvider; add KateSpanExporter to it yourself"
        raise TypeError(msg)
    installed = TracerProvider(resource=Resource.create({AGENT_ID_KEY: agent_id} if agent_id else {}))
    otel_trace.set_tracer_provider(installed)
    return installed


def run(
    agent_id: str | None = None,
    trigger: str = "manual",
    *,
    run_id: str | None = None,
    endpoint: str | None = None,
    api_key: str | None = None,
    timeout: float = DEFAULT_RUN_TIMEOUT_S,
) -> SyncRunContext:
    """A sync run context: `with kate.exporter.run(trigger="manual") as run:`.

    Creates the run, stamps `kate.run.id` on every span started inside, and on exit flushes
    the spans and completes the run (or, when the block raised, records the exception as an
    ERROR span `run` and marks the run failed). Unset arguments come from the last
    `configure()` call.

    Observability never takes the agent down. When the collector is unreachable, hangs or
    answers errors (5xx, or any other error answer), nothing is raised into the agent's code:
    the block runs and its result or exception passes through unchanged. Entry and exit each
    add at most about `timeout` seconds (one bounded request on entry; a bounded flush and at
    most two requests on exit), and a WARNING naming the collector URL and what failed is
    logged once per collector and kind of failure (repeats at DEBUG until it answers again).
    When the spans are not all exported within the bound at exit, the run is left running
    (ending it would refuse the late spans) while the exporter goes on sending them.
    A run the collector could not create on entry is yielded as a local `Run` with the same
    id (`created_at` None); its spans keep the id and go to the exporter, which retries as
    usual and creates the run with this trigger once the collector answers; the run is then
    left running. Only mistakes in the arguments raise, at the call, before any I/O.

    Args:
        agent_id: The agent; defaults to the configured one.
        trigger: `manual`, `automatic` or `test`.
        run_id: A UUID to use; the SDK generates a UUIDv7 when omitted.
        endpoint: The collector's base URL; defaults to the configured one.
        api_key: Defaults to the configured one.
        timeout: Seconds entry, and exit, may each add when the collector is slow (default 2).

    Returns:
        A context manager yielding the created Run.

    Raises:
        ValueError: No agent id was given or configured; `trigger` is not `manual`,
            `automatic` or `test`; `run_id` is not a UUID; `timeout` is not positive; the
            endpoint is not an http(s) URL.
    """
    settings = _last or _Settings(DEFAULT_ENDPOINT, None, None)
    agent = agent_id or settings.agent_id
    if not agent:
        raise ValueError("run() needs an agent_id: pass one or call configure(agent_id=...) first")
    transport = SyncTransport(endpoint or settings.endpoint, api_key or settings.api_key, timeout)
    return SyncRunContext(transport, agent, trigger, run_id, timeout, close=transport.close)

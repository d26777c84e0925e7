"""One-call setup (`configure`) and the sync run context that uses its settings (`run`).

Touches the global OpenTelemetry tracer provider and nothing else process-wide.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

from kate.exporter._context import SyncRunContext, ensure_run_stamping
from kate.exporter._span_exporter import KateSpanExporter
from kate.exporter._span_upload import AGENT_ID_KEY
from kate.exporter._sync_client import SyncClient
from kate.exporter._transport import DEFAULT_ENDPOINT
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
) -> SyncRunContext:
    """A sync run context: `with kate.exporter.run(trigger="manual") as run:`.

    Creates the run, stamps `kate.run.id` on every span started inside, and on exit flushes
    the spans and completes the run (after recording an exception as an ERROR span `run`).
    Unset arguments come from the last `configure()` call.

    Args:
        agent_id: The agent; defaults to the configured one.
        trigger: `manual`, `automatic` or `test`.
        run_id: A UUID to use instead of a server-generated one.
        endpoint: The collector's base URL; defaults to the configured one.
        api_key: Defaults to the configured one.

    Returns:
        A context manager yielding the created Run.

    Raises:
        ValueError: No agent id was given or configured.
    """
    settings = _last or _Settings(DEFAULT_ENDPOINT, None, None)
    agent = agent_id or settings.agent_id
    if not agent:
        raise ValueError("run() needs an agent_id: pass one or call configure(agent_id=...) first")
    client = SyncClient(endpoint or settings.endpoint, api_key or settings.api_key)
    return SyncRunContext(client.runs, agent, trigger, run_id, close=client.close)

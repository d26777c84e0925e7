"""The agent process: `python -m kate.collector.jobs.runner`, one per attempt of a hosted job.

Reads the attempt's spec (one JSON line) on stdin; sets up OpenTelemetry with the run's resource
(kate.agent.id, kate.run.id) and an exporter that hands OTLP spans to the worker as frames;
calls the agent's callable with the user input inside a root AGENT span; writes one RESULT
frame. Exits when stdin closes (the collector died). Must not import the collector's store,
server or duckdb: a crash or hang here is contained to this process.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import os
import sys
import threading
import traceback
from collections.abc import Iterator, Sequence
from typing import Any, BinaryIO

from kate.collector.jobs.frames import MAX_FRAME_BYTES, RESULT, SPANS, FrameWriter
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Status, StatusCode

EXIT_ORPHANED = 70  # the worker went away: nobody can receive the result
_MAX_DETAIL_CHARS = 4000


class FrameSpanExporter(SpanExporter):
    """Sends finished spans to the worker as OTLP protobuf frames; never raises (exporter contract)."""

    def __init__(self, frames: FrameWriter) -> None:
        self._frames = frames

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            for payload in _payloads(spans):
                self._frames.write(SPANS, payload)
        except Exception as exc:  # noqa: BLE001 - exporter boundary: a span batch lost, never the agent's run
            print(f"kate runner: {len(spans)} spans not sent: {exc}", file=sys.stderr)
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


def _payloads(spans: Sequence[ReadableSpan]) -> Iterator[bytes]:
    """The batch as frames under the frame limit: a batch over it is halved until it fits; a
    single span over it goes as is, and the worker fails the attempt saying so."""
    payload = encode_spans(spans).SerializeToString()
    if len(payload) <= MAX_FRAME_BYTES or len(spans) == 1:
        yield payload
        return
    half = len(spans) // 2
    yield from _payloads(spans[:half])
    yield from _payloads(spans[half:])


def main() -> None:
    spec = json.loads(sys.stdin.buffer.readline())
    frames = FrameWriter(_take_stdout())
    _exit_with_parent()
    _limit_memory(int(spec.get("memory_limit_mb") or 0))
    provider = _tracing(spec, frames)
    result = _call(spec)
    provider.shutdown()  # flushes: every span is framed before the result
    frames.write(RESULT, json.dumps(result, ensure_ascii=False).encode("utf-8"))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # threads the agent left behind must not keep the process (and its lease) alive


def _take_stdout() -> BinaryIO:
    """Keep the original stdout for frames; from now on fd 1 (the agent's prints) is stderr."""
    sys.stdout.flush()
    frame_fd = os.dup(1)
    os.dup2(2, 1)
    return os.fdopen(frame_fd, "wb")


def _exit_with_parent() -> None:
    """stdin stays open while the worker lives; EOF means it died, and so does this process."""
    control = sys.stdin.buffer
    sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115 - for the process's life: the agent never reads the control pipe

    def watch() -> None:
        control.read()
        os._exit(EXIT_ORPHANED)

    threading.Thread(target=watch, name="kate-parent-watch", daemon=True).start()


def _limit_memory(limit_mb: int) -> None:
    if limit_mb <= 0:
        return
    import resource  # POSIX only, like the rest of the worker

    limit = limit_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _tracing(spec: dict[str, Any], frames: FrameWriter) -> TracerProvider:
    """The global tracer provider of this process: every span the agent makes joins its run."""
    resource = Resource.create({
        "service.name": spec["agent_id"],
        "kate.agent.id": spec["agent_id"],
        "kate.run.id": spec["run_id"],
        "kate.job.id": spec["job_id"],
        "kate.job.attempt": int(spec["attempt"]),
    })
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(FrameSpanExporter(frames), schedule_delay_millis=200))
    trace.set_tracer_provider(provider)
    return provider


def _call(spec: dict[str, Any]) -> dict[str, Any]:
    """The attempt's result: {"ok": true, "output"} or {"ok": false, "error", "detail", "retryable"}."""
    try:
        target = _resolve(spec["entrypoint"])
    except Exception as exc:  # noqa: BLE001 - a wrong entrypoint is the attempt's result; retrying cannot help
        return {"ok": False, "error": f"cannot load {spec['entrypoint']}: {_describe(exc)}",
                "detail": _traceback(), "retryable": False}
    tracer = trace.get_tracer("kate.collector.jobs.runner")
    attributes = {"openinference.span.kind": "AGENT", "input.value": spec["user_input"]}
    name = getattr(target, "__qualname__", None) or spec["agent_id"]
    with tracer.start_as_current_span(name, attributes=attributes, record_exception=False,
                                      set_status_on_exception=False) as span:
        try:
            output = _as_text(_invoke(target, spec["user_input"]))
        except Exception as exc:  # noqa: BLE001 - the agent's failure is the attempt's result, not the runner's
            error = _describe(exc)
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, error))
            return {"ok": False, "error": error, "detail": _traceback(), "retryable": True}
        if output is not None:
            span.set_attribute("output.value", output)
        return {"ok": True, "output": output}


def _resolve(entrypoint: str) -> Any:
    module_name, _, attribute = entrypoint.partition(":")
    target: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        target = getattr(target, part)
    if not callable(target):
        raise TypeError(f"{entrypoint} is {type(target).__name__}, not a callable")
    return target


def _invoke(target: Any, user_input: str) -> Any:
    value = target(user_input)
    if inspect.isawaitable(value):
        return asyncio.run(_awaited(value))
    return value


async def _awaited(value: Any) -> Any:
    return await value


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _traceback() -> str:
    return traceback.format_exc()[-_MAX_DETAIL_CHARS:]


if __name__ == "__main__":
    main()

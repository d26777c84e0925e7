"""Overload: blast the collector far past what it can commit while stock OTel exporters (default
BatchSpanProcessor + OTLP HTTP and gRPC exporters) send their own spans; then stop the blast.

Measured: how fast refusals come (503 / UNAVAILABLE with a retry hint), peak memory of the
collector process (VmHWM from /proc), and whether the stock exporters delivered every span.
Shared by tests/reliability/test_overload.py and bench/overload_test.py.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import duckdb
import grpc
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from tests.reliability.traffic import EXPORT, Ledger, Target, new_keys, otlp_body, sender
from tests.support.otlp_client import RecordingExporter
from tests.support.server import CollectorProcess, start_collector_process

MIB = 1024 * 1024
STOCK_AGENTS = ("stock-http", "stock-grpc")


def overload_config(queue_max_bytes: int, queue_max_items: int) -> dict[str, object]:
    return {"queue": {"max_bytes": queue_max_bytes, "max_items": queue_max_items, "retry_after_s": 1},
            "evaluation": {"enabled": False}, "server": {"shutdown_timeout_s": 2}}


def proc_memory_bytes(pid: int) -> dict[str, int]:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            values[line.split(":")[0]] = int(line.split()[1]) * 1024
    return values


@dataclass
class OverloadReport:
    baseline_rss_bytes: int = 0
    peak_rss_bytes: int = 0  # VmHWM at the end
    blast_ledger: Ledger = field(default_factory=Ledger)
    blast_s: float = 0.0
    refusal_latencies_s: list[float] = field(default_factory=list)  # time to a 503 / UNAVAILABLE
    refusals_without_hint: int = 0  # refused without Retry-After / RetryInfo
    stock_sent: dict[str, int] = field(default_factory=dict)
    stock_delivered: dict[str, int] = field(default_factory=dict)
    stock_failed_exports: dict[str, int] = field(default_factory=dict)
    sustainable_spans_per_s: float = 0.0

    @property
    def accepted_spans_per_s(self) -> float:
        return len(self.blast_ledger.acked) / self.blast_s if self.blast_s else 0.0

    @property
    def offered_spans_per_s(self) -> float:
        return self.blast_ledger.sent_spans / self.blast_s if self.blast_s else 0.0

    def refusal_ms(self, quantile: float) -> float:
        if not self.refusal_latencies_s:
            return 0.0
        ordered = sorted(self.refusal_latencies_s)
        return 1000 * ordered[min(len(ordered) - 1, int(quantile * len(ordered)))]

    def median_refusal_ms(self) -> float:
        return 1000 * statistics.median(self.refusal_latencies_s) if self.refusal_latencies_s else 0.0


class _StockAgent:
    """One TracerProvider with the stock exporter and default BatchSpanProcessor settings."""

    def __init__(self, agent: str, exporter: HttpSpanExporter | GrpcSpanExporter) -> None:
        self.recording = RecordingExporter(exporter)
        self.provider = TracerProvider(resource=Resource.create({"service.name": agent, "kate.agent.id": agent}))
        self.provider.add_span_processor(BatchSpanProcessor(self.recording))
        self.tracer = self.provider.get_tracer("overload")
        self.sent = 0

    def emit(self, count: int) -> None:
        with self.tracer.start_as_current_span("agent"):
            for index in range(count - 1):
                with self.tracer.start_as_current_span(f"step-{index}", attributes={"input.value": "x" * 512}):
                    pass
        self.sent += count


def _stock_agents(process: CollectorProcess) -> list[_StockAgent]:
    return [
        _StockAgent(STOCK_AGENTS[0], HttpSpanExporter(endpoint=f"{process.base_url}/v1/traces")),
        _StockAgent(STOCK_AGENTS[1], GrpcSpanExporter(endpoint=f"127.0.0.1:{process.grpc_port}", insecure=True)),
    ]


def _emit_during(agents: list[_StockAgent], stop: threading.Event, spans_per_trace: int, pause_s: float) -> None:
    while not stop.is_set():
        for agent in agents:
            agent.emit(spans_per_trace)
        stop.wait(pause_s)  # pacing of the agents' own work, not synchronisation


async def _measure_sustainable(target: Target, seconds: float) -> float:
    """Spans per second one sequential OTLP/HTTP sender gets committed (every request acked)."""
    ledger, stop = Ledger(), asyncio.Event()
    task = asyncio.create_task(sender("http", target, "calibrate", ledger, stop, spans_per_request=200))
    await asyncio.sleep(seconds)
    stop.set()
    await task
    return len(ledger.acked) / seconds


async def _blast(target: Target, report: OverloadReport, *, senders: int, seconds: float,
                 spans_per_request: int) -> None:
    stop, ledger = asyncio.Event(), report.blast_ledger
    kinds = ["http", "grpc"] * (senders // 2)
    tasks = [asyncio.create_task(_timed_sender(kind, target, ledger, stop, report, spans_per_request, i))
             for i, kind in enumerate(kinds)]
    started = time.monotonic()
    await asyncio.sleep(seconds)  # the overload lasts this long, by design
    stop.set()
    await asyncio.gather(*tasks)
    report.blast_s = time.monotonic() - started


async def _timed_sender(kind: str, target: Target, ledger: Ledger, stop: asyncio.Event, report: OverloadReport,
                        spans_per_request: int, seed: int) -> None:
    """Send back to back, never pausing; time each refused request from send to answer (the body
    is built before the clock starts, so the client's own work is not counted)."""
    rng = random.Random(seed)
    async with aiohttp.ClientSession() as session, grpc.aio.insecure_channel(f"127.0.0.1:{target.grpc_port}") as ch:
        export = ch.unary_unary(EXPORT)
        while not stop.is_set():
            keys = new_keys(spans_per_request)
            body = otlp_body("blast", keys, rng, 1024)
            ledger.sent_spans += len(keys)
            started = time.monotonic()
            if kind == "http":
                async with session.post(f"{target.base_url}/v1/traces", data=body,
                                        headers={"Content-Type": "application/x-protobuf"}) as response:
                    await response.read()
                    answer, retry_hint = str(response.status), response.headers.get("Retry-After")
            else:
                try:
                    await export(body, timeout=30)
                    answer, retry_hint = "OK", None
                except grpc.aio.AioRpcError as error:
                    trailers = dict(error.trailing_metadata() or ())
                    answer, retry_hint = error.code().name, trailers.get("google.rpc.retryinfo-bin")
            elapsed = time.monotonic() - started
            ledger.record(kind, answer, keys, answer in ("200", "OK"))
            if answer in ("503", "429", "UNAVAILABLE"):
                report.refusal_latencies_s.append(elapsed)
                report.refusals_without_hint += retry_hint is None


def _delivered(db_path: Path) -> dict[str, int]:
    with duckdb.connect(str(db_path), read_only=True) as connection:
        rows = connection.execute("SELECT agent_id, count(*) FROM spans GROUP BY agent_id").fetchall()
    return {agent: count for agent, count in rows}


async def run_overload(db_path: Path, *, queue_max_bytes: int = 4 * MIB, queue_max_items: int = 8,
                       blast_senders: int = 32, blast_s: float = 4.0, spans_per_request: int = 200,
                       stock_spans_per_trace: int = 50, calibrate_s: float = 1.5) -> OverloadReport:
    report = OverloadReport()
    process = await asyncio.to_thread(start_collector_process, db_path,
                                      config=overload_config(queue_max_bytes, queue_max_items))
    assert process.grpc_port is not None
    target = Target(process.base_url, process.grpc_port)
    report.baseline_rss_bytes = proc_memory_bytes(process.process.pid)["VmRSS"]
    report.sustainable_spans_per_s = await _measure_sustainable(target, calibrate_s)
    agents = _stock_agents(process)
    stop_agents = threading.Event()
    emitter = threading.Thread(target=_emit_during, args=(agents, stop_agents, stock_spans_per_trace, 0.2))
    emitter.start()
    try:
        await _blast(target, report, senders=blast_senders, seconds=blast_s, spans_per_request=spans_per_request)
    finally:
        stop_agents.set()
        emitter.join()
    report.peak_rss_bytes = proc_memory_bytes(process.process.pid)["VmHWM"]
    for agent in agents:  # the load has dropped: the stock exporters flush what they hold
        await asyncio.to_thread(agent.provider.force_flush, 60_000)
        await asyncio.to_thread(agent.provider.shutdown)
    assert process.stop() == 0
    delivered = _delivered(db_path)
    for name, agent in zip(STOCK_AGENTS, agents, strict=True):
        report.stock_sent[name] = agent.sent
        report.stock_delivered[name] = delivered.get(name, 0)
        report.stock_failed_exports[name] = sum(1 for result in agent.recording.results if result.name != "SUCCESS")
    return report

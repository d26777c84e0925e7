"""End-to-end OTLP/HTTP ingest into a real collector: spans/s until committed, ack p50/p99.

Bounded: a fixed number of 512-span protobuf requests (unique ids, ~2.5 KB of text a span) from
1 and from 4 concurrent senders, each case against a fresh `kate serve` subprocess on loopback.
Prints figures only; never an assertion. Run:
    .venv/bin/python bench/bench_otlp_ingest.py
"""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from bench_otlp_decode import SPANS, build_request
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

REQUESTS = 40  # per case: 40 x 512 = 20,480 spans
SENDERS = (1, 4)
_READY = re.compile(r"kate ready http=(?P<host>[\d.]+):(?P<port>\d+)")


def unique_bodies(base: ExportTraceServiceRequest, count: int) -> list[bytes]:
    """count copies of base with fresh trace and span ids (so nothing is deduplicated) and no
    kate.run.id (so each request is its own run, created by the first span)."""
    bodies = []
    for _ in range(count):
        request = ExportTraceServiceRequest()
        request.CopyFrom(base)
        trace_id = os.urandom(16)
        for span in request.resource_spans[0].scope_spans[0].spans:
            span.trace_id = trace_id
            span.span_id = os.urandom(8)
            span.ClearField("parent_span_id")  # every span a root: the run is completed too
            for index in reversed(range(len(span.attributes))):
                if span.attributes[index].key == "kate.run.id":
                    del span.attributes[index]
        bodies.append(request.SerializeToString())
    return bodies


def start_collector(folder: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "kate.collector", "serve", "--port", "0", "--grpc-port", "0",
         "--db", str(folder / "kate.duckdb")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=folder,
    )
    assert process.stdout is not None
    for line in process.stdout:
        match = _READY.search(line)
        if match:
            return process, f"http://127.0.0.1:{match['port']}"
    raise RuntimeError("collector did not start")


async def send_all(base_url: str, bodies: list[bytes], senders: int) -> tuple[float, list[float]]:
    """(seconds from the first request until every request was acked, per-request ack seconds)."""
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    latencies: list[float] = []
    headers = {"Content-Type": "application/x-protobuf"}

    async def sender(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            started = time.perf_counter()
            async with session.post(f"{base_url}/v1/traces", data=body, headers=headers) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"collector answered {response.status}")
            latencies.append(time.perf_counter() - started)

    async with aiohttp.ClientSession() as session:
        started = time.perf_counter()
        await asyncio.gather(*(sender(session) for _ in range(senders)))
        return time.perf_counter() - started, latencies


def run_case(bodies: list[bytes], senders: int) -> None:
    with tempfile.TemporaryDirectory(prefix="kate-bench-") as folder:
        process, base_url = start_collector(Path(folder))
        try:
            elapsed, latencies = asyncio.run(send_all(base_url, bodies, senders))
        finally:
            process.terminate()
            process.wait(timeout=60)
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    spans = len(bodies) * SPANS
    print(f"{senders} sender(s): {spans:,} spans in {elapsed:5.2f} s = {spans / elapsed:8,.0f} spans/s committed;"
          f"  ack p50 {cuts[49] * 1000:6.1f} ms  p99 {cuts[98] * 1000:6.1f} ms  max {max(latencies) * 1000:6.1f} ms")


def main() -> None:
    bodies = unique_bodies(build_request(), REQUESTS)
    print(f"{REQUESTS} requests x {SPANS} spans, {sum(map(len, bodies)) / len(bodies) / 1e6:.2f} MB each "
          f"(protobuf, uncompressed); {os.cpu_count()} CPUs")
    for senders in SENDERS:
        run_case(bodies, senders)


if __name__ == "__main__":
    main()

"""Ingestion through the real collector: OTLP/HTTP protobuf, OTLP/gRPC and the JSON upload.

Spans per second count from the first request until every span is committed and visible
through the API (POST /sql counts them), not until the last ack. Bodies are built once from a
pool of realistic requests; each send gets fresh trace ids by patching the bytes, so nothing is
deduplicated and the sender stays cheap. Every loop is bounded in count and in time; all
traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import os
import random
import string
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
import grpc

from bench.collector import Collector
from bench.workload import SPANS_PER_REQUEST, TEXT_TOKEN, SpanSpec, otlp_request, upload_body

AGENT_ID = "bench-agent"
EXPORT_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
MAX_RETRIES = 50  # per request: a retried 503 is waited out, but never forever
REQUEST_TIMEOUT_S = 60.0
VISIBLE_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class PatchableBody:
    """A request body whose trace ids and text token can be replaced in place."""

    body: bytes
    trace_offsets: tuple[tuple[int, ...], ...]  # per trace: where its id sits in body
    token_offsets: tuple[int, ...]  # where TEXT_TOKEN sits (the start of every text)
    hex_ids: bool  # JSON upload: 32 hex characters; OTLP protobuf: 16 raw bytes

    @classmethod
    def build(cls, body: bytes, trace_ids: list[bytes], *, hex_ids: bool) -> PatchableBody:
        needles = [trace_id.hex().encode("ascii") if hex_ids else trace_id for trace_id in trace_ids]
        token = TEXT_TOKEN.encode("ascii")
        return cls(body, tuple(_offsets(body, needle) for needle in needles), _offsets(body, token), hex_ids)

    def fresh(self) -> bytes:
        """The body with new random trace ids (so new runs, and no (trace_id, span_id) repeats)
        and a new first word in every text (so no text repeats either)."""
        buffer = bytearray(self.body)
        for offsets in self.trace_offsets:
            _patch(buffer, offsets, os.urandom(16).hex().encode("ascii") if self.hex_ids else os.urandom(16))
        word = "".join(random.choices(string.ascii_lowercase, k=len(TEXT_TOKEN))).encode("ascii")
        _patch(buffer, self.token_offsets, word)
        return bytes(buffer)


def _offsets(body: bytes, needle: bytes) -> tuple[int, ...]:
    found, start = [], body.find(needle)
    while start >= 0:
        found.append(start)
        start = body.find(needle, start + 1)
    return tuple(found)


def _patch(buffer: bytearray, offsets: tuple[int, ...], value: bytes) -> None:
    width = len(value)
    for offset in offsets:
        buffer[offset : offset + width] = value


@dataclass(frozen=True)
class Payloads:
    otlp: list[PatchableBody]
    upload: list[PatchableBody]

    @classmethod
    def build(cls, requests: list[list[SpanSpec]]) -> Payloads:
        otlp, upload = [], []
        for spans in requests:
            trace_ids = sorted({span.trace_id for span in spans})
            otlp.append(PatchableBody.build(otlp_request(spans, AGENT_ID), trace_ids, hex_ids=False))
            upload.append(PatchableBody.build(upload_body(spans, AGENT_ID), trace_ids, hex_ids=True))
        return cls(otlp, upload)


@dataclass
class SendResult:
    spans: int
    seconds_to_visible: float
    ack_latencies_s: list[float]
    retries: int
    peak_rss_bytes: int = 0
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def spans_per_s(self) -> float:
        return self.spans / self.seconds_to_visible


Send = Callable[[int], Awaitable[float]]  # request index → ack latency in seconds


class Senders:
    """Request senders for one collector: each returns the ack latency of one request."""

    def __init__(self, collector: Collector, payloads: Payloads, session: aiohttp.ClientSession) -> None:
        self._collector = collector
        self._payloads = payloads
        self._session = session
        self._channels: list[grpc.aio.Channel] = []
        self.retries = 0
        self.upload_runs: list[str] = []

    async def close(self) -> None:
        for channel in self._channels:
            await channel.close()

    async def otlp_http(self, index: int) -> float:
        body = self._payloads.otlp[index % len(self._payloads.otlp)].fresh()
        headers = {"Content-Type": "application/x-protobuf"}
        return await self._post("/v1/traces", body, headers, expected=200)

    async def upload(self, index: int) -> float:
        body = self._payloads.upload[index % len(self._payloads.upload)].fresh()
        path = f"/agents/{AGENT_ID}/runs/{self.upload_runs[index]}/spans"
        return await self._post(path, body, {"Content-Type": "application/json"}, expected=201)

    async def _post(self, path: str, body: bytes, headers: dict[str, str], *, expected: int) -> float:
        url = self._collector.base_url + path
        for _ in range(MAX_RETRIES):
            started = time.perf_counter()
            async with self._session.post(url, data=body, headers=headers) as response:
                await response.read()
                latency = time.perf_counter() - started
                if response.status == expected:
                    return latency
                if response.status not in (429, 503):
                    raise RuntimeError(f"POST {path} answered {response.status}: {(await response.text())[:300]}")
                retry_after = float(response.headers.get("Retry-After", "1"))
            self.retries += 1
            await asyncio.sleep(retry_after)
        raise RuntimeError(f"POST {path} still refused after {MAX_RETRIES} attempts")

    def grpc_sender(self) -> Send:
        """A sender with its own channel, as each exporter process would have."""
        channel = grpc.aio.insecure_channel(self._collector.grpc_target,
                                            options=[("grpc.max_send_message_length", 64 * 1024 * 1024)])
        self._channels.append(channel)
        export = channel.unary_unary(EXPORT_METHOD, request_serializer=None, response_deserializer=None)

        async def send(index: int) -> float:
            body = self._payloads.otlp[index % len(self._payloads.otlp)].fresh()
            for _ in range(MAX_RETRIES):
                started = time.perf_counter()
                try:
                    await export(body, timeout=REQUEST_TIMEOUT_S)
                    return time.perf_counter() - started
                except grpc.aio.AioRpcError as exc:
                    if exc.code() is not grpc.StatusCode.UNAVAILABLE:
                        raise
                self.retries += 1
                await asyncio.sleep(1.0)
            raise RuntimeError(f"gRPC export still refused after {MAX_RETRIES} attempts")

        return send

    async def create_upload_runs(self, count: int) -> None:
        """The JSON upload needs running runs: created before the clock starts, 16 at a time."""
        self.upload_runs = [str(uuid.uuid4()) for _ in range(count)]
        url = f"{self._collector.base_url}/agents/{AGENT_ID}/runs"
        limit = asyncio.Semaphore(16)

        async def create(run_id: str) -> None:
            async with limit, self._session.post(url, json={"trigger": "test", "run_id": run_id}) as response:
                if response.status != 201:
                    raise RuntimeError(f"creating run {run_id} answered {response.status}")

        await asyncio.gather(*(create(run_id) for run_id in self.upload_runs))


async def count_spans(session: aiohttp.ClientSession, collector: Collector) -> int:
    async with session.post(f"{collector.base_url}/sql", json={"sql": "SELECT count(*) FROM spans"}) as response:
        document = await response.json()
        if response.status != 200:
            raise RuntimeError(f"/sql answered {response.status}: {document}")
        return int(document["rows"][0][0])


async def wait_visible(session: aiohttp.ClientSession, collector: Collector, expected: int) -> None:
    """Poll until the API shows every span (acks come after commit, so this is normally at once)."""
    deadline = time.perf_counter() + VISIBLE_TIMEOUT_S
    while (seen := await count_spans(session, collector)) < expected:
        if time.perf_counter() > deadline:
            raise RuntimeError(f"only {seen} of {expected} spans visible after {VISIBLE_TIMEOUT_S} s")
        await asyncio.sleep(0.01)


async def closed_loop(senders: list[Send], requests: int) -> list[float]:
    """`len(senders)` concurrent senders, each sending its next request once the last was acked."""
    next_index = iter(range(requests))
    latencies: list[float] = []

    async def run(send: Send) -> None:
        for index in next_index:
            latencies.append(await send(index))

    await asyncio.gather(*(run(send) for send in senders))
    return latencies


async def measure_case(collector: Collector, payloads: Payloads, protocol: str, senders: int,
                       requests: int) -> SendResult:
    """Send `requests` requests with `senders` concurrent senders; time until all are visible."""
    connector = aiohttp.TCPConnector(limit=max(senders, 16))
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        pool = Senders(collector, payloads, session)
        try:
            if protocol == "upload":
                await pool.create_upload_runs(requests)
            functions: list[Send] = [
                pool.grpc_sender() if protocol == "grpc" else (pool.upload if protocol == "upload" else pool.otlp_http)
                for _ in range(senders)
            ]
            cpu_before = collector.cpu_seconds()
            started = time.perf_counter()
            latencies = await closed_loop(functions, requests)
            await wait_visible(session, collector, requests * SPANS_PER_REQUEST)
            elapsed = time.perf_counter() - started
            cpu_s = collector.cpu_seconds() - cpu_before
        finally:
            await pool.close()
    result = SendResult(requests * SPANS_PER_REQUEST, elapsed, latencies, pool.retries, collector.peak_rss_tree_bytes())
    result.extra["cpu_s"] = cpu_s
    return result


async def paced(collector: Collector, payloads: Payloads, spans_per_s: float, duration_s: float) -> SendResult:
    """Open loop at a fixed request rate (OTLP/HTTP), whatever the acks do; WAL size is sampled
    to count DuckDB checkpoints (the WAL shrinks when one finishes)."""
    interval_s = SPANS_PER_REQUEST / spans_per_s
    requests = max(1, int(duration_s / interval_s))
    wal_drops: list[int] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256),
                                     timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)) as session:
        pool = Senders(collector, payloads, session)
        done = asyncio.Event()
        sampler = asyncio.create_task(_sample_wal(collector, wal_drops, done))
        started = time.perf_counter()
        tasks = []
        for index in range(requests):
            delay = started + index * interval_s - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(pool.otlp_http(index)))
        latencies = list(await asyncio.gather(*tasks))
        await wait_visible(session, collector, requests * SPANS_PER_REQUEST)
        elapsed = time.perf_counter() - started
        done.set()
        await sampler
    result = SendResult(requests * SPANS_PER_REQUEST, elapsed, latencies, pool.retries, collector.peak_rss_tree_bytes())
    result.extra["checkpoints"] = len(wal_drops)
    return result


async def _sample_wal(collector: Collector, drops: list[int], done: asyncio.Event) -> None:
    last = collector.wal_bytes()
    while not done.is_set():
        await asyncio.sleep(0.02)
        size = collector.wal_bytes()
        if size < last:
            drops.append(last)
        last = size

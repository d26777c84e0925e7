"""Sustained traffic against a real collector with a ledger of what it acknowledged.

Three kinds of sender (OTLP/HTTP protobuf, OTLP/gRPC, JSON upload) loop until told to stop or
until the collector dies. Every span carries ids chosen here, so afterwards the ledger says
exactly which spans the collector promised to keep (answered 2xx / OK). Used by the crash,
overload and shutdown tests and by bench/crash_test.py. Test support: no code under test.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import duckdb
import grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
KINDS = ("http", "grpc", "upload")
SpanKey = tuple[str, str]  # (trace_id, span_id) in lowercase hex


@dataclass
class Ledger:
    """What was sent and what the collector answered, per sender kind."""

    acked: set[SpanKey] = field(default_factory=set)
    sent_spans: int = 0
    answers: Counter[str] = field(default_factory=Counter)  # "http:200", "grpc:UNAVAILABLE", "upload:error"...

    def record(self, kind: str, answer: str, keys: list[SpanKey], ok: bool) -> None:
        self.answers[f"{kind}:{answer}"] += 1
        if ok:
            self.acked.update(keys)

    @property
    def refused(self) -> int:
        return sum(n for key, n in self.answers.items() if key.split(":")[1] in ("503", "429", "UNAVAILABLE"))


@dataclass(frozen=True)
class Target:
    base_url: str
    grpc_port: int


def _text(rng: random.Random, size: int) -> str:
    return " ".join(rng.choice(("kate", "span", "agent", "tool", "model", "token", "trace")) for _ in range(size // 5))


def otlp_body(agent: str, keys: list[SpanKey], rng: random.Random, text_bytes: int) -> bytes:
    parent = os.urandom(8)  # never a root: runs stay running, no evaluation work in the way
    spans = [Span(trace_id=bytes.fromhex(trace), span_id=bytes.fromhex(span), parent_span_id=parent, name="step",
                  start_time_unix_nano=1_700_000_000_000_000_000, end_time_unix_nano=1_700_000_000_100_000_000,
                  attributes=[KeyValue(key="input.value", value=AnyValue(string_value=_text(rng, text_bytes)))])
             for trace, span in keys]
    resource = {"attributes": [KeyValue(key="kate.agent.id", value=AnyValue(string_value=agent))]}
    request = ExportTraceServiceRequest(resource_spans=[ResourceSpans(resource=resource,
                                                                      scope_spans=[ScopeSpans(spans=spans)])])
    return request.SerializeToString()


def new_keys(count: int) -> list[SpanKey]:
    trace = os.urandom(16).hex()
    return [(trace, os.urandom(8).hex()) for _ in range(count)]


async def send_otlp_http(session: aiohttp.ClientSession, target: Target, agent: str, keys: list[SpanKey],
                         rng: random.Random, text_bytes: int, ledger: Ledger) -> str:
    body = otlp_body(agent, keys, rng, text_bytes)
    try:
        async with session.post(f"{target.base_url}/v1/traces", data=body,
                                headers={"Content-Type": "application/x-protobuf"}) as response:
            await response.read()
            answer = str(response.status)
            ledger.record("http", answer, keys, response.status == 200)
            return answer
    except (TimeoutError, aiohttp.ClientError):
        ledger.record("http", "error", keys, False)
        return "error"


async def send_otlp_grpc(channel: grpc.aio.Channel, agent: str, keys: list[SpanKey], rng: random.Random,
                         text_bytes: int, ledger: Ledger) -> str:
    export = channel.unary_unary(EXPORT)
    try:
        await export(otlp_body(agent, keys, rng, text_bytes), timeout=15)
    except grpc.aio.AioRpcError as error:
        ledger.record("grpc", error.code().name, keys, False)
        return error.code().name
    ledger.record("grpc", "OK", keys, True)
    return "OK"


async def send_upload(session: aiohttp.ClientSession, target: Target, agent: str, run_id: str, keys: list[SpanKey],
                      rng: random.Random, text_bytes: int, ledger: Ledger) -> str:
    spans = [{"node_name": "step", "span_kind": "LLM", "trace_id": trace, "span_id": span,
              "input_text": _text(rng, text_bytes), "latency_ms": 5} for trace, span in keys]
    try:
        async with session.post(f"{target.base_url}/agents/{agent}/runs/{run_id}/spans", json={"spans": spans}) as response:
            await response.read()
            answer = str(response.status)
            ledger.record("upload", answer, keys, response.status == 201)
            return answer
    except (TimeoutError, aiohttp.ClientError):
        ledger.record("upload", "error", keys, False)
        return "error"


async def create_run(session: aiohttp.ClientSession, target: Target, agent: str) -> str | None:
    try:
        async with session.post(f"{target.base_url}/agents/{agent}/runs", json={"trigger": "test"}) as response:
            return str((await response.json())["id"]) if response.status == 201 else None
    except (TimeoutError, aiohttp.ClientError):
        return None


async def sender(kind: str, target: Target, agent: str, ledger: Ledger, stop: asyncio.Event, *,
                 spans_per_request: int = 20, text_bytes: int = 512, seed: int = 0,
                 pause_s: float = 0.0) -> None:
    """Send requests of one kind back to back until stop is set or the collector is gone.

    A connection error ends the loop (the collector died): those requests are not acknowledged.
    """
    rng = random.Random(seed)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session, \
            grpc.aio.insecure_channel(f"127.0.0.1:{target.grpc_port}") as channel:
        run_id = await create_run(session, target, agent) if kind == "upload" else None
        if kind == "upload" and run_id is None:
            return
        while not stop.is_set():
            keys = new_keys(spans_per_request)
            ledger.sent_spans += len(keys)
            if kind == "http":
                answer = await send_otlp_http(session, target, agent, keys, rng, text_bytes, ledger)
            elif kind == "grpc":
                answer = await send_otlp_grpc(channel, agent, keys, rng, text_bytes, ledger)
            else:
                answer = await send_upload(session, target, agent, str(run_id), keys, rng, text_bytes, ledger)
            if answer == "error":
                return
            if answer in ("503", "429", "UNAVAILABLE") or pause_s:
                await asyncio.sleep(pause_s or 0.05)  # a refusal is honoured before the next try


@dataclass(frozen=True)
class StoredCheck:
    acked: int
    stored: int  # spans of the ledger's agents in the file
    missing: int  # acknowledged but not stored
    duplicates: int  # (trace_id, span_id) stored more than once


def check_file(db_path: Path, agents: list[str], ledger: Ledger) -> StoredCheck:
    """Open the file read-only (the collector must be stopped) and compare it with the ledger."""
    with duckdb.connect(str(db_path), read_only=True) as connection:
        rows = connection.execute(
            "SELECT trace_id, span_id, count(*) FROM spans WHERE agent_id IN (SELECT unnest(?)) "
            "GROUP BY trace_id, span_id", [agents]).fetchall()
        for table in ("runs", "spans", "jobs", "evaluations", "schema_version"):
            connection.execute(f"SELECT count(*) FROM {table}").fetchall()  # every table reads back
    stored = {(trace, span): count for trace, span, count in rows}
    missing = len(ledger.acked - stored.keys())
    duplicates = sum(1 for count in stored.values() if count > 1)
    return StoredCheck(len(ledger.acked), len(stored), missing, duplicates)

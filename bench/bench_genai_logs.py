"""What GenAI content sent as OTLP log records costs (docs/mapping.md#genai-content-in-log-records).

A real collector (fresh file, pre-filled with spans so look-ups meet a real table) receives LLM
calls as the official instrumentation sends them: one span without content, and three log
records (system and user message, choice) naming it. Cases, interleaved in rounds:

- spans only: the same spans with no records (the baseline);
- records first: each request's records, then its spans (records wait in genai_log_pending);
- spans first: spans, then their records (each record finds its stored span).

Prints calls/s per case (one sender, each request acknowledged after commit) and checks that
every call's span got its texts. Bounded in count and time; never an assertion. Run:
    .venv/bin/python -m bench.bench_genai_logs [--prefill 50000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path

import aiohttp
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue, KeyValueList

from bench.collector import start_collector

CALLS_PER_REQUEST = 100
REQUESTS_PER_CASE = 10
PROTOBUF = {"Content-Type": "application/x-protobuf"}
TIMEOUT_S = 600.0
CASES = ("spans only", "records first", "spans first")


def _any(value: object) -> AnyValue:
    if isinstance(value, dict):
        return AnyValue(kvlist_value=KeyValueList(values=[KeyValue(key=k, value=_any(v)) for k, v in value.items()]))
    return AnyValue(string_value=str(value))


def _calls(agent_id: str, count: int, start_ns: int) -> tuple[bytes, bytes]:
    """(a trace request of `count` LLM spans, a logs request of their 3 records each)."""
    spans, logs = ExportTraceServiceRequest(), ExportLogsServiceRequest()
    resource = [KeyValue(key="service.name", value=_any(agent_id))]
    scope_spans = spans.resource_spans.add(resource={"attributes": resource}).scope_spans.add()
    scope_logs = logs.resource_logs.add(resource={"attributes": resource}).scope_logs.add()
    for index in range(count):
        trace_id, span_id, at = os.urandom(16), os.urandom(8), start_ns + index * 1_000_000
        scope_spans.spans.add(trace_id=trace_id, span_id=span_id, name="chat gpt-4o-mini", start_time_unix_nano=at,
                              end_time_unix_nano=at + 800_000_000, attributes=[
                                  KeyValue(key="gen_ai.operation.name", value=_any("chat")),
                                  KeyValue(key="gen_ai.request.model", value=_any("gpt-4o-mini"))])
        for offset, name, body in ((1_000, "gen_ai.system.message", {"content": "You answer briefly."}),
                                   (2_000, "gen_ai.user.message", {"content": f"Question number {index}?"}),
                                   (700_000_000, "gen_ai.choice", {"index": "0", "finish_reason": "stop",
                                                                   "message": {"role": "assistant",
                                                                               "content": f"Answer {index}."}})):
            scope_logs.log_records.add(time_unix_nano=at + offset, trace_id=trace_id, span_id=span_id,
                                       event_name=name, body=_any(body))
    return spans.SerializeToString(), logs.SerializeToString()


async def _post(session: aiohttp.ClientSession, url: str, body: bytes) -> None:
    async with session.post(url, data=body, headers=PROTOBUF) as response:
        if response.status != 200:
            raise RuntimeError(f"{url} answered {response.status}: {await response.text()}")


async def _case(session: aiohttp.ClientSession, base_url: str, case: str, agent_id: str, start_ns: int) -> float:
    """Seconds to send and have acknowledged REQUESTS_PER_CASE requests of the case."""
    bodies = [_calls(agent_id, CALLS_PER_REQUEST, start_ns + n * 10**11) for n in range(REQUESTS_PER_CASE)]
    started = time.perf_counter()
    for spans, logs in bodies:
        order = {"spans only": [("/v1/traces", spans)], "records first": [("/v1/logs", logs), ("/v1/traces", spans)],
                 "spans first": [("/v1/traces", spans), ("/v1/logs", logs)]}[case]
        for path, body in order:
            await _post(session, base_url + path, body)
    return time.perf_counter() - started


def _filled(base_url: str, agent_id: str) -> int:
    query = {"sql": "SELECT count(*) FROM spans WHERE agent_id = ? AND input_text IS NOT NULL AND output_text IS NOT NULL",
             "params": [agent_id]}
    request = urllib.request.Request(base_url + "/sql", data=json.dumps(query).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return int(json.loads(response.read())["rows"][0][0])


async def _run(prefill: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="kate-bench-logs-") as folder:
        collector = start_collector(Path(folder) / "kate.duckdb", {"evaluation": {"enabled": False}})
        try:
            base_url = collector.base_url
            now_ns = time.time_ns()
            async with aiohttp.ClientSession() as session:
                for n in range(0, prefill, 1000):  # spans of other calls, in the same hours
                    await _post(session, base_url + "/v1/traces", _calls("prefill", 1000, now_ns + n * 10**9)[0])
                seconds: dict[str, list[float]] = {case: [] for case in CASES}
                deadline = time.monotonic() + TIMEOUT_S
                for round_index in range(rounds):
                    for case in CASES:
                        if time.monotonic() > deadline:
                            break
                        agent_id = f"bench-{case.replace(' ', '-')}-{round_index}"
                        seconds[case].append(await _case(session, base_url, case, agent_id, now_ns))
                        if case != "spans only":
                            filled = _filled(base_url, agent_id)
                            if filled != CALLS_PER_REQUEST * REQUESTS_PER_CASE:
                                print(f"  {case}: only {filled} spans got their texts")
        finally:
            collector.stop()
    calls = CALLS_PER_REQUEST * REQUESTS_PER_CASE
    print(f"machine: {os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()}; "
          f"{prefill:,} spans stored before; {calls:,} calls per case (1 span + 3 records each), 1 sender")
    base = statistics.median(seconds["spans only"])
    for case in CASES:
        if seconds[case]:
            median = statistics.median(seconds[case])
            print(f"{case:>14}: {calls / median:8,.0f} calls/s  ({median / base:4.2f}x the time of spans only, "
                  f"median of {len(seconds[case])})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--prefill", type=int, default=50_000, help="spans stored before the cases (default 50,000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the three cases (default 3)")
    args = parser.parse_args()
    asyncio.run(_run(max(0, args.prefill), max(1, min(args.rounds, 20))))


if __name__ == "__main__":
    main()

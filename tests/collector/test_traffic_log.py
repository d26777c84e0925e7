"""The periodic traffic summary in the log of a real collector (logging.traffic_summary_s):
one line per interval while traffic flows, counting each request and span once (the lines are
deltas), with refusals by transport and code; no line while idle; none at all when off."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections import Counter
from pathlib import Path

import aiohttp

from tests.support.http import Api
from tests.support.otlp_client import JSON, post_otlp
from tests.support.server import CollectorProcess, start_collector_process

INTERVAL_S = 0.2
_LINE = re.compile(r"kate\.traffic: traffic in the last 0\.2 s: (?P<body>.*)$")
_PROTOCOL = re.compile(r"(?P<protocol>\w+) (?P<requests>[\d,]+) requests / (?P<spans>[\d,]+) spans")
_STORED = re.compile(r"\| stored (?P<spans>[\d,]+) spans")
_REFUSED = re.compile(r"\| refused [\d,]+ requests \((?P<codes>[^)]*)\)")


def summary_lines(collector: CollectorProcess) -> list[str]:
    return [match.group("body") for line in collector.log().splitlines() if (match := _LINE.search(line))]


def totals(lines: list[str]) -> Counter[str]:
    """The lines added up: "<protocol> requests", "<protocol> spans", "stored", "<transport> <code>"."""
    counted: Counter[str] = Counter()
    for line in lines:
        for match in _PROTOCOL.finditer(line):
            counted[f"{match['protocol']} requests"] += int(match["requests"].replace(",", ""))
            counted[f"{match['protocol']} spans"] += int(match["spans"].replace(",", ""))
        if stored := _STORED.search(line):
            counted["stored"] += int(stored["spans"].replace(",", ""))
        if refused := _REFUSED.search(line):
            for entry in refused["codes"].split(", "):
                *labels, count = entry.split(" ")
                counted[" ".join(labels)] += int(count)
    return counted


async def summed_until(collector: CollectorProcess, skip: int, expected: Counter[str]) -> Counter[str]:
    """Totals of the summary lines after the first `skip`, once they reach expected (20 s at most)."""
    deadline = time.monotonic() + 20
    while (counted := totals(summary_lines(collector)[skip:])) != expected and time.monotonic() < deadline:
        await asyncio.sleep(INTERVAL_S / 2)
    return counted


def otlp_body(trace_id: str, count: int) -> bytes:
    spans = [{"traceId": trace_id, "spanId": f"{index + 1:016x}", "name": f"step-{index}",
              "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000001000000000"}
             for index in range(count)]
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "traffic-agent"}}]}
    return json.dumps({"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": spans}]}]}).encode()


async def send_traffic(api: Api, otlp_spans: int, uploaded_spans: int) -> None:
    answer = await post_otlp(api.session, api.base_url, otlp_body(uuid.uuid4().hex, otlp_spans), content_type=JSON)
    assert answer.status == 200, answer.body
    run = await api.create_run("traffic-agent")
    spans = [{"node_name": f"upload-{index}"} for index in range(uploaded_spans)]
    uploaded = await api.call("POST", f"/agents/traffic-agent/runs/{run['id']}/spans", {"spans": spans})
    assert uploaded.status == 201, uploaded.text
    missing = await api.call("GET", f"/agents/traffic-agent/runs/{uuid.uuid4()}")
    assert missing.status == 404


async def test_traffic_is_summarised_per_interval_once_and_idle_intervals_say_nothing(tmp_path: Path) -> None:
    collector = start_collector_process(tmp_path / "kate.duckdb", config={"logging": {"traffic_summary_s": INTERVAL_S}})
    try:
        async with aiohttp.ClientSession() as session:
            api = Api(collector.base_url, session)
            await send_traffic(api, otlp_spans=2, uploaded_spans=3)
            first = await summed_until(collector, 0, Counter({
                "otlp_http requests": 1, "otlp_http spans": 2, "upload requests": 1, "upload spans": 3,
                "stored": 5, "http not_found": 1}))
            after_first = len(summary_lines(collector))
            idle_until = time.monotonic() + 5 * INTERVAL_S  # five idle intervals: no line may appear
            while time.monotonic() < idle_until:
                await asyncio.sleep(INTERVAL_S / 2)
            idle = summary_lines(collector)[after_first:]
            await send_traffic(api, otlp_spans=4, uploaded_spans=1)
            second = await summed_until(collector, after_first, Counter({
                "otlp_http requests": 1, "otlp_http spans": 4, "upload requests": 1, "upload spans": 1,
                "stored": 5, "http not_found": 1}))
    finally:
        collector.stop()

    assert first == Counter({"otlp_http requests": 1, "otlp_http spans": 2, "upload requests": 1, "upload spans": 3,
                             "stored": 5, "http not_found": 1}), summary_lines(collector)
    assert idle == []
    assert second == Counter({"otlp_http requests": 1, "otlp_http spans": 4, "upload requests": 1, "upload spans": 1,
                              "stored": 5, "http not_found": 1}), summary_lines(collector)


async def test_no_summary_when_it_is_off(tmp_path: Path) -> None:
    collector = start_collector_process(tmp_path / "kate.duckdb", config={"logging": {"traffic_summary_s": 0}})
    try:
        async with aiohttp.ClientSession() as session:
            await send_traffic(Api(collector.base_url, session), otlp_spans=2, uploaded_spans=1)
    finally:
        collector.stop()

    assert "kate.traffic" not in collector.log()

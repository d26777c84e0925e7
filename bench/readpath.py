"""The read path with millions of spans stored, measured through the collector's HTTP API.

Building that many spans through ingestion would take minutes, so the data set is written
straight into a DuckDB file with SQL generators (as docs/performance.md's DuckDB facts were measured), into the schema
Kate's own migrations created: 100 spans per run, ~50 runs interleaved in arrival order, random
(trace-id derived) run ids as OTLP gives them, ten agents. Then the collector is started on the
file and timed over HTTP. Bounded in count and time; loopback only.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import duckdb

from bench.collector import Collector, start_collector

SPANS_PER_RUN = 100
AGENTS = 10
RUN_SPANS_CALLS = 200
LIST_RUNS_CALLS = 200
VIEW_QUERY_CALLS = 3
TIME_BUDGET_S = 60.0
VIEW_QUERY = "SELECT * FROM model_usage_daily ORDER BY agent_id, day, model"

_RUN_ID = "md5('run-' || r)::UUID::VARCHAR"
_BUILD_RUNS = f"""
INSERT INTO runs (run_id, agent_id, status, trigger, source, created_at, started_at, completed_at)
SELECT {_RUN_ID}, 'agent-' || (r % {AGENTS}),
       'completed', 'automatic', 'otlp',
       TIMESTAMP '2026-01-01' + to_milliseconds(r), TIMESTAMP '2026-01-01' + to_milliseconds(r),
       TIMESTAMP '2026-01-01' + to_milliseconds(r + 50)
FROM range($runs) t(r)
"""
# Arrival order: blocks of 50 runs, each run's j-th span after every run's (j-1)-th.
_BUILD_SPANS = f"""
INSERT INTO spans (span_id, trace_id, parent_span_id, run_id, agent_id, node_name, span_kind,
                   input_text, output_text, model, latency_ms, token_count, input_tokens, output_tokens,
                   status_code, status_message, start_time_unix_nano, end_time_unix_nano,
                   attributes, resource, scope_name, events, truncated, received_at)
SELECT printf('%016x', i + 1),
       replace({_RUN_ID}, '-', ''),
       CASE WHEN j = 0 THEN NULL ELSE printf('%016x', i - (i % 5000) + (r % 50) + 1) END,
       {_RUN_ID}, 'agent-' || (r % {AGENTS}),
       CASE WHEN j = 0 THEN 'agent.run' WHEN j % 3 = 0 THEN 'search' ELSE 'ChatCompletion' END,
       CASE WHEN j = 0 THEN 'AGENT' WHEN j % 3 = 0 THEN 'TOOL' ELSE 'LLM' END,
       repeat(md5(i::VARCHAR || 'in'), $text_repeats), repeat(md5(i::VARCHAR || 'out'), $text_repeats),
       CASE WHEN j % 3 = 0 THEN NULL ELSE ['gpt-4o-mini', 'gpt-4o', 'claude-sonnet-4'][1 + i % 3] END,
       (i % 900) + 5.0, CASE WHEN j % 3 = 0 THEN NULL ELSE 300 + i % 2000 END,
       CASE WHEN j % 3 = 0 THEN NULL ELSE 250 + i % 1500 END,
       CASE WHEN j % 3 = 0 THEN NULL ELSE 50 + i % 500 END,
       CASE WHEN i % 97 = 0 THEN 'ERROR' ELSE 'OK' END, NULL,
       1767225600000000000 + i * 1000000, 1767225600000000000 + i * 1000000 + ((i % 900) + 5) * 1000000,
       '{{"session.id":"s-' || (i % 7) || '","llm.system":"openai"}}',
       '{{"service.name":"agent-' || (r % {AGENTS}) || '"}}', 'bench', '[]', false,
       TIMESTAMP '2026-01-01' + to_milliseconds(i // 100)
FROM (SELECT i, (i // 5000) * 50 + (i % 50) AS r, (i % 5000) // 50 AS j FROM range($spans) t(i))
"""


@dataclass(frozen=True)
class ReadResult:
    spans: int
    build_s: float
    disk_bytes: int
    run_spans_ms: list[float]
    list_runs_ms: list[float]
    view_query_ms: list[float]
    peak_rss_bytes: int


_COUNT_SPANS = """
UPDATE runs SET span_count = s.spans, total_tokens = s.tokens
FROM (SELECT run_id, count(*) AS spans, coalesce(sum(token_count), 0) AS tokens FROM spans GROUP BY run_id) AS s
WHERE runs.run_id = s.run_id
"""


def build(db_path: Path, spans: int, text_bytes: int, config: dict[str, Any] | None = None) -> float:
    """Create the file with Kate's schema (by starting the collector once), then fill it."""
    start_collector(db_path, config).stop()
    runs = spans // SPANS_PER_RUN
    started = time.perf_counter()
    connection = duckdb.connect(str(db_path))
    try:
        connection.execute(_BUILD_RUNS.replace("$runs", str(runs)))
        connection.execute(_BUILD_SPANS.replace("$spans", str(runs * SPANS_PER_RUN))
                           .replace("$text_repeats", str(max(1, text_bytes // 32))))
        connection.execute(_COUNT_SPANS)  # the counters the writer keeps when spans come in
        connection.execute("CHECKPOINT")
    finally:
        connection.close()
    return time.perf_counter() - started


async def _timed_get(session: aiohttp.ClientSession, url: str) -> float:
    started = time.perf_counter()
    async with session.get(url) as response:
        await response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {url} answered {response.status}")
    return (time.perf_counter() - started) * 1000


async def _timed_sql(session: aiohttp.ClientSession, url: str, sql: str) -> float:
    started = time.perf_counter()
    async with session.post(url, json={"sql": sql}) as response:
        await response.read()
        if response.status != 200:
            raise RuntimeError(f"/sql answered {response.status}: {await response.text()}")
    return (time.perf_counter() - started) * 1000


async def _measure(collector: Collector, runs: int) -> tuple[list[float], list[float], list[float]]:
    rng = random.Random(11)
    base = collector.base_url
    deadline = time.perf_counter() + TIME_BUDGET_S
    run_ids = duckdb_run_ids(runs, RUN_SPANS_CALLS, rng)
    async with aiohttp.ClientSession() as session:
        run_spans, list_runs, view = [], [], []
        for run_index, run_id in run_ids:
            if time.perf_counter() > deadline:
                break
            url = f"{base}/agents/agent-{run_index % AGENTS}/runs/{run_id}/spans?limit={SPANS_PER_RUN}"
            run_spans.append(await _timed_get(session, url))
        for _ in range(LIST_RUNS_CALLS):
            if time.perf_counter() > deadline:
                break
            list_runs.append(await _timed_get(session, f"{base}/agents/agent-{rng.randrange(AGENTS)}/runs"))
        for _ in range(VIEW_QUERY_CALLS):
            view.append(await _timed_sql(session, f"{base}/sql", VIEW_QUERY))
    return run_spans, list_runs, view


def duckdb_run_ids(runs: int, count: int, rng: random.Random) -> list[tuple[int, str]]:
    """(run index, run id) of `count` random runs, computed as the build SQL does."""
    picks = [rng.randrange(runs) for _ in range(count)]
    connection = duckdb.connect()
    try:
        rows = connection.execute(
            "SELECT r, md5('run-' || r)::UUID::VARCHAR FROM unnest(?::BIGINT[]) t(r)", [picks]
        ).fetchall()
    finally:
        connection.close()
    return [(int(index), str(run_id)) for index, run_id in rows]


def measure(folder: Path, spans: int, text_bytes: int, config: dict[str, Any] | None = None) -> ReadResult:
    """The read figures on a file of spans spans; config: the collector's (default when None)."""
    db_path = folder / "read.duckdb"
    build_s = build(db_path, spans, text_bytes, config)
    disk = db_path.stat().st_size
    collector = start_collector(db_path, config)
    try:
        run_spans, list_runs, view = asyncio.run(_measure(collector, spans // SPANS_PER_RUN))
        rss = collector.peak_rss_tree_bytes()
    finally:
        collector.stop()
    return ReadResult(spans, build_s, disk, run_spans, list_runs, view, rss)

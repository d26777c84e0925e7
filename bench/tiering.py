"""Would a hot/cold split of the spans table pay in DuckDB? The measurement behind that decision.

The idea (issue 14): ingestion appends to a hot table whose texts are stored uncompressed, and a
background compaction moves settled spans, in bounded slices, into a cold table that is
compressed and sorted by (agent, run, start), so that one run's rows are contiguous. This script
times the three parts on the same rows, produced by Kate's own decoder from the bench workload:

- today: Kate's `spans` table (compressed texts, primary key, run index), groups of 2,048 rows
  per transaction and a checkpoint every 16,384 rows, as the writer does under load;
- hot: the same columns with uncompressed texts, no key, the run index, plus a key-only table
  that keeps (trace_id, span_id) unique across both tiers (a retry must not store a span twice);
- compaction: the hot rows moved into the cold table in slices of 16,384 rows, sorted, one
  transaction per slice (crash-safe), a checkpoint after each;

then CPU per span of each (this process: Python and DuckDB's threads), file sizes, and one
run's spans read from a freshly opened file (today's table against the cold one).

    .venv/bin/python -m bench.tiering [requests]     # 200 requests of 512 spans by default

Prints figures only; bounded by the request count.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa
from kate.collector.ingest.decode_pool import decode_body
from kate.collector.ingest.wire import PROTOBUF
from kate.schema.record import SPAN_COLUMNS
from kate.schema.text import DEFAULT_MAX_TEXT_BYTES

from bench.ceiling import spans_ddl
from bench.workload import TraceFactory, otlp_request

GROUP_REQUESTS = 4  # 4 x 512 spans: what four senders commit per group
CHECKPOINT_EVERY = 8  # groups
SLICE_ROWS = 16_384
READS = 200
AGENTS = 4
_COLUMNS = ", ".join((*SPAN_COLUMNS, "received_at"))
_VALUES = ", ".join(SPAN_COLUMNS)


def tier_ddl(table: str, *, compressed: bool, keyed: bool) -> str:
    """Kate's spans table under another name, with its run index."""
    return f"{spans_ddl(table, keyed=keyed, compressed=compressed)}\nCREATE INDEX {table}_run ON {table} (run_id);"


def decoded_groups(requests: int) -> list[pa.Table]:
    factory, tables = TraceFactory(), []
    for index, spans in enumerate(factory.requests(requests)):
        batch = decode_body(otlp_request(spans, f"agent-{index % AGENTS}"), PROTOBUF, DEFAULT_MAX_TEXT_BYTES)
        tables.append(pa.ipc.open_stream(batch.spans.arrow_ipc).read_all())
    return [pa.concat_tables(tables[i:i + GROUP_REQUESTS]) for i in range(0, len(tables), GROUP_REQUESTS)]


def connect(path: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(path), config={"max_vacuum_tasks": 0})  # as the collector opens its file


def cpu_us_per_row(rows: int, work: Callable[[], None]) -> float:
    started = time.process_time()
    work()
    return (time.process_time() - started) / rows * 1e6


def ingest(connection: duckdb.DuckDBPyConnection, groups: list[pa.Table], table: str, *, keys: bool) -> None:
    for index, group in enumerate(groups):
        connection.register("incoming", group)
        connection.begin()
        if keys:
            connection.execute("INSERT INTO span_keys SELECT trace_id, span_id FROM incoming")
        connection.execute(f"INSERT INTO {table} ({_COLUMNS}) SELECT {_VALUES}, now()::TIMESTAMP FROM incoming")
        connection.commit()
        connection.unregister("incoming")
        if index % CHECKPOINT_EVERY == CHECKPOINT_EVERY - 1:
            connection.execute("CHECKPOINT")
    connection.execute("CHECKPOINT")


def compact(connection: duckdb.DuckDBPyConnection, max_slices: int) -> None:
    for _ in range(max_slices):
        connection.begin()
        rowids = [row[0] for row in connection.execute(f"SELECT rowid FROM spans_hot LIMIT {SLICE_ROWS}").fetchall()]
        if not rowids:
            connection.rollback()
            return
        chosen = "rowid IN (SELECT unnest(?::BIGINT[]))"
        connection.execute(f"INSERT INTO spans_cold ({_COLUMNS}) SELECT {_COLUMNS} FROM spans_hot WHERE {chosen}"
                           " ORDER BY agent_id, run_id, start_time_unix_nano", [rowids])
        connection.execute(f"DELETE FROM spans_hot WHERE {chosen}", [rowids])
        connection.commit()
        connection.execute("CHECKPOINT")


def read_ms(path: Path, table: str, run_ids: list[str]) -> tuple[float, float]:
    """p50 and p99 of reading one run's spans, from a freshly opened file."""
    connection = connect(path)
    timings = []
    for run_id in run_ids:
        started = time.perf_counter()
        connection.execute(f"SELECT * FROM {table} WHERE run_id = ? ORDER BY start_time_unix_nano", [run_id]).fetchall()
        timings.append((time.perf_counter() - started) * 1000)
    connection.close()
    timings.sort()
    return timings[len(timings) // 2], timings[min(len(timings) - 1, int(len(timings) * 0.99))]


def main(requests: int) -> None:
    groups = decoded_groups(requests)
    rows = sum(group.num_rows for group in groups)
    with tempfile.TemporaryDirectory(prefix="kate-tiering-") as folder:
        today, tiered = Path(folder, "today.duckdb"), Path(folder, "tiered.duckdb")
        connection = connect(today)
        connection.execute(tier_ddl("spans", compressed=True, keyed=True))
        today_us = cpu_us_per_row(rows, lambda: ingest(connection, groups, "spans", keys=False))
        run_ids = [row[0] for row in connection.execute("SELECT DISTINCT run_id FROM spans ORDER BY run_id").fetchall()]
        connection.close()
        today_bytes = os.path.getsize(today)

        connection = connect(tiered)
        connection.execute(tier_ddl("spans_hot", compressed=False, keyed=False))
        connection.execute(tier_ddl("spans_cold", compressed=True, keyed=False))
        connection.execute("CREATE TABLE span_keys (trace_id VARCHAR, span_id VARCHAR, PRIMARY KEY (trace_id, span_id))")
        hot_us = cpu_us_per_row(rows, lambda: ingest(connection, groups, "spans_hot", keys=True))
        hot_bytes = os.path.getsize(tiered)
        compaction_us = cpu_us_per_row(rows, lambda: compact(connection, rows // SLICE_ROWS + 2))
        connection.close()
        tiered_bytes = os.path.getsize(tiered)

        sample = random.Random(1).sample(run_ids, min(READS, len(run_ids)))
        today_read, cold_read = read_ms(today, "spans", sample), read_ms(tiered, "spans_cold", sample)

    print(f"{rows:,} spans ({requests} requests of 512, {AGENTS} agents); CPU per span of this process, "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    print(f"  today: compressed spans table, key and run index  {today_us:6.1f} µs   file {today_bytes / rows:6.0f} B/span")
    print(f"  hot:   uncompressed texts + key table             {hot_us:6.1f} µs   file {hot_bytes / rows:6.0f} B/span")
    print(f"  compaction into the sorted, compressed cold table {compaction_us:6.1f} µs   "
          f"file {tiered_bytes / rows:6.0f} B/span after it")
    print(f"  hot + compaction against today: {(hot_us + compaction_us) / today_us:.2f}x the CPU per span")
    print(f"  one run's spans, fresh file, p50 / p99: today {today_read[0]:.2f} / {today_read[1]:.2f} ms, "
          f"cold {cold_read[0]:.2f} / {cold_read[1]:.2f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)

"""The scale-out engine's shape: the same OTLP workload into one collector on a DuckDB file, one
collector on the local cluster (2 ClickHouse shards + PostgreSQL), and two collectors sharing it.

    .venv/bin/python -m bench.scale_out [requests]     # 60 requests of 512 spans by default

For each case: spans/s until every span is readable, ack p50/p99, and CPU per span, split into
the collectors (and their decode workers) and the servers (ClickHouse nodes, PostgreSQL). This
machine has two CPUs shared by everything, so the absolute rate says little about a real
deployment; what carries over is the CPU each span costs on each side, which sizes the
collectors and the servers (docs/deployment.md#sizing). Needs Debian's clickhouse-server and
PostgreSQL 15 (as `make cluster`); loopback only, bounded by the request count.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench.collector import Collector, start_collector, tree_cpu_seconds
from bench.ingest import Payloads, Senders, closed_loop, wait_visible
from bench.report import machine, percentile
from bench.workload import SPANS_PER_REQUEST, TraceFactory
from scripts.local_cluster import LocalCluster, missing_servers

SENDERS = 4
QUIET = {"evaluation": {"enabled": False}, "server": {"shutdown_timeout_s": 5}}


@dataclass
class Case:
    name: str
    spans: int
    seconds: float
    latencies_s: list[float]
    collector_cpu_s: float
    server_cpu_s: float

    def row(self) -> str:
        per_span = 1e6 / self.spans
        return (f"| {self.name} | {self.spans / self.seconds:,.0f} | {percentile(self.latencies_s, 0.50) * 1000:.0f}"
                f" / {percentile(self.latencies_s, 0.99) * 1000:.0f} | {self.collector_cpu_s * per_span:.0f}"
                f" | {self.server_cpu_s * per_span:.0f} | {(self.collector_cpu_s + self.server_cpu_s) * per_span:.0f} |")


def _server_pids(cluster: LocalCluster | None) -> list[int]:
    if cluster is None:
        return []
    pids = [node.process.pid for node in cluster.nodes if node.process is not None]
    assert cluster.postgres is not None
    pid_file = cluster.postgres.directory / "data" / "postmaster.pid"
    pids.append(int(pid_file.read_text(encoding="ascii").split()[0]))
    return pids


async def run_case(name: str, collectors: list[Collector], payloads: Payloads, requests: int,
                   cluster: LocalCluster | None) -> Case:
    """SENDERS closed-loop OTLP/HTTP senders spread evenly over the collectors."""
    connector = aiohttp.TCPConnector(limit=SENDERS * 2)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as session:
        pools = [Senders(collector, payloads, session) for collector in collectors]
        sends = [pools[index % len(pools)].otlp_http for index in range(SENDERS)]
        collector_pids = [collector.server.process.pid for collector in collectors]
        server_pids = _server_pids(cluster)
        collector_cpu, server_cpu = tree_cpu_seconds(collector_pids), tree_cpu_seconds(server_pids)
        started = time.perf_counter()
        latencies = await closed_loop(sends, requests)
        await wait_visible(session, collectors[0], requests * SPANS_PER_REQUEST)
        seconds = time.perf_counter() - started
        collector_cpu = tree_cpu_seconds(collector_pids) - collector_cpu
        server_cpu = tree_cpu_seconds(server_pids) - server_cpu
        for pool in pools:
            await pool.close()
    return Case(name, requests * SPANS_PER_REQUEST, seconds, latencies, collector_cpu, server_cpu)


def _start(folder: Path, count: int, cluster: LocalCluster | None, database: str) -> list[Collector]:
    folder.mkdir(parents=True, exist_ok=True)
    config: dict[str, object] = {**QUIET, "ingest": {"decode_workers": None}}  # the shipped default
    if cluster is not None:
        config["storage"] = cluster.storage_config(database)
    return [start_collector(folder / f"collector-{index}.duckdb", config) for index in range(count)]


def main(argv: list[str]) -> int:
    requests = int(argv[0]) if argv else 60
    missing = missing_servers()
    if missing:
        print("bench.scale_out needs " + ", ".join(missing), file=sys.stderr)
        return 1
    payloads = Payloads.build(list(TraceFactory().requests(min(requests, 32))))
    cases: list[Case] = []
    with tempfile.TemporaryDirectory(prefix="kate-scale-") as folder_name:
        folder = Path(folder_name)
        plans: list[tuple[str, int, bool]] = [("1 collector, DuckDB file", 1, False),
                                              ("1 collector, ClickHouse 2 shards + PostgreSQL", 1, True),
                                              ("2 collectors, ClickHouse 2 shards + PostgreSQL", 2, True)]
        cluster = LocalCluster.start(folder / "cluster", shards=2)
        try:
            for index, (name, count, on_cluster) in enumerate(plans):
                used = cluster if on_cluster else None
                collectors = _start(folder / f"case-{index}", count, used, f"bench_{index}")
                try:
                    print(f"[{time.strftime('%H:%M:%S')}] {name}", file=sys.stderr, flush=True)
                    cases.append(asyncio.run(run_case(name, collectors, payloads, requests, used)))
                finally:
                    for collector in collectors:
                        collector.stop()
        finally:
            cluster.stop()
    print(f"Scale-out shape, {requests} requests of {SPANS_PER_REQUEST} spans, {SENDERS} OTLP/HTTP senders")
    print(f"machine: {machine()}\n")
    print("| case | spans/s | ack p50 / p99 ms | collector CPU µs/span | servers CPU µs/span | total µs/span |")
    print("|---|---:|---:|---:|---:|---:|")
    for case in cases:
        print(case.row())
    single = cases[0]
    for case in cases[1:]:
        print(f"\n{case.name}: {case.spans / case.seconds / (single.spans / single.seconds):.2f}x the DuckDB rate,"
              f" {(case.collector_cpu_s + case.server_cpu_s) / max(single.collector_cpu_s, 1e-9):.2f}x its CPU per span")
    print(f"\nack latency spread (stdev, ms): {', '.join(f'{statistics.pstdev(c.latencies_s) * 1000:.0f}' for c in cases)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

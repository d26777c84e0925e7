"""`python -m bench`: Kate's benchmark suite (issue 6), one command, figures as a table.

Parts: the raw DuckDB append ceiling; OTLP/HTTP, OTLP/gRPC and JSON-upload ingestion at 1 and
4 senders through a real collector on 127.0.0.1; ack latency at half the maximum rate (while
DuckDB checkpoints); an overload burst (peak RSS with the queue full); the read path with
millions of spans stored; the agent-side cost of the exporter and the decorator. Each figure is
the median of several runs with min and max. Prints the table and writes bench/results/latest.md.
Bounded: every loop has a count and a time limit.

    python -m bench                 # everything (the read path builds 5 M spans: minutes)
    python -m bench --skip read     # without the read path
    python -m bench --quick         # small loads, one run each: a smoke test in seconds
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from bench import ceiling, halves, readpath
from bench.bench_exporter import decorator_cost_us, span_cost_us
from bench.collector import Collector, disk_bytes, start_collector
from bench.ingest import Payloads, SendResult, measure_case, paced
from bench.report import Figure, machine, markdown_table, percentile, text_table
from bench.workload import SPANS_PER_REQUEST, SPANS_PER_RUN, TraceFactory

T = TypeVar("T")
PARTS = ("ceiling", "ingest", "latency", "overload", "read", "agent")
PROTOCOLS = {"http": "OTLP/HTTP protobuf", "grpc": "OTLP/gRPC", "upload": "JSON upload"}
SENDERS = (1, 4)
OVERLOAD_SENDERS = 16
RESULTS = Path(__file__).parent / "results" / "latest.md"
HALVES_SECTION = "Attribution: decoding and writing the same requests measured apart"
STAGE_LABELS = {"parse": "protobuf parse", "decode": "spans and attributes out of protobuf",
                 "map": "mapping, run linkage and cost (schema.mapping)", "arrow": "Arrow encoding"}
assert tuple(STAGE_LABELS) == halves.DECODE_STAGES


@dataclass(frozen=True)
class Settings:
    repeats: int
    requests: int  # per ingestion case
    pool: int  # distinct request bodies (ids are refreshed per send)
    paced_s: float
    read_spans: int
    read_text_bytes: int
    agent_calls: int
    parts: frozenset[str]
    output: Path | None
    compress_text: bool  # storage.compress_text of every file the suite creates


def _settings(argv: list[str] | None) -> Settings:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small loads and one run each (seconds)")
    parser.add_argument("--repeats", type=int, help="runs per figure (default 3; quick 1)")
    parser.add_argument("--requests", type=int, help="512-span requests per ingestion run (default 100; quick 6)")
    parser.add_argument("--paced-seconds", type=float, help="length of the half-rate run (default 20; quick 2)")
    parser.add_argument("--read-spans", type=int, help="spans stored for the read path (default 5,000,000)")
    parser.add_argument("--read-text-bytes", type=int, default=256, help="input and output text per stored span (default 256)")
    parser.add_argument("--skip", default="", help=f"comma-separated parts to skip: {', '.join(PARTS)}")
    parser.add_argument("--only", default="", help="comma-separated parts to run (default: all)")
    parser.add_argument("--output", type=Path, default=RESULTS, help="markdown results (default bench/results/latest.md)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--uncompressed-text", action="store_true",
                        help="create every file with storage.compress_text: false (texts stored uncompressed)")
    args = parser.parse_args(argv)
    chosen = set(args.only.split(",")) - {""} or set(PARTS)
    unknown = (chosen | set(args.skip.split(","))) - set(PARTS) - {""}
    if unknown:
        parser.error(f"unknown part(s) {', '.join(sorted(unknown))}; parts are {', '.join(PARTS)}")
    quick = args.quick
    return Settings(
        repeats=args.repeats or (1 if quick else 3),
        requests=args.requests or (6 if quick else 100),
        pool=2 if quick else 16,
        paced_s=args.paced_seconds or (2.0 if quick else 20.0),
        read_spans=args.read_spans or (20_000 if quick else 5_000_000),
        read_text_bytes=args.read_text_bytes,
        agent_calls=2_000 if quick else 20_000,
        parts=frozenset(chosen - set(args.skip.split(","))),
        output=None if args.no_write else args.output,
        compress_text=not args.uncompressed_text,
    )


def _with_collector(
    fn: Callable[[Collector], Coroutine[Any, Any, T]], config: dict[str, Any] | None = None
) -> tuple[T, int, Collector]:
    """Run fn against a fresh collector on a fresh file (default configuration unless given);
    (its result, bytes on disk after a clean stop, the stopped collector)."""
    with tempfile.TemporaryDirectory(prefix="kate-bench-") as folder:
        collector = start_collector(Path(folder) / "kate.duckdb", config)
        try:
            result = asyncio.run(fn(collector))
        except BaseException:
            print(collector.log_tail(), file=sys.stderr)
            raise
        finally:
            collector.stop()
        return result, disk_bytes(collector.db_path), collector


class Suite:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.figures: dict[str, Figure] = {}
        self.rss: list[float] = []
        started = time.perf_counter()
        self.payloads = Payloads.build(list(TraceFactory().requests(settings.pool)))
        self.payload_s = time.perf_counter() - started

    def figure(self, key: str, section: str, name: str, unit: str, **kwargs: Any) -> Figure:
        if key not in self.figures:
            self.figures[key] = Figure(section, name, unit, **kwargs)
        return self.figures[key]

    def log(self, message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    def collector_config(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """The configuration every collector of the suite starts with, plus extra sections."""
        config: dict[str, Any] = {"storage": {"compress_text": self.settings.compress_text}}
        return {**config, **(extra or {})}

    def with_collector(self, fn: Callable[[Collector], Coroutine[Any, Any, T]],
                       extra: dict[str, Any] | None = None) -> tuple[T, int, Collector]:
        return _with_collector(fn, self.collector_config(extra))

    # ---- parts ---------------------------------------------------------------------------

    def run_ceiling(self, rows: list[tuple[Any, ...]]) -> None:
        result = ceiling.measure(rows, compress_text=self.settings.compress_text)
        section = "Raw DuckDB append ceiling (same rows, same run)"
        self.figure("ceiling", section, "Kate's spans table (key + run index), fastest of Appender and Arrow INSERT",
                    "rows/s").samples.append(result.kate_table_rows_per_s)
        self.figure("ceiling_plain", section, "Appender into a plain table (no key, no index), one txn, reference",
                    "rows/s").samples.append(result.plain_table_rows_per_s)
        self.log(f"ceiling {result.kate_table_rows_per_s:,.0f} rows/s (plain {result.plain_table_rows_per_s:,.0f})")

    def run_ingest(self, protocol: str, senders: int) -> None:
        requests = self.settings.requests
        result, disk, _ = self.with_collector(lambda c: measure_case(c, self.payloads, protocol, senders, requests))
        self._ingest_figures(protocol, senders, result, disk)
        if (protocol, senders) == ("http", 4):
            self.figure("cpu", "Resources", "collector CPU per span, OTLP/HTTP 4 senders (all processes)",
                        "µs", target="<= 60", meets=lambda v: v <= 60).samples.append(result.extra["cpu_s"] / result.spans * 1e6)

    def run_ingest_without_evaluation(self) -> None:
        """Attribution: the same OTLP/HTTP case with automatic evaluation off (its admission
        writes one more transaction per request and two statements per completed run)."""
        requests = self.settings.requests
        result, _, _ = self.with_collector(
            lambda c: measure_case(c, self.payloads, "http", 4, requests), {"evaluation": {"enabled": False}})
        section = "Ingestion: spans/s from the first request until all are visible through the API"
        self.figure("http4_noeval", section, "OTLP/HTTP protobuf, 4 senders, evaluation off (attribution)",
                    "spans/s").samples.append(result.spans_per_s)
        self.log(f"OTLP/HTTP 4 senders without evaluation: {result.spans_per_s:,.0f} spans/s")

    def run_halves(self) -> None:
        """Attribution: decoding and writing the same requests measured apart (bench/halves.py)."""
        result = halves.measure(self.payloads, self.settings.requests, submitters=4,
                                compress_text=self.settings.compress_text)
        section = HALVES_SECTION
        self.figure("decode_cpu", section, "decode: parse, map and Arrow-encode, CPU per span (one core)",
                    "µs").samples.append(result.decode_cpu_us_per_span)
        for stage, label in STAGE_LABELS.items():
            self.figure(f"decode_{stage}", section, f"  decode stage: {label}", "µs").samples.append(
                result.stage_cpu_us_per_span[stage])
        self.figure("writer4", section, "writer alone: decoded batches through Kate's sink and writer, 4 submitters",
                    "spans/s").samples.append(result.writer_spans_per_s)
        self.figure("writer_cpu", section, "writer alone: CPU per span (writer and DuckDB threads)",
                    "µs").samples.append(result.writer_cpu_us_per_span)
        self.log(f"halves: decode {result.decode_cpu_us_per_span:.0f} µs CPU/span; writer alone "
                 f"{result.writer_spans_per_s:,.0f} spans/s at {result.writer_cpu_us_per_span:.0f} µs CPU/span")

    def _ingest_figures(self, protocol: str, senders: int, result: SendResult, disk: int) -> None:
        section = "Ingestion: spans/s from the first request until all are visible through the API"
        label = f"{PROTOCOLS[protocol]}, {senders} sender{'s' if senders > 1 else ''}"
        key = f"{protocol}{senders}"
        target, meets = "", None
        if senders == 4 and protocol in ("http", "grpc"):
            target, meets = ">= 30,000", (lambda value: value >= 30_000)
        elif senders == 4:
            target, meets = ">= 20,000", (lambda value: value >= 20_000)
        self.figure(key, section, label, "spans/s", target=target, meets=meets).samples.append(result.spans_per_s)
        self.figure(f"{key}_p50", section, f"  ack p50 ({label})", "ms").samples.append(
            percentile(result.ack_latencies_s, 0.50) * 1000)
        self.figure(f"{key}_p99", section, f"  ack p99 ({label})", "ms").samples.append(
            percentile(result.ack_latencies_s, 0.99) * 1000)
        self.figure("disk", "Resources", "Bytes on disk per span (after a clean stop)", "B/span",
                    target="<= 1,400", meets=lambda v: v <= 1400).samples.append(
            disk / result.spans)
        self.rss.append(result.peak_rss_bytes)
        retries = f", {result.retries} retried" if result.retries else ""
        self.log(f"{label}: {result.spans_per_s:,.0f} spans/s, ack p99 "
                 f"{percentile(result.ack_latencies_s, 0.99) * 1000:.0f} ms{retries}")

    def run_paced(self, spans_per_s: float) -> None:
        result, _, _ = self.with_collector(lambda c: paced(c, self.payloads, spans_per_s, self.settings.paced_s))
        section = f"Ack latency at half the maximum rate (OTLP/HTTP, open loop, {spans_per_s:,.0f} spans/s)"
        latencies = result.ack_latencies_s
        self.figure("paced_p50", section, "ack p50", "ms").samples.append(percentile(latencies, 0.5) * 1000)
        self.figure("paced_p99", section, "ack p99", "ms", target="< 250",
                    meets=lambda value: value < 250).samples.append(percentile(latencies, 0.99) * 1000)
        self.figure("paced_max", section, "ack max", "ms").samples.append(max(latencies) * 1000)
        self.figure("paced_ckpt", section, "DuckDB checkpoints during the run", "count").samples.append(
            result.extra["checkpoints"])
        self.rss.append(result.peak_rss_bytes)
        self.log(f"paced {spans_per_s:,.0f} spans/s: p99 {percentile(latencies, 0.99) * 1000:.0f} ms, "
                 f"max {max(latencies) * 1000:.0f} ms, {result.extra['checkpoints']:.0f} checkpoints")

    def run_overload(self) -> None:
        requests = 2 * self.settings.requests
        result, _, _ = self.with_collector(
            lambda c: measure_case(c, self.payloads, "http", OVERLOAD_SENDERS, requests))
        section = f"Overload: {OVERLOAD_SENDERS} OTLP/HTTP senders, 503 + Retry-After honoured"
        self.figure("over", section, "stored", "spans/s").samples.append(result.spans_per_s)
        self.figure("over_retries", section, "requests answered 503 and retried", "count").samples.append(
            result.retries)
        self.figure("over_p99", section, "ack p99", "ms").samples.append(
            percentile(result.ack_latencies_s, 0.99) * 1000)
        self.rss.append(result.peak_rss_bytes)
        self.log(f"overload: {result.spans_per_s:,.0f} spans/s, {result.retries} retried, "
                 f"RSS {result.peak_rss_bytes / 2**20:,.0f} MiB")

    def run_read(self) -> None:
        settings = self.settings
        with tempfile.TemporaryDirectory(prefix="kate-bench-read-") as folder:
            self.log(f"read path: building {settings.read_spans:,} spans in DuckDB")
            result = readpath.measure(Path(folder), settings.read_spans, settings.read_text_bytes,
                                      self.collector_config())
        section = (f"Read path via the HTTP API, {result.spans:,} spans stored ({readpath.SPANS_PER_RUN} per run, "
                   f"{settings.read_text_bytes} B texts; built in {result.build_s:.0f} s)")
        rounds = max(1, settings.repeats)
        for key, name, values, target, meets in (
            ("run_spans", "one run's spans (100), GET .../runs/{id}/spans", result.run_spans_ms,
             ("< 5", "< 15"), (lambda v: v < 5, lambda v: v < 15)),
            ("list_runs", "listing runs, GET /agents/{id}/runs", result.list_runs_ms,
             ("< 5", ""), (lambda v: v < 5, None)),
        ):
            chunks = [values[i::rounds] for i in range(rounds)]
            for fraction, label, goal, check in ((0.5, "p50", target[0], meets[0]), (0.99, "p99", target[1], meets[1])):
                figure = self.figure(f"{key}_{label}", section, f"{name} {label}", "ms", target=goal, meets=check)
                figure.samples.extend(percentile(chunk, fraction) for chunk in chunks if chunk)
        self.figure("view", section, f"analysis view: {readpath.VIEW_QUERY}", "ms").samples.extend(
            result.view_query_ms)
        self.figure("read_disk", section, "file size per stored span", "B/span").samples.append(
            result.disk_bytes / result.spans)
        self.rss.append(result.peak_rss_bytes)
        self.log(f"read path: run spans p50 {statistics.median(result.run_spans_ms):.1f} ms, "
                 f"list runs p50 {statistics.median(result.list_runs_ms):.1f} ms")

    def run_agent(self) -> None:
        section = "Agent side (application thread)"
        calls = self.settings.agent_calls
        bare_us, kate_us = span_cost_us(calls, rounds=3)
        _, traced_us, _ = decorator_cost_us(calls, rounds=3)
        self.figure("exporter", section, "exporter cost per span (Kate pipeline minus bare SDK)", "µs",
                    target="< 20", meets=lambda v: v < 20).samples.append(kate_us - bare_us)
        self.figure("decorator", section, "@trace per call (span, attributes, export hand-off)", "µs",
                    target="<= 25", meets=lambda v: v <= 25).samples.append(traced_us)

    def finish_resources(self) -> None:
        if self.rss:
            self.figure("rss", "Resources", "collector peak RSS (VmHWM), any case", "MiB", target="< 1,024",
                        meets=lambda v: v < 1024).samples.append(max(self.rss) / 2**20)

    def cpu_bound_limit(self) -> None:
        """What the collector's measured CPU per span allows on this machine's CPUs at best."""
        cpu = self.figures.get("cpu")
        if cpu is None or not cpu.samples:
            return
        cpus = os.cpu_count() or 1
        self.figure("cpu_limit", HALVES_SECTION, f"end-to-end limit if all {cpus} CPUs did nothing else: "
                    "CPUs / collector CPU per span (OTLP/HTTP, 4 senders)", "spans/s").samples.extend(
            cpus / (us * 1e-6) for us in cpu.samples)

    def ratios(self) -> None:
        ceiling_figure = self.figures.get("ceiling")
        if ceiling_figure is None or not ceiling_figure.samples:
            return
        for key, figure in self.figures.items():
            if figure.unit == "spans/s" and key not in ("over", "http4_noeval", "cpu_limit"):
                figure.ratio = figure.median / ceiling_figure.median


def run(settings: Settings) -> Suite:
    suite = Suite(settings)
    parts = settings.parts
    suite.log(f"workload: {settings.pool} distinct requests of {SPANS_PER_REQUEST} spans built in "
              f"{suite.payload_s:.1f} s; {settings.repeats} run(s) per figure")
    rows = ceiling.kate_rows(suite.payloads, settings.requests * SPANS_PER_REQUEST) if "ceiling" in parts else []
    for repeat in range(settings.repeats):
        suite.log(f"run {repeat + 1} of {settings.repeats}")
        if "ceiling" in parts:
            suite.run_ceiling(rows)
        if "ingest" in parts:
            for protocol in PROTOCOLS:
                for senders in SENDERS:
                    suite.run_ingest(protocol, senders)
            suite.run_ingest_without_evaluation()
            suite.run_halves()
    rows.clear()
    max_rate = suite.figures["http4"].median if "http4" in suite.figures else 10_000.0
    for _ in range(settings.repeats if "latency" in parts else 0):
        suite.run_paced(max_rate / 2)
    for _ in range(settings.repeats if "overload" in parts else 0):
        suite.run_overload()
    if "read" in parts:
        suite.run_read()
    for _ in range(settings.repeats if "agent" in parts else 0):
        suite.run_agent()
    suite.finish_resources()
    suite.cpu_bound_limit()
    suite.ratios()
    return suite


def _order(suite: Suite) -> list[Figure]:
    sections: dict[str, list[Figure]] = {}
    for figure in suite.figures.values():
        sections.setdefault(figure.section, []).append(figure)
    resources = sections.pop("Resources", [])
    return [figure for figures in sections.values() for figure in figures] + resources


def _markdown(suite: Suite, figures: list[Figure], command: str, machine_line: str, elapsed_s: float) -> str:
    settings = suite.settings
    return "\n".join([
        "# Kate benchmark: latest results",
        "",
        f"Command: `{command}` ({dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {elapsed_s / 60:.1f} min)",
        "",
        f"Machine: {machine_line}. Shared and noisy: compare ratios measured in the same run.",
        "",
        f"Workload: requests of {SPANS_PER_REQUEST} spans; runs of {SPANS_PER_RUN} spans (a root AGENT span, "
        "LLM and TOOL children) alternating OpenInference and OTel GenAI attributes; ~1 KB input and ~1 KB "
        f"output text of varied words per span; {settings.requests} requests per ingestion run; median [min, max] "
        f"of {settings.repeats} run(s); a fresh collector and file for every run; span texts stored "
        f"{'compressed (the default)' if settings.compress_text else 'uncompressed (storage.compress_text: false)'}.",
        "",
        markdown_table(figures),
        "",
    ])


def main(argv: list[str] | None = None) -> int:
    settings = _settings(argv)
    started = time.perf_counter()
    machine_line = machine()
    suite = run(settings)
    figures = _order(suite)
    command = "python -m bench " + " ".join(sys.argv[1:] if argv is None else argv)
    print(f"\nKate benchmark: {command.strip()}\nmachine: {machine_line}\n")
    print(text_table(figures))
    if settings.output is not None:
        settings.output.parent.mkdir(parents=True, exist_ok=True)
        settings.output.write_text(_markdown(suite, figures, command.strip(), machine_line,
                                             time.perf_counter() - started), encoding="utf-8")
        print(f"\nwritten: {settings.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

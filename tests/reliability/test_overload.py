"""Overload, bounded version (bench/overload_test.py is the long one): 32 senders that never pause
against a write queue of 8 requests / 4 MiB. Refusals come quickly with a retry hint, memory
stays bounded, and the stock OTel exporters (default settings) deliver every span."""

from __future__ import annotations

from pathlib import Path

from tests.reliability.overload import MIB, run_overload

MAX_RSS_GROWTH_BYTES = 300 * MIB  # queue (4 MiB) + in-flight bodies and their decoding, far below unbounded


async def test_overload_is_refused_fast_in_bounded_memory_and_stock_exporters_lose_nothing(tmp_path: Path) -> None:
    report = await run_overload(tmp_path / "kate.duckdb", blast_s=3.0, calibrate_s=1.0)
    answers = report.blast_ledger.answers
    assert report.blast_ledger.refused > 0, answers
    assert answers["http:503"] > 0 and answers["grpc:UNAVAILABLE"] > 0, answers
    assert not any(key.split(":")[1] in ("500", "INTERNAL", "UNKNOWN", "error") for key in answers), answers
    assert report.refusals_without_hint == 0  # Retry-After (HTTP), RetryInfo trailer (gRPC)
    assert report.refusal_ms(0.99) < 5000  # refused well inside the stock exporters' 10 s budget
    assert report.peak_rss_bytes - report.baseline_rss_bytes < MAX_RSS_GROWTH_BYTES
    assert report.stock_delivered == report.stock_sent
    assert sum(report.stock_failed_exports.values()) == 0

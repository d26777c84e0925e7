"""Overload test: many senders that never pause push the collector past what it can commit,
while stock OTel exporters (default BatchSpanProcessor, OTLP HTTP and gRPC exporters) send their
own spans; then the load drops and the exporters flush.

    .venv/bin/python bench/overload_test.py [--blast-s 10] [--senders 32]

Prints peak RSS, refused requests, refusal latency, offered / accepted / sustainable rates and
delivered / sent of the stock exporters. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.reliability.overload import MIB, run_overload  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blast-s", type=float, default=10.0)
    parser.add_argument("--senders", type=int, default=32)
    parser.add_argument("--queue-max-mib", type=int, default=4)
    parser.add_argument("--queue-max-items", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kate-overload-") as folder:
        report = asyncio.run(run_overload(Path(folder) / "kate.duckdb", queue_max_bytes=args.queue_max_mib * MIB,
                                          queue_max_items=args.queue_max_items, blast_senders=args.senders,
                                          blast_s=args.blast_s))
    ledger = report.blast_ledger
    print(f"sustainable (1 sender): {report.sustainable_spans_per_s:,.0f} spans/s")
    print(f"offered during blast:   {report.offered_spans_per_s:,.0f} spans/s "
          f"(attempts, {args.senders} senders, {report.blast_s:.1f} s)")
    print(f"accepted during blast:  {report.accepted_spans_per_s:,.0f} spans/s")
    print(f"refused requests:       {ledger.refused} of {sum(ledger.answers.values())} "
          f"({dict(sorted(ledger.answers.items()))}); without a retry hint: {report.refusals_without_hint}")
    print(f"time to refusal:        p50 {report.median_refusal_ms():.0f} ms, p99 {report.refusal_ms(0.99):.0f} ms")
    print(f"RSS:                    baseline {report.baseline_rss_bytes / MIB:.0f} MiB, "
          f"peak (VmHWM) {report.peak_rss_bytes / MIB:.0f} MiB (queue bound {args.queue_max_mib} MiB)")
    for agent, sent in report.stock_sent.items():
        print(f"stock exporter {agent}: delivered {report.stock_delivered[agent]} / sent {sent}, "
              f"failed exports {report.stock_failed_exports[agent]}")
    ok = report.stock_delivered == report.stock_sent and report.refusals_without_hint == 0
    print("RESULT:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Crash test: SIGKILL `kate serve` again and again under OTLP/HTTP, OTLP/gRPC and JSON-upload
traffic, some kills while a checkpoint writes the file, then check that every acknowledged span
is stored exactly once and that the file opens cleanly.

    .venv/bin/python bench/crash_test.py [--kills 12] [--checkpoint-kills 5] [--seed 7]

Loopback only; the DuckDB file lives in a temporary folder. Prints the figures docs/reliability.md quotes.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.reliability.crash import run_crash_test  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=12)
    parser.add_argument("--checkpoint-kills", type=int, default=5)
    parser.add_argument("--wal-autocheckpoint-kib", type=int, default=1024)
    parser.add_argument("--senders-per-kind", type=int, default=2)
    parser.add_argument("--max-run-s", type=float, default=4.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kate-crash-") as folder:
        started = time.monotonic()
        report = asyncio.run(run_crash_test(
            Path(folder) / "kate.duckdb", kills=args.kills, checkpoint_kills=args.checkpoint_kills,
            threshold_bytes=args.wal_autocheckpoint_kib * 1024, seed=args.seed,
            senders_per_kind=args.senders_per_kind, max_run_s=args.max_run_s))
        elapsed = time.monotonic() - started
    check = report.check
    assert check is not None
    print(f"kills survived:          {report.kills} ({report.kills_at_checkpoint} during a checkpoint; "
          f"WAL bytes at those kills: {report.wal_bytes_at_checkpoint_kills})")
    print(f"restarts on the file:    {report.restarts + 1}")
    print(f"torn checkpoints repaired (DuckDB 2.0.1 in-place metadata write, `kate repair`): {report.repairs}")
    print(f"spans sent:              {report.ledger.sent_spans}")
    print(f"spans acknowledged:      {check.acked}")
    print(f"spans stored:            {check.stored} (unacknowledged requests may have committed before a kill)")
    print(f"acknowledged but lost:   {check.missing}")
    print(f"stored more than once:   {check.duplicates}")
    print(f"answers:                 {dict(sorted(report.ledger.answers.items()))}")
    print(f"elapsed:                 {elapsed:.1f} s")
    ok = check.missing == 0 and check.duplicates == 0 and report.kills == args.kills
    print("RESULT:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

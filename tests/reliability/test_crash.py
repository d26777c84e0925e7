"""Crash safety, short version (bench/crash_test.py is the long one): SIGKILL under OTLP/HTTP,
OTLP/gRPC and upload traffic, once while a checkpoint writes the file; every acknowledged span
is stored exactly once and the file opens (after `kate repair` when a kill tore DuckDB's in-place
metadata write: see crash.py)."""

from __future__ import annotations

from pathlib import Path

from tests.reliability.crash import CrashReport, run_crash_test, start_or_repair
from tests.support.torn_checkpoint import torn_checkpoint_file

THRESHOLD_BYTES = 512 * 1024  # storage.wal_autocheckpoint: small, so checkpoints come often


async def test_acknowledged_spans_survive_sigkills_including_one_during_a_checkpoint(tmp_path: Path) -> None:
    report = await run_crash_test(tmp_path / "kate.duckdb", kills=3, checkpoint_kills=1,
                                  threshold_bytes=THRESHOLD_BYTES, max_run_s=1.5)
    assert report.kills == 3 and report.kills_at_checkpoint == 1
    assert report.check is not None
    assert report.check.acked > 0 and report.check.missing == 0 and report.check.duplicates == 0
    assert report.check.stored >= report.check.acked  # unacknowledged requests may have committed too
    assert {key.split(":")[0] for key, n in report.ledger.answers.items() if key.endswith((":200", ":201", ":OK"))} \
        == {"http", "grpc", "upload"}


def test_the_harness_repairs_a_torn_checkpoint_as_the_readme_says_and_counts_it(tmp_path: Path) -> None:
    torn = torn_checkpoint_file(tmp_path, torn_pages=1)
    report = CrashReport()

    process = start_or_repair(torn, THRESHOLD_BYTES, report)

    assert process.stop() == 0, process.log()[-2000:]
    assert report.repairs == 1

"""SIGKILL the collector under sustained traffic, again and again, on the same file.

Each round starts `kate serve` on the file, runs OTLP/HTTP, OTLP/gRPC and JSON-upload senders,
and kills the process with SIGKILL either at a random moment or while the writer checkpoints
(the first write to the main file after the round started: only checkpoints write it). Afterwards the file
must open and hold every acknowledged span exactly once. A kill in the middle of DuckDB 2.0.1's
in-place metadata write leaves a file DuckDB refuses ("Corrupt database file: computed
checksum"); the collector then refuses to start, and the harness does what the README tells a
user to do: `kate repair` (counted in the report, and the file must still hold every span).
Shared by the suite's short version and bench/crash_test.py.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from kate.collector.store.duckdb.repair import repair

from tests.reliability.traffic import KINDS, Ledger, StoredCheck, Target, check_file, sender
from tests.support.server import CollectorProcess, start_collector_process

AGENTS = {kind: f"crash-{kind}" for kind in KINDS}


def crash_config(wal_autocheckpoint_bytes: int) -> dict[str, object]:
    return {
        "storage": {"wal_autocheckpoint": f"{wal_autocheckpoint_bytes // 1024}KiB"},
        "api": {"upload_rate_limit_per_minute": 1_000_000},
        "evaluation": {"enabled": False},
        "server": {"shutdown_timeout_s": 2},
    }


@dataclass
class CrashReport:
    kills: int = 0
    kills_at_checkpoint: int = 0  # killed while a checkpoint was writing the main file
    repairs: int = 0  # starts refused for a torn checkpoint, and repaired with kate repair
    restarts: int = 0
    ledger: Ledger = field(default_factory=Ledger)
    check: StoredCheck | None = None
    wal_bytes_at_checkpoint_kills: list[int] = field(default_factory=list)


def _wal_bytes(db_path: Path) -> int:
    try:
        return os.stat(f"{db_path}.wal").st_size
    except FileNotFoundError:
        return 0


def _file_state(db_path: Path) -> tuple[int, int]:
    stat = os.stat(db_path)
    return stat.st_size, stat.st_mtime_ns


def _kill_in_checkpoint(process: CollectorProcess, db_path: Path, deadline_s: float) -> int | None:
    """Kill the moment the main file changes: between checkpoints only the WAL is written, so a
    write to the file itself is a checkpoint under way (DuckDB checkpoints in the committing call
    once the WAL would pass wal_autocheckpoint). Returns the WAL size at the kill, None on timeout.
    Runs in a thread, polling every ~0.2 ms, so the kill lands within the checkpoint."""
    before, deadline = _file_state(db_path), time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if _file_state(db_path) != before:
            os.kill(process.process.pid, signal.SIGKILL)
            wal_bytes = _wal_bytes(db_path)
            process.process.wait(timeout=20)
            return wal_bytes
        time.sleep(0.0002)
    return None


def start_or_repair(db_path: Path, threshold_bytes: int, report: CrashReport) -> CollectorProcess:
    """Start the collector on the file; when it refuses a torn checkpoint, repair and start again."""
    try:
        return start_collector_process(db_path, config=crash_config(threshold_bytes))
    except RuntimeError as exc:
        if "kate repair" not in str(exc):
            raise
    repair(db_path)
    report.repairs += 1
    return start_collector_process(db_path, config=crash_config(threshold_bytes))


def _sigkill(process: CollectorProcess) -> None:
    os.kill(process.process.pid, signal.SIGKILL)  # at once: no wait before the signal
    process.process.wait(timeout=20)


async def crash_round(db_path: Path, report: CrashReport, rng: random.Random, *, at_checkpoint: bool,
                      threshold_bytes: int, senders_per_kind: int = 1, max_run_s: float = 3.0) -> None:
    process = await asyncio.to_thread(start_or_repair, db_path, threshold_bytes, report)
    report.restarts += 1
    assert process.grpc_port is not None
    target, stop = Target(process.base_url, process.grpc_port), asyncio.Event()
    tasks = [asyncio.create_task(sender(kind, target, AGENTS[kind], report.ledger, stop, seed=rng.randrange(2**32)))
             for kind in KINDS for _ in range(senders_per_kind)]
    try:
        wal_bytes = None
        if at_checkpoint:
            wal_bytes = await asyncio.to_thread(_kill_in_checkpoint, process, db_path, 6 * max_run_s)
        if wal_bytes is not None:
            report.kills_at_checkpoint += 1
            report.wal_bytes_at_checkpoint_kills.append(wal_bytes)
        else:
            await asyncio.sleep(rng.uniform(0.3, max_run_s))  # a random moment, by design
            _sigkill(process)
        report.kills += 1
    finally:
        stop.set()
        if process.process.poll() is None:
            process.kill()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)


async def run_crash_test(db_path: Path, *, kills: int, checkpoint_kills: int, threshold_bytes: int,
                         seed: int = 7, senders_per_kind: int = 1, max_run_s: float = 3.0) -> CrashReport:
    """`kills` SIGKILLs, `checkpoint_kills` of them aimed at a checkpoint; then a clean start and
    stop, and the file checked against the ledger."""
    rng, report = random.Random(seed), CrashReport()
    at_checkpoint = [True] * checkpoint_kills + [False] * (kills - checkpoint_kills)
    rng.shuffle(at_checkpoint)
    for aimed in at_checkpoint:
        await crash_round(db_path, report, rng, at_checkpoint=aimed, threshold_bytes=threshold_bytes,
                          senders_per_kind=senders_per_kind, max_run_s=max_run_s)
    final = await asyncio.to_thread(start_or_repair, db_path, threshold_bytes, report)
    assert final.stop() == 0, final.log()[-2000:]  # opens (WAL replay, migrations) and closes cleanly
    report.check = check_file(db_path, list(AGENTS.values()), report.ledger)
    return report

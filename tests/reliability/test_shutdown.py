"""SIGTERM under load: the queue drains and commits before exit; every in-flight request is either
acknowledged and stored or refused with a retryable answer; a restart under load loses nothing."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from tests.reliability.crash import AGENTS, crash_config
from tests.reliability.traffic import KINDS, Ledger, Target, check_file, sender
from tests.support.server import start_collector_process

# error: connection closed or refused. CANCELLED: grpc.aio cancels a call still running when the
# stop grace ends; OTLP lists it among the retryable codes, and the span was not acknowledged.
RETRYABLE_OR_OK = {"200", "201", "OK", "503", "429", "UNAVAILABLE", "CANCELLED", "error"}


async def _sigterm_under_load(db_path: Path, ledger: Ledger) -> str:
    process = await asyncio.to_thread(start_collector_process, db_path, config=crash_config(64 * 1024 * 1024))
    assert process.grpc_port is not None
    target, stop = Target(process.base_url, process.grpc_port), asyncio.Event()
    tasks = [asyncio.create_task(sender(kind, target, AGENTS[kind], ledger, stop, seed=index))
             for index, kind in enumerate(KINDS * 2)]
    acked_before, deadline = len(ledger.acked), asyncio.get_running_loop().time() + 30
    while len(ledger.acked) < acked_before + 500:  # traffic is flowing: wait for acknowledgements
        assert asyncio.get_running_loop().time() < deadline, ledger.answers
        await asyncio.sleep(0.01)
    process.process.send_signal(signal.SIGTERM)
    exit_code = await asyncio.to_thread(process.process.wait, 30)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)
    assert exit_code == 0, process.log()[-3000:]
    return process.log()


async def test_sigterm_under_load_commits_every_acknowledged_span_and_a_restart_loses_nothing(tmp_path: Path) -> None:
    db_path, ledger = tmp_path / "kate.duckdb", Ledger()
    first_log = await _sigterm_under_load(db_path, ledger)
    second_log = await _sigterm_under_load(db_path, ledger)  # the restart, under load again

    answers = {key.split(":")[1] for key in ledger.answers}
    assert answers <= RETRYABLE_OR_OK, ledger.answers
    for log in (first_log, second_log):
        assert "shutting down" in log and log.rstrip().endswith("stopped")
        assert "unhandled error" not in log and " ERROR " not in log
    assert not Path(f"{db_path}.wal").exists()  # closed cleanly: checkpointed, no WAL left
    check = check_file(db_path, list(AGENTS.values()), ledger)
    assert check.acked > 1000 and check.missing == 0 and check.duplicates == 0

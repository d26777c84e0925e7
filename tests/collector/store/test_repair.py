"""`kate repair` on files torn the way a SIGKILL during a checkpoint tears them (DuckDB 2.0.1).

The torn file is made from two real states of one database, not by flipping bytes: A is the
file after a checkpoint plus a WAL of later commits (what is on disk while the collector runs);
B is the same data after the next checkpoint. That checkpoint rewrote a metadata block of A in
place, and a kill during that one write leaves B's first pages (with B's checksum) over A's
rest: the file below. DuckDB then refuses it with "Corrupt database file: computed checksum".
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from kate.collector.config import StorageConfig
from kate.collector.errors import StoreUnavailable
from kate.collector.store.database import Database, connect
from kate.collector.store.migrate import apply_migrations
from kate.collector.store.repair import RepairRefused, repair, torn_block

BLOCK_BYTES = 256 * 1024  # DuckDB's default block size
FIRST_BLOCK = 3 * 4096  # after the main header and the two database headers
PAGE = 4096  # a kill stops a write at a page boundary
EXPECTED = {"runs": 120, "spans": 600}


def _fill(connection: duckdb.DuckDBPyConnection, prefix: str, runs: int) -> None:
    connection.execute(
        "INSERT INTO runs (run_id, agent_id, status, trigger, source, created_at)"
        " SELECT ? || i, 'agent', 'running', 'automatic', 'otlp', now() FROM range(?) t(i)", [prefix, runs])
    connection.execute(
        "INSERT INTO spans (span_id, trace_id, run_id, agent_id, node_name, span_kind, input_text, status_code,"
        " attributes, truncated, received_at)"
        " SELECT printf('%016x', i), md5(? || (i // 5)), ? || (i // 5), 'agent', 'llm', 'LLM',"
        " repeat('words of input ', 20), 'OK', '{\"k\": 1}', false, now() FROM range(?) t(i)",
        [prefix, prefix, runs * 5])


def _copy(source: Path, target: Path) -> Path:
    shutil.copyfile(source, target)
    wal = source.with_name(source.name + ".wal")
    if wal.exists():
        shutil.copyfile(wal, target.with_name(target.name + ".wal"))
    return target


def _torn_file(folder: Path, torn_pages: int) -> Path:
    live = folder / "live.duckdb"
    connection = duckdb.connect(str(live), config={"max_vacuum_tasks": 0})
    apply_migrations(connection)
    _fill(connection, "first-", 50)
    connection.execute("CHECKPOINT")
    _fill(connection, "second-", 70)  # committed: in the WAL only
    connection.execute("UPDATE runs SET status = 'completed' WHERE run_id LIKE 'first-1%'")
    state_a = _copy(live, folder / "a.duckdb")  # the files as a kill would leave them now
    connection.close()
    state_b = _copy(state_a, folder / "b.duckdb")
    duckdb.connect(str(state_b)).execute("CHECKPOINT").close()

    torn = _copy(state_a, folder / "kate.duckdb")
    bytes_a, bytes_b = state_a.read_bytes(), state_b.read_bytes()
    rewritten = next(offset for offset in range(FIRST_BLOCK, len(bytes_a) - BLOCK_BYTES + 1, BLOCK_BYTES)
                     if bytes_a[offset : offset + BLOCK_BYTES] != bytes_b[offset : offset + BLOCK_BYTES])
    with open(torn, "r+b") as file:  # the first pages of the in-place write landed, the rest did not
        file.seek(rewritten)
        file.write(bytes_b[rewritten : rewritten + torn_pages * PAGE])
    return torn


def _counts(path: Path) -> dict[str, int]:
    connection = duckdb.connect(str(path), read_only=True)
    try:
        return {table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in EXPECTED}
    finally:
        connection.close()


@pytest.mark.parametrize("torn_pages", [1, 12])
def test_a_torn_checkpoint_is_repaired_with_every_committed_row(tmp_path: Path, torn_pages: int) -> None:
    torn = _torn_file(tmp_path, torn_pages)
    with pytest.raises(duckdb.Error) as refused:
        duckdb.connect(str(torn), read_only=True)
    assert torn_block(refused.value) is not None, refused.value
    before = torn.read_bytes()

    report = repair(torn)

    assert report.repaired and len(report.patched_locations) == 1
    assert report.rows_by_table["runs"] == EXPECTED["runs"] and report.rows_by_table["spans"] == EXPECTED["spans"]
    assert _counts(torn) == EXPECTED
    assert not torn.with_name(torn.name + ".wal").exists()  # merged by a clean checkpoint
    assert report.backup is not None and report.backup.read_bytes() == before  # the file as it was
    connection = duckdb.connect(str(torn), read_only=True)
    completed = connection.execute("SELECT count(*) FROM runs WHERE status = 'completed'").fetchone()[0]
    connection.close()
    assert completed == 11  # first-1 and first-10 .. first-19: the UPDATE in the WAL survived


def test_the_collector_refuses_a_torn_file_with_the_repair_command_in_its_message(tmp_path: Path) -> None:
    torn = _torn_file(tmp_path, 1)
    with pytest.raises(StoreUnavailable, match="kate repair --db"):
        connect(torn, StorageConfig())


def test_the_collector_repairs_at_start_only_when_configured(tmp_path: Path) -> None:
    torn = _torn_file(tmp_path, 1)
    with pytest.raises(StoreUnavailable, match="storage.repair_on_start"):
        Database(torn, StorageConfig()).open()

    database = Database(torn, StorageConfig(repair_on_start=True))
    database.open()
    database.close()

    assert _counts(torn) == EXPECTED
    assert len(list(tmp_path.glob("kate.duckdb.before-repair-*"))) == 2


def test_kate_repair_command_repairs_then_finds_nothing_to_do(tmp_path: Path) -> None:
    torn = _torn_file(tmp_path, 1)

    def kate_repair() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "kate.collector", "repair", "--db", str(torn)],
                              capture_output=True, text=True, timeout=120, cwd=tmp_path)

    first, second = kate_repair(), kate_repair()

    assert first.returncode == 0, first.stderr
    assert "torn during a checkpoint" in first.stdout
    assert "runs 120," in first.stdout and "spans 600" in first.stdout
    assert second.returncode == 0, second.stderr
    assert "nothing to repair" in second.stdout
    assert len(list(tmp_path.glob("kate.duckdb.before-repair-*"))) == 2  # the file and its WAL


def test_other_damage_is_left_alone(tmp_path: Path) -> None:
    damaged = tmp_path / "kate.duckdb"
    damaged.write_bytes(b"not a database" * 1000)
    before = damaged.read_bytes()

    with pytest.raises(RepairRefused, match="not because of a torn checkpoint"):
        repair(damaged)
    assert damaged.read_bytes() == before
    assert not list(tmp_path.glob("*.before-repair-*"))


def test_a_file_in_use_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "kate.duckdb"
    script = ("import duckdb, sys; c = duckdb.connect(sys.argv[1]); c.execute('CREATE TABLE t (i INT)');"
              " print('open', flush=True); sys.stdin.read()")
    holder = subprocess.Popen([sys.executable, "-c", script, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        with pytest.raises(RepairRefused, match="in use by another process"):
            repair(path)
    finally:
        holder.communicate("", timeout=60)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RepairRefused, match="does not exist"):
        repair(tmp_path / "absent.duckdb")

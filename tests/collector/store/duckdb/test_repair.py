"""`kate repair` and storage.repair_on_start on files torn the way a SIGKILL during a checkpoint
tears them (DuckDB 2.0.1; how the torn file is made: tests/support/torn_checkpoint.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from kate.collector.config import StorageConfig
from kate.collector.errors import StoreUnavailable
from kate.collector.store.duckdb.database import Database, connect
from kate.collector.store.duckdb.repair import RepairRefused, repair, torn_block

from tests.support.torn_checkpoint import COMPLETED_IN_WAL, ROWS, torn_checkpoint_file


def _counts(path: Path) -> dict[str, int]:
    connection = duckdb.connect(str(path), read_only=True)
    try:
        return {table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in ROWS}
    finally:
        connection.close()


@pytest.mark.parametrize("torn_pages", [1, 12])
def test_a_torn_checkpoint_is_repaired_with_every_committed_row(tmp_path: Path, torn_pages: int) -> None:
    torn = torn_checkpoint_file(tmp_path, torn_pages)
    with pytest.raises(duckdb.Error) as refused:
        duckdb.connect(str(torn), read_only=True)
    assert torn_block(refused.value) is not None, refused.value
    before = torn.read_bytes()

    report = repair(torn)

    assert report.repaired and len(report.patched_locations) == 1
    assert report.rows_by_table["runs"] == ROWS["runs"] and report.rows_by_table["spans"] == ROWS["spans"]
    assert _counts(torn) == ROWS
    assert not torn.with_name(torn.name + ".wal").exists()  # merged by a clean checkpoint
    assert report.backup is not None and report.backup.read_bytes() == before  # the file as it was
    connection = duckdb.connect(str(torn), read_only=True)
    completed = connection.execute("SELECT count(*) FROM runs WHERE status = 'completed'").fetchone()[0]
    connection.close()
    assert completed == COMPLETED_IN_WAL  # the UPDATE that only the WAL held survived


def test_the_collector_refuses_a_torn_file_with_the_repair_command_in_its_message(tmp_path: Path) -> None:
    torn = torn_checkpoint_file(tmp_path, 1)
    with pytest.raises(StoreUnavailable, match="kate repair --db"):
        connect(torn, StorageConfig())


def test_the_collector_repairs_at_start_only_when_configured(tmp_path: Path) -> None:
    torn = torn_checkpoint_file(tmp_path, 1)
    with pytest.raises(StoreUnavailable, match="storage.repair_on_start"):
        Database(torn, StorageConfig()).open()

    database = Database(torn, StorageConfig(repair_on_start=True))
    database.open()
    database.close()

    assert _counts(torn) == ROWS
    assert len(list(tmp_path.glob("kate.duckdb.before-repair-*"))) == 2


def test_kate_repair_command_repairs_then_finds_nothing_to_do(tmp_path: Path) -> None:
    torn = torn_checkpoint_file(tmp_path, 1)

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

"""A DuckDB file torn the way a SIGKILL during a checkpoint tears it (DuckDB 2.0.1).

Made from two real states of one database, not by flipping bytes: A is the file after a
checkpoint plus a WAL of later commits (what is on disk while the collector runs); B is the
same data after the next checkpoint. That checkpoint rewrote a metadata block of A in place,
and a kill during that one write leaves B's first pages (with B's checksum) over A's rest.
DuckDB then refuses the file with "Corrupt database file: computed checksum".
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
from kate.collector.store.duckdb.migrate import apply_migrations

BLOCK_BYTES = 256 * 1024  # DuckDB's default block size
FIRST_BLOCK = 3 * 4096  # after the main header and the two database headers
PAGE = 4096  # a kill stops a write at a page boundary
ROWS = {"runs": 120, "spans": 600}  # what the torn file holds, WAL included
COMPLETED_IN_WAL = 11  # runs first-1 and first-10 .. first-19, completed by an UPDATE only the WAL holds


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


def torn_checkpoint_file(folder: Path, torn_pages: int) -> Path:
    """folder/kate.duckdb (and its WAL), torn after torn_pages pages of the in-place write."""
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

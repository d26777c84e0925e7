"""The SQL of retention (docs/operations.md#retention): which finished runs are due, how big the
data is, and deleting whole runs with everything that belongs to them.

A run is deleted only when finished (completed or failed) and not being evaluated; queued and
running runs, and runs whose evaluation is pending, are never touched. The pass that calls
these lives in collector/retention/pruner.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import duckdb
from kate.collector.store.duckdb.genai_logs import delete_records_of_spans
from kate.collector.store.duckdb.writer import WriteTxn
from kate.collector.store.values import DataSize, Deleted, DueRun

# When a run finished, for its age; runs without a completion time are not finished.
_FINISHED = "status IN ('completed', 'failed') AND evaluation_status IS DISTINCT FROM 'pending'"
_FINISHED_AT = "coalesce(completed_at, created_at)"


def expired_runs(cursor: duckdb.DuckDBPyConnection, default_cutoff: dt.datetime | None,
                 cutoff_by_agent: Mapping[str, dt.datetime | None], limit: int) -> list[DueRun]:
    """Finished runs that finished before their agent's cutoff (None: kept forever), oldest first."""
    agents = list(cutoff_by_agent)
    rows = cursor.execute(
        f"SELECT r.run_id, r.agent_id, {_FINISHED_AT} AS finished_at, r.span_count FROM runs r"
        " LEFT JOIN (SELECT unnest(?::VARCHAR[]) AS agent_id, unnest(?::TIMESTAMP[]) AS cutoff) o"
        " ON o.agent_id = r.agent_id"
        f" WHERE {_FINISHED} AND {_FINISHED_AT} < CASE WHEN o.agent_id IS NULL THEN ?::TIMESTAMP ELSE o.cutoff END"
        " ORDER BY finished_at, r.run_id LIMIT ?",
        [agents, [cutoff_by_agent[agent] for agent in agents], default_cutoff, limit],
    ).fetchall()
    return [DueRun(*row) for row in rows]


def oldest_runs(cursor: duckdb.DuckDBPyConnection, limit: int, after: tuple[dt.datetime, str] | None = None) -> list[DueRun]:
    """Finished runs oldest first (after the given (finished_at, run_id)): what a byte cap takes first."""
    where, params = _FINISHED, list[object]()
    if after is not None:
        where += f" AND ({_FINISHED_AT}, run_id) > (?, ?)"
        params = [after[0], after[1]]
    rows = cursor.execute(
        f"SELECT run_id, agent_id, {_FINISHED_AT} AS finished_at, span_count FROM runs WHERE {where}"
        " ORDER BY finished_at, run_id LIMIT ?",
        [*params, limit],
    ).fetchall()
    return [DueRun(*row) for row in rows]


def data_size(cursor: duckdb.DuckDBPyConnection) -> DataSize:
    ((block_size, total_blocks, used_blocks, wal_size),) = cursor.execute(
        "SELECT block_size, total_blocks, used_blocks, wal_size FROM pragma_database_size()"
        " WHERE database_name = current_database()"
    ).fetchall()
    ((spans,),) = cursor.execute("SELECT count(*) FROM spans").fetchall()
    wal_bytes = _bytes(wal_size)
    return DataSize(int(used_blocks) * int(block_size) + wal_bytes, int(total_blocks) * int(block_size), int(spans))


def _bytes(text: object) -> int:
    """DuckDB's human-readable size ("1.2 MiB", "0 bytes") as bytes (approximately)."""
    number, _, unit = str(text).strip().partition(" ")
    scale = {"bytes": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4,
             "KB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4}.get(unit.strip(), 1)
    try:
        return int(float(number) * scale)
    except ValueError:
        return 0


def delete_runs(txn: WriteTxn, run_ids: Sequence[str]) -> Deleted:
    """Delete these runs, if still finished and not being evaluated, with their spans (and the
    GenAI log records of those spans), evaluations, jobs and job leases, in the caller's transaction."""
    if not run_ids:
        return Deleted()
    ids = [row[0] for row in txn.execute(
        f"SELECT run_id FROM runs WHERE run_id IN (SELECT unnest(?::VARCHAR[])) AND {_FINISHED}", [list(run_ids)])]
    if not ids:
        return Deleted()
    chosen = "run_id IN (SELECT unnest(?::VARCHAR[]))"
    delete_records_of_spans(txn, chosen, [ids])  # the GenAI log records folded into those spans
    spans = _count(txn.execute(f"DELETE FROM spans WHERE {chosen}", [ids]))
    evaluations = _count(txn.execute(f"DELETE FROM evaluations WHERE {chosen}", [ids]))
    txn.execute(f"DELETE FROM job_leases WHERE job_id IN (SELECT job_id FROM jobs WHERE {chosen})", [ids])
    jobs = _count(txn.execute(f"DELETE FROM jobs WHERE {chosen}", [ids]))
    runs = _count(txn.execute(f"DELETE FROM runs WHERE {chosen}", [ids]))
    return Deleted(runs, spans, evaluations, jobs)


def _count(rows: list[tuple[object, ...]]) -> int:
    return int(rows[0][0]) if rows and isinstance(rows[0][0], int) else 0

"""Retention on the control store (docs/operations.md#retention): which finished runs are due,
and deleting them with their evaluations and jobs. The rules are the DuckDB engine's
(store/duckdb/retention.py): a run is deleted only when finished and not being evaluated."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from kate.collector.store.postgres.database import ControlTxn
from kate.collector.store.values import Deleted

_FINISHED = "status IN ('completed', 'failed') AND evaluation_status IS DISTINCT FROM 'pending'"
_FINISHED_AT = "coalesce(completed_at, created_at)"


def expired_runs(txn: ControlTxn, default_cutoff: dt.datetime | None, cutoff_by_agent: Mapping[str, dt.datetime | None],
                 limit: int) -> list[tuple[str, str, dt.datetime]]:
    """(run_id, agent_id, finished_at) of finished runs past their agent's cutoff, oldest first."""
    agents = list(cutoff_by_agent)
    return [(run_id, agent_id, finished) for run_id, agent_id, finished in txn.execute(
        f"SELECT r.run_id, r.agent_id, {_FINISHED_AT} AS finished_at FROM runs r"
        " LEFT JOIN unnest(%s::text[], %s::timestamp[]) AS o (agent_id, cutoff) ON o.agent_id = r.agent_id"
        f" WHERE {_FINISHED} AND {_FINISHED_AT} < CASE WHEN o.agent_id IS NULL THEN %s::timestamp ELSE o.cutoff END"
        " ORDER BY finished_at, r.run_id LIMIT %s",
        [agents, [cutoff_by_agent[agent] for agent in agents], default_cutoff, limit])]


def oldest_runs(txn: ControlTxn, limit: int, after: tuple[dt.datetime, str] | None) -> list[tuple[str, str, dt.datetime]]:
    where, params = _FINISHED, list[object]()
    if after is not None:
        where += f" AND ({_FINISHED_AT}, run_id) > (%s, %s)"
        params = [after[0], after[1]]
    return [(run_id, agent_id, finished) for run_id, agent_id, finished in txn.execute(
        f"SELECT run_id, agent_id, {_FINISHED_AT} AS finished_at FROM runs WHERE {where}"
        " ORDER BY finished_at, run_id LIMIT %s", [*params, limit])]


def still_finished(txn: ControlTxn, run_ids: Sequence[str]) -> list[str]:
    """The runs among run_ids that are still finished, locked until the transaction ends."""
    return [row[0] for row in txn.execute(
        f"SELECT run_id FROM runs WHERE run_id = ANY(%s) AND {_FINISHED} ORDER BY run_id FOR UPDATE", [list(run_ids)])]


def delete_runs(txn: ControlTxn, run_ids: Sequence[str]) -> Deleted:
    """Delete these runs (locked by still_finished) with their evaluations and jobs."""
    if not run_ids:
        return Deleted()
    ids = [list(run_ids)]
    evaluations = len(txn.execute("DELETE FROM evaluations WHERE run_id = ANY(%s) RETURNING 1", ids))
    jobs = len(txn.execute("DELETE FROM jobs WHERE run_id = ANY(%s) RETURNING 1", ids))
    runs = len(txn.execute("DELETE FROM runs WHERE run_id = ANY(%s) RETURNING 1", ids))
    return Deleted(runs, 0, evaluations, jobs)


def database_bytes(txn: ControlTxn) -> int:
    ((size,),) = txn.execute("SELECT pg_database_size(current_database())")
    return int(size)

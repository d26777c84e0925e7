"""Runs in DuckDB: write ops for the writer thread and reads for the API.

Write ops take a WriteTxn and run inside the writer's transaction; reads take a cursor. The
single writer makes check-then-write race-free. No HTTP here: errors are KateErrors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
from kate.collector.errors import DuplicateRun, NotFound, RunNotRunning
from kate.collector.store.duckdb.pages import decode_cursor, dict_rows, encode_cursor
from kate.collector.store.duckdb.writer import WriteTxn
from kate.collector.store.run_filters import run_filter_conditions
from kate.collector.store.span_batch import RunSpanStats
from kate.collector.store.values import NewRun, Page, RunFilter, RunStatus, StoredRun, utc_now


def find_runs(txn: WriteTxn, run_ids: Sequence[str]) -> dict[str, StoredRun]:
    """The stored runs among run_ids, whichever agent they belong to (run ids are global)."""
    if not run_ids:
        return {}
    rows = txn.execute(
        "SELECT run_id, agent_id, status, source FROM runs WHERE run_id IN (SELECT unnest(?::VARCHAR[]))", [list(run_ids)]
    )
    return {row[0]: StoredRun(row[1], row[2], row[3]) for row in rows}


def find_run_status(txn: WriteTxn, agent_id: str, run_id: str) -> str | None:
    rows = txn.execute(
        "SELECT status FROM runs WHERE run_id = ? AND agent_id = ?", [run_id, agent_id]
    )
    return str(rows[0][0]) if rows else None


def insert_run(txn: WriteTxn, run: NewRun) -> None:
    """Create a run; DuplicateRun when the id exists (for any agent: run ids are global)."""
    exists = txn.execute("SELECT 1 FROM runs WHERE run_id = ?", [run.run_id])
    if exists:
        raise DuplicateRun(f"run {run.run_id} already exists")
    now = utc_now()
    started_at = now if run.status is RunStatus.RUNNING else None
    txn.execute(
        "INSERT INTO runs (run_id, agent_id, status, trigger, source, created_at, started_at, user_input,"
        " session_id, user_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [run.run_id, run.agent_id, run.status.value, run.trigger.value, run.source.value, now, started_at, run.user_input,
         run.session_id, run.user_id],
    )


def require_status(txn: WriteTxn, agent_id: str, run_id: str, allowed: frozenset[RunStatus], doing: str) -> None:
    """NotFound unless this agent has the run; RunNotRunning unless its status is allowed."""
    status = find_run_status(txn, agent_id, run_id)
    if status is None:
        raise NotFound(f"run {run_id} of agent {agent_id} not found")
    if RunStatus(status) not in allowed:
        expected = " or ".join(sorted(s.value for s in allowed))
        raise RunNotRunning(f"run {run_id} is {status}, not {expected}; cannot {doing}")


_RUNNING = frozenset({RunStatus.RUNNING})


def complete_run(txn: WriteTxn, agent_id: str, run_id: str) -> None:
    """running → completed with completed_at now; NotFound or RunNotRunning otherwise."""
    require_status(txn, agent_id, run_id, _RUNNING, "complete it")
    txn.execute("UPDATE runs SET status = 'completed', completed_at = ? WHERE run_id = ?", [utc_now(), run_id])


def fail_run(txn: WriteTxn, agent_id: str, run_id: str, error: str | None) -> None:
    """queued or running → failed with the error text; NotFound or RunNotRunning otherwise."""
    require_status(txn, agent_id, run_id, frozenset({RunStatus.QUEUED, RunStatus.RUNNING}), "fail it")
    txn.execute(
        "UPDATE runs SET status = 'failed', completed_at = ?, error = ? WHERE run_id = ?", [utc_now(), error, run_id]
    )


def add_span_stats(txn: WriteTxn, stats_by_run: Mapping[str, RunSpanStats]) -> None:
    """Add spans just stored to their (existing) runs' span_count, total_tokens and
    total_cost_usd; a run without a session or user id takes the spans' first."""
    if not stats_by_run:
        return
    stats = list(stats_by_run.values())
    txn.execute(
        "UPDATE runs SET span_count = span_count + s.spans, total_tokens = total_tokens + s.tokens,"
        " total_cost_usd = CASE WHEN s.cost IS NULL THEN total_cost_usd ELSE coalesce(total_cost_usd, 0) + s.cost END,"
        " session_id = coalesce(runs.session_id, s.session_id), user_id = coalesce(runs.user_id, s.user_id)"
        " FROM (SELECT unnest(?::VARCHAR[]) AS run_id, unnest(?::BIGINT[]) AS spans, unnest(?::BIGINT[]) AS tokens,"
        " unnest(?::DOUBLE[]) AS cost, unnest(?::VARCHAR[]) AS session_id, unnest(?::VARCHAR[]) AS user_id) AS s"
        " WHERE runs.run_id = s.run_id",
        [list(stats_by_run), [item.spans for item in stats], [item.tokens for item in stats],
         [item.cost_usd for item in stats], [item.session_id for item in stats], [item.user_id for item in stats]],
    )


def recount_span_stats(txn: WriteTxn, run_ids: Sequence[str]) -> None:
    """Set the runs' counters from their stored spans: after an insert that ignored spans stored
    before (an OTLP retry), adding the batch's counts would have counted those twice."""
    txn.execute(
        "UPDATE runs SET span_count = c.spans, total_tokens = c.tokens, total_cost_usd = c.cost,"
        " session_id = coalesce(runs.session_id, c.session_id), user_id = coalesce(runs.user_id, c.user_id)"
        " FROM (SELECT run_id, count(*) AS spans, coalesce(sum(token_count), 0) AS tokens, sum(cost_usd) AS cost,"
        " arg_min(session_id, start_time_unix_nano) FILTER (WHERE session_id IS NOT NULL) AS session_id,"
        " arg_min(user_id, start_time_unix_nano) FILTER (WHERE user_id IS NOT NULL) AS user_id FROM spans"
        " WHERE run_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY run_id) AS c"
        " WHERE runs.run_id = c.run_id",
        [list(run_ids)],
    )


def require_running(txn: WriteTxn, agent_id: str, run_id: str) -> None:
    require_status(txn, agent_id, run_id, _RUNNING, "upload spans to it")


def span_count_of_run(cursor: duckdb.DuckDBPyConnection, agent_id: str, run_id: str) -> int:
    """The run's span count (the counter the writer keeps); NotFound unless this agent has the
    run. One primary-key look-up, nothing attached."""
    found = cursor.execute("SELECT agent_id, span_count FROM runs WHERE run_id = ?", [run_id]).fetchall()
    _check_agent(found, agent_id, run_id)
    return int(found[0][1])


def check_running(cursor: duckdb.DuckDBPyConnection, agent_id: str, run_id: str) -> None:
    """Before an upload is charged to the run's rate limit: NotFound unless this agent has the
    run, RunNotRunning unless it is running. A read: the write checks again (require_running)."""
    found = cursor.execute("SELECT agent_id, status FROM runs WHERE run_id = ?", [run_id]).fetchall()
    _check_agent(found, agent_id, run_id)
    if found[0][1] != RunStatus.RUNNING.value:
        raise RunNotRunning(f"run {run_id} is {found[0][1]}, not running; cannot upload spans to it")


def get_run(cursor: duckdb.DuckDBPyConnection, agent_id: str, run_id: str) -> dict[str, Any]:
    """The AgentRunResponse of one run, with span_count, total_tokens and scores; NotFound if absent."""
    rows = dict_rows(cursor.execute("SELECT * FROM api_runs WHERE id = ?", [run_id]))
    _check_agent([(row["agent_id"],) for row in rows], agent_id, run_id)
    _attach_details(cursor, rows)
    return rows[0]


def _check_agent(found: list[tuple[Any, ...]], agent_id: str, run_id: str) -> None:
    # The agent is compared here, not in SQL: DuckDB uses the primary-key index only when the
    # key is the sole filter (with `AND agent_id = ?` it scans every run).
    if not found or found[0][0] != agent_id:
        raise NotFound(f"run {run_id} of agent {agent_id} not found")


def list_runs(
    cursor: duckdb.DuckDBPyConnection, agent_id: str, filters: RunFilter, limit: int, after: str | None
) -> Page:
    """Runs of an agent, newest first, `limit` per page after the opaque cursor `after`."""
    conditions, values = run_filter_conditions(filters, "?")
    return run_page(cursor, ["agent_id = ?", *conditions], [agent_id, *values], limit, after, newest_first=True)


def run_page(cursor: duckdb.DuckDBPyConnection, where: list[str], params: list[Any], limit: int,
             after: str | None, *, newest_first: bool) -> Page:
    """A page of the runs matching `where`, by (created_at, run_id), after the opaque cursor."""
    if after is not None:
        created_us, last_id = decode_cursor(after, (int, str))
        beyond = "<" if newest_first else ">"
        where = [*where, f"(epoch_us(created_at) {beyond} ? OR (epoch_us(created_at) = ? AND run_id {beyond} ?))"]
        params = [*params, created_us, created_us, last_id]
    direction = "DESC" if newest_first else "ASC"
    # The page's keys from runs first, then api_runs for those ids only: joining the view to
    # runs before the LIMIT formatted every run of the table (10 against 3 + 4 ms at 50 k runs).
    keys = cursor.execute(
        f"SELECT run_id, epoch_us(created_at) FROM runs WHERE {' AND '.join(where)}"
        f" ORDER BY created_at {direction}, run_id {direction} LIMIT ?",
        [*params, limit + 1],
    ).fetchall()
    next_cursor = encode_cursor((keys[limit - 1][1], keys[limit - 1][0])) if len(keys) > limit else None
    return Page(items=api_runs(cursor, [run_id for run_id, _ in keys[:limit]]), next_cursor=next_cursor)


def api_runs(cursor: duckdb.DuckDBPyConnection, ids: Sequence[str]) -> list[dict[str, Any]]:
    """The API's run objects of these run ids, in their order (ids of no run are left out)."""
    by_id = {row["id"]: row for row in dict_rows(cursor.execute("SELECT * FROM api_runs WHERE id = ANY(?::VARCHAR[])",
                                                                [list(ids)]))}
    rows = [by_id[run_id] for run_id in ids if run_id in by_id]
    _attach_details(cursor, rows)
    return rows


def _attach_details(cursor: duckdb.DuckDBPyConnection, runs: list[dict[str, Any]]) -> None:
    """The latest evaluation's scores of these runs only (span_count and total_tokens are
    columns of runs, kept by the writer)."""
    if not runs:
        return
    scores = cursor.execute(_SCORES, [[run["id"] for run in runs]]).fetchall()
    scores_by_id = {row[0]: row[1] for row in scores}
    for run in runs:
        run["scores"] = scores_by_id.get(run["id"], [])


# The latest evaluation's per-evaluator scores (score null: that evaluator failed; reason says why).
_SCORES = """
SELECT e.run_id,
       list({'evaluator': e.evaluator, 'score': e.score, 'weight': e.weight, 'reason': e.reason} ORDER BY e.evaluator)
FROM evaluations e JOIN runs r ON r.run_id = e.run_id AND e.evaluation_id = r.evaluation_id
WHERE e.run_id IN (SELECT unnest(?::VARCHAR[]))
GROUP BY e.run_id
"""

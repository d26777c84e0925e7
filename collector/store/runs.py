"""Runs in DuckDB: write ops for the writer thread and reads for the API.

Write ops take a WriteTxn and run inside the writer's transaction; reads take a cursor. The
single writer makes check-then-write race-free. No HTTP here: errors are KateErrors.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import Any

import duckdb

from kate.collector.errors import DuplicateRun, NotFound, RunNotRunning
from kate.collector.store.pages import Page, decode_cursor, dict_rows, encode_cursor
from kate.collector.store.writer import WriteTxn


class RunStatus(str, enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class RunTrigger(str, enum.Enum):
    MANUAL = "manual"
    AUTOMATIC = "automatic"
    TEST = "test"


class RunSource(str, enum.Enum):
    API = "api"
    OTLP = "otlp"
    HOSTED = "hosted"


@dataclass(frozen=True, slots=True)
class NewRun:
    run_id: str
    agent_id: str
    trigger: RunTrigger
    source: RunSource
    status: RunStatus = RunStatus.RUNNING
    user_input: str | None = None


@dataclass(frozen=True, slots=True)
class RunFilter:
    status: RunStatus | None = None
    trigger: RunTrigger | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


def utc_now() -> dt.datetime:
    """Naive UTC now: the TIMESTAMP columns hold UTC."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


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
        "INSERT INTO runs (run_id, agent_id, status, trigger, source, created_at, started_at, user_input)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [run.run_id, run.agent_id, run.status.value, run.trigger.value, run.source.value, now, started_at, run.user_input],
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


def require_running(txn: WriteTxn, agent_id: str, run_id: str) -> None:
    require_status(txn, agent_id, run_id, _RUNNING, "upload spans to it")


def get_run(cursor: duckdb.DuckDBPyConnection, agent_id: str, run_id: str) -> dict[str, Any]:
    """The AgentRunResponse of one run, with span_count, total_tokens and scores; NotFound if absent."""
    rows = dict_rows(cursor.execute("SELECT * FROM api_runs WHERE id = ? AND agent_id = ?", [run_id, agent_id]))
    if not rows:
        raise NotFound(f"run {run_id} of agent {agent_id} not found")
    _attach_details(cursor, rows)
    return rows[0]


def list_runs(
    cursor: duckdb.DuckDBPyConnection, agent_id: str, filters: RunFilter, limit: int, after: str | None
) -> Page:
    """Runs of an agent, newest first, `limit` per page after the opaque cursor `after`."""
    where, params = ["r.agent_id = ?"], [agent_id]
    _add_filters(filters, where, params)
    if after is not None:
        created_us, last_id = decode_cursor(after, (int, str))
        where.append("(epoch_us(r.created_at) < ? OR (epoch_us(r.created_at) = ? AND r.run_id < ?))")
        params += [created_us, created_us, last_id]
    sql = (
        "SELECT a.*, epoch_us(r.created_at) AS _created_us FROM runs r JOIN api_runs a ON a.id = r.run_id"
        f" WHERE {' AND '.join(where)} ORDER BY r.created_at DESC, r.run_id DESC LIMIT ?"
    )
    rows = dict_rows(cursor.execute(sql, [*params, limit + 1]))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor((rows[-1]["_created_us"], rows[-1]["id"]))
    for row in rows:
        del row["_created_us"]
    _attach_details(cursor, rows)
    return Page(items=rows, next_cursor=next_cursor)


def _add_filters(filters: RunFilter, where: list[str], params: list[Any]) -> None:
    if filters.status is not None:
        where.append("r.status = ?")
        params.append(filters.status.value)
    if filters.trigger is not None:
        where.append("r.trigger = ?")
        params.append(filters.trigger.value)
    if filters.since is not None:
        where.append("r.created_at >= ?")
        params.append(filters.since)
    if filters.until is not None:
        where.append("r.created_at < ?")
        params.append(filters.until)


def _attach_details(cursor: duckdb.DuckDBPyConnection, runs: list[dict[str, Any]]) -> None:
    """span_count, total_tokens and the latest evaluation's scores of these runs only."""
    if not runs:
        return
    ids = [run["id"] for run in runs]
    stats = cursor.execute(
        "SELECT run_id, count(*), coalesce(sum(token_count), 0) FROM spans"
        " WHERE run_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY run_id",
        [ids],
    ).fetchall()
    scores = cursor.execute(_SCORES, [ids]).fetchall()
    stats_by_id = {row[0]: (int(row[1]), int(row[2])) for row in stats}
    scores_by_id = {row[0]: row[1] for row in scores}
    for run in runs:
        run["span_count"], run["total_tokens"] = stats_by_id.get(run["id"], (0, 0))
        run["scores"] = scores_by_id.get(run["id"], [])


# The latest evaluation's per-evaluator scores (score null: that evaluator failed; reason says why).
_SCORES = """
SELECT e.run_id,
       list({'evaluator': e.evaluator, 'score': e.score, 'weight': e.weight, 'reason': e.reason} ORDER BY e.evaluator)
FROM evaluations e JOIN runs r ON r.run_id = e.run_id AND e.evaluation_id = r.evaluation_id
WHERE e.run_id IN (SELECT unnest(?::VARCHAR[]))
GROUP BY e.run_id
"""

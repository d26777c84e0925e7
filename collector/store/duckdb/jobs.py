"""Jobs of hosted agents in DuckDB: enqueue, claim with a lease, renew, settle, release.

Write ops run in the single writer, so a claim is atomic and no job is handed out twice while
its lease holds. Every transition after a claim is fenced by (status running, attempts = the
claim's attempt): a worker whose lease expired and whose job was claimed again cannot settle
it. Each op moves the job and its run together, in one transaction. A running job's lease is a
row of job_leases, not of jobs: renewing it must not rewrite the job's input (DuckDB rewrites a
whole row on UPDATE). No HTTP, no processes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import duckdb
from kate.collector.errors import NotFound
from kate.collector.store.duckdb.pages import dict_rows
from kate.collector.store.duckdb.runs import insert_run
from kate.collector.store.duckdb.writer import WriteTxn
from kate.collector.store.job_rules import ClaimStep, decide_claim
from kate.collector.store.values import Claim, ClaimRequest, JobStatus, NewRun


def enqueue_job(txn: WriteTxn, run: NewRun, job_id: str, now: dt.datetime) -> None:
    """The queued run (DuplicateRun if its id exists) and its job, in one transaction."""
    insert_run(txn, run)
    txn.execute("UPDATE runs SET job_id = ? WHERE run_id = ?", [job_id, run.run_id])
    txn.execute(
        "INSERT INTO jobs (job_id, run_id, agent_id, status, user_input, attempts, created_at)"
        " VALUES (?, ?, ?, ?, ?, 0, ?)",
        [job_id, run.run_id, run.agent_id, JobStatus.QUEUED.value, run.user_input or "", now],
    )


_DUE = """
SELECT j.job_id, j.run_id, j.user_input, j.attempts, j.status, r.status
FROM jobs j JOIN runs r ON r.run_id = j.run_id LEFT JOIN job_leases l ON l.job_id = j.job_id
WHERE j.agent_id = ?
  AND ((j.status = 'queued' AND coalesce(j.available_at, j.created_at) <= ?)
       OR (j.status = 'running' AND coalesce(l.lease_until < ?, true)))
  AND j.job_id NOT IN (SELECT unnest(?::VARCHAR[]))
ORDER BY j.created_at, j.job_id
LIMIT ?
"""


def claim_jobs(txn: WriteTxn, request: ClaimRequest, now: dt.datetime) -> list[Claim]:
    """Due jobs (queued and past their backoff, or running with an expired lease), oldest
    first, within each agent's free slots and the total; each becomes running, attempt + 1."""
    claims: list[Claim] = []
    for agent_id, free in request.free_by_agent.items():
        room = min(free, request.max_total - len(claims))
        if room <= 0:
            continue
        rows = txn.execute(_DUE, [agent_id, now, now, list(request.running_here), room])
        for row in rows:
            claim = _claim_one(txn, agent_id, row, request, now)
            if claim is not None:
                claims.append(claim)
    return claims


def _claim_one(txn: WriteTxn, agent_id: str, row: tuple[Any, ...], request: ClaimRequest, now: dt.datetime) -> Claim | None:
    job_id, run_id, user_input, attempts, job_status, run_status = row
    decision = decide_claim(job_status, run_status, attempts, request.max_attempts_by_agent[agent_id])
    if decision.step is ClaimStep.CANCEL:
        _finish(txn, job_id, JobStatus.FAILED, decision.error, now)
        return None
    if decision.step is ClaimStep.GIVE_UP:
        assert decision.error is not None
        _finish(txn, job_id, JobStatus.FAILED, decision.error, now)
        _fail_run(txn, run_id, decision.error, now)
        return None
    txn.execute(
        "UPDATE jobs SET status = 'running', attempts = ?, available_at = NULL,"
        " started_at = coalesce(started_at, ?), error = coalesce(?, error) WHERE job_id = ?",
        [attempts + 1, now, decision.error, job_id],
    )
    txn.execute("INSERT OR REPLACE INTO job_leases VALUES (?, ?, ?)", [job_id, request.lease_until, request.owner])
    txn.execute(
        "UPDATE runs SET status = 'running', started_at = coalesce(started_at, ?) WHERE run_id = ?", [now, run_id]
    )
    return Claim(job_id, run_id, agent_id, user_input or "", attempts + 1)


def renew_leases(txn: WriteTxn, claims: Sequence[Claim], lease_until: dt.datetime) -> list[str]:
    """Extend the leases still held; return the ids of jobs whose lease was lost. Writes only
    job_leases rows: the jobs row (with its input) is read for the fence, never rewritten."""
    lost = []
    for claim in claims:
        if _holds(txn, claim):
            txn.execute("UPDATE job_leases SET lease_until = ? WHERE job_id = ?", [lease_until, claim.job_id])
        else:
            lost.append(claim.job_id)
    return lost


def finish_job(txn: WriteTxn, claim: Claim, output: str | None, now: dt.datetime) -> bool:
    """The attempt succeeded: job succeeded, run completed with the output. True when this
    completed the run (it may have been finished through the API meanwhile)."""
    if not _holds(txn, claim):
        return False
    _finish(txn, claim.job_id, JobStatus.SUCCEEDED, None, now)
    rows = txn.execute(
        "UPDATE runs SET status = 'completed', completed_at = ?, output = ?, error = NULL"
        " WHERE run_id = ? AND status = 'running' RETURNING run_id",
        [now, output, claim.run_id],
    )
    return bool(rows)


def fail_attempt(txn: WriteTxn, claim: Claim, error: str, detail: str, retry_at: dt.datetime | None, now: dt.datetime) -> None:
    """The attempt failed: queued again until retry_at (the run says the error meanwhile), or,
    with retry_at None, job and run failed."""
    if not _holds(txn, claim):
        return
    job_error = f"{error}\n{detail}" if detail else error
    if retry_at is None:
        _finish(txn, claim.job_id, JobStatus.FAILED, job_error, now)
        _fail_run(txn, claim.run_id, error, now)
        return
    txn.execute(
        "UPDATE jobs SET status = 'queued', available_at = ?, error = ? WHERE job_id = ?",
        [retry_at, job_error, claim.job_id],
    )
    _drop_lease(txn, claim.job_id)
    txn.execute("UPDATE runs SET status = 'queued', error = ? WHERE run_id = ? AND status = 'running'", [error, claim.run_id])


def release_jobs(txn: WriteTxn, claims: Sequence[Claim]) -> None:
    """Shutdown: give held jobs back, queued, without counting the interrupted attempt."""
    for claim in claims:
        if _holds(txn, claim):
            txn.execute(
                "UPDATE jobs SET status = 'queued', attempts = attempts - 1 WHERE job_id = ?", [claim.job_id]
            )
            _drop_lease(txn, claim.job_id)
            txn.execute("UPDATE runs SET status = 'queued' WHERE run_id = ? AND status = 'running'", [claim.run_id])


def get_job(cursor: duckdb.DuckDBPyConnection, job_id: str) -> dict[str, Any]:
    """The API shape of a job (view api_jobs); NotFound when there is none."""
    rows = dict_rows(cursor.execute("SELECT * FROM api_jobs WHERE job_id = ?", [job_id]))
    if not rows:
        raise NotFound(f"job {job_id} not found")
    return rows[0]


def _holds(txn: WriteTxn, claim: Claim) -> bool:
    rows = txn.execute(
        "SELECT 1 FROM jobs WHERE job_id = ? AND status = 'running' AND attempts = ?", [claim.job_id, claim.attempt]
    )
    return bool(rows)


def _finish(txn: WriteTxn, job_id: str, status: JobStatus, error: str | None, now: dt.datetime) -> None:
    txn.execute(
        "UPDATE jobs SET status = ?, finished_at = ?, error = ? WHERE job_id = ?", [status.value, now, error, job_id]
    )
    _drop_lease(txn, job_id)


def _drop_lease(txn: WriteTxn, job_id: str) -> None:
    txn.execute("DELETE FROM job_leases WHERE job_id = ?", [job_id])


def _fail_run(txn: WriteTxn, run_id: str, error: str, now: dt.datetime) -> None:
    txn.execute(
        "UPDATE runs SET status = 'failed', completed_at = ?, error = ? WHERE run_id = ? AND status IN ('queued', 'running')",
        [now, error, run_id],
    )

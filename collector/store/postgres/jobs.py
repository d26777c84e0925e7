"""Jobs of hosted agents on PostgreSQL: enqueue, claim with a lease, renew, settle, release.

The rules are the DuckDB engine's (store/duckdb/jobs.py); what differs is how a claim is made
safe with several collectors: the due jobs are selected FOR UPDATE SKIP LOCKED, so two workers
claiming at once take different jobs and neither waits for the other, and every later
transition is fenced by (status running, attempts = the claim's attempt) on the locked row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from kate.collector.errors import NotFound
from kate.collector.store.job_rules import ClaimStep, decide_claim
from kate.collector.store.postgres.database import ControlTxn
from kate.collector.store.postgres.runs import insert_run
from kate.collector.store.values import Claim, ClaimRequest, JobStatus, NewRun


def enqueue_job(txn: ControlTxn, run: NewRun, job_id: str, now: dt.datetime) -> None:
    """The queued run (DuplicateRun if its id exists) and its job, in one transaction."""
    insert_run(txn, run)
    txn.execute("UPDATE runs SET job_id = %s WHERE run_id = %s", [job_id, run.run_id])
    txn.execute(
        "INSERT INTO jobs (job_id, run_id, agent_id, status, user_input, attempts, created_at)"
        " VALUES (%s, %s, %s, %s, %s, 0, %s)",
        [job_id, run.run_id, run.agent_id, JobStatus.QUEUED.value, run.user_input or "", now],
    )


_DUE = """
SELECT j.job_id, j.run_id, j.user_input, j.attempts, j.status, r.status
FROM jobs j JOIN runs r ON r.run_id = j.run_id
WHERE j.agent_id = %s
  AND ((j.status = 'queued' AND coalesce(j.available_at, j.created_at) <= %s)
       OR (j.status = 'running' AND coalesce(j.lease_until < %s, true)))
  AND NOT (j.job_id = ANY(%s))
ORDER BY j.created_at, j.job_id
LIMIT %s
FOR UPDATE OF j SKIP LOCKED
"""


def claim_jobs(txn: ControlTxn, request: ClaimRequest, now: dt.datetime) -> list[Claim]:
    """Due jobs (queued and past their backoff, or running with an expired lease), oldest first,
    within each agent's free slots and the total; each becomes running, attempt + 1. Jobs another
    collector is claiming right now are skipped, not waited for."""
    claims: list[Claim] = []
    for agent_id, free in request.free_by_agent.items():
        room = min(free, request.max_total - len(claims))
        if room <= 0:
            continue
        for row in txn.execute(_DUE, [agent_id, now, now, list(request.running_here), room]):
            claim = _claim_one(txn, agent_id, row, request, now)
            if claim is not None:
                claims.append(claim)
    return claims


def _claim_one(txn: ControlTxn, agent_id: str, row: tuple[Any, ...], request: ClaimRequest,
               now: dt.datetime) -> Claim | None:
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
        "UPDATE jobs SET status = 'running', attempts = %s, available_at = NULL, lease_until = %s, lease_owner = %s,"
        " started_at = coalesce(started_at, %s), error = coalesce(%s, error) WHERE job_id = %s",
        [attempts + 1, request.lease_until, request.owner, now, decision.error, job_id],
    )
    txn.execute("UPDATE runs SET status = 'running', started_at = coalesce(started_at, %s) WHERE run_id = %s",
                [now, run_id])
    return Claim(job_id, run_id, agent_id, user_input or "", attempts + 1)


def renew_leases(txn: ControlTxn, claims: Sequence[Claim], lease_until: dt.datetime) -> list[str]:
    """Extend the leases still held; the ids of jobs whose lease was lost."""
    if not claims:
        return []
    held = {row[0] for row in txn.execute(
        "UPDATE jobs SET lease_until = %s FROM unnest(%s::text[], %s::int[]) AS c (job_id, attempt)"
        " WHERE jobs.job_id = c.job_id AND jobs.status = 'running' AND jobs.attempts = c.attempt RETURNING jobs.job_id",
        [lease_until, [claim.job_id for claim in claims], [claim.attempt for claim in claims]])}
    return [claim.job_id for claim in claims if claim.job_id not in held]


def finish_job(txn: ControlTxn, claim: Claim, output: str | None, now: dt.datetime) -> bool:
    """The attempt succeeded: job succeeded, run completed with the output. True when this
    completed the run (it may have been finished through the API meanwhile)."""
    if not _holds(txn, claim):
        return False
    _finish(txn, claim.job_id, JobStatus.SUCCEEDED, None, now)
    rows = txn.execute(
        "UPDATE runs SET status = 'completed', completed_at = %s, output = %s, error = NULL"
        " WHERE run_id = %s AND status = 'running' RETURNING run_id", [now, output, claim.run_id])
    return bool(rows)


def fail_attempt(txn: ControlTxn, claim: Claim, error: str, detail: str, retry_at: dt.datetime | None,
                 now: dt.datetime) -> None:
    """The attempt failed: queued again until retry_at, or, with retry_at None, job and run failed."""
    if not _holds(txn, claim):
        return
    job_error = f"{error}\n{detail}" if detail else error
    if retry_at is None:
        _finish(txn, claim.job_id, JobStatus.FAILED, job_error, now)
        _fail_run(txn, claim.run_id, error, now)
        return
    txn.execute("UPDATE jobs SET status = 'queued', available_at = %s, error = %s, lease_until = NULL,"
                " lease_owner = NULL WHERE job_id = %s", [retry_at, job_error, claim.job_id])
    txn.execute("UPDATE runs SET status = 'queued', error = %s WHERE run_id = %s AND status = 'running'",
                [error, claim.run_id])


def release_jobs(txn: ControlTxn, claims: Sequence[Claim]) -> None:
    """Shutdown: give held jobs back, queued, without counting the interrupted attempt."""
    for claim in claims:
        if _holds(txn, claim):
            txn.execute("UPDATE jobs SET status = 'queued', attempts = attempts - 1, lease_until = NULL,"
                        " lease_owner = NULL WHERE job_id = %s", [claim.job_id])
            txn.execute("UPDATE runs SET status = 'queued' WHERE run_id = %s AND status = 'running'", [claim.run_id])


def get_job(txn: ControlTxn, job_id: str) -> dict[str, Any]:
    rows = txn.dict_rows("SELECT * FROM api_jobs WHERE job_id = %s", [job_id])
    if not rows:
        raise NotFound(f"job {job_id} not found")
    return rows[0]


def _holds(txn: ControlTxn, claim: Claim) -> bool:
    """The claim still holds the job; its row stays locked until the transaction ends."""
    return bool(txn.execute("SELECT 1 FROM jobs WHERE job_id = %s AND status = 'running' AND attempts = %s FOR UPDATE",
                            [claim.job_id, claim.attempt]))


def _finish(txn: ControlTxn, job_id: str, status: JobStatus, error: str | None, now: dt.datetime) -> None:
    txn.execute("UPDATE jobs SET status = %s, finished_at = %s, error = %s, lease_until = NULL WHERE job_id = %s",
                [status.value, now, error, job_id])


def _fail_run(txn: ControlTxn, run_id: str, error: str, now: dt.datetime) -> None:
    txn.execute("UPDATE runs SET status = 'failed', completed_at = %s, error = %s"
                " WHERE run_id = %s AND status IN ('queued', 'running')", [now, error, run_id])

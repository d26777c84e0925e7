"""Job leases on a real DuckDB file: renewing a lease does not rewrite the job's input, the lease
shows on the job while it runs and goes with it, and older files keep their running leases."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
from kate.collector.store.duckdb import jobs as job_store
from kate.collector.store.duckdb.database import Database
from kate.collector.store.duckdb.migrate import apply_migrations, migration_files
from kate.collector.store.values import Claim, ClaimRequest, NewRun, RunSource, RunStatus, RunTrigger

NOW = dt.datetime(2026, 12, 3, 8, 0, 0)
BIG_INPUT = "x" * (4 * 1024 * 1024)


def claim_request(lease_until: dt.datetime) -> ClaimRequest:
    return ClaimRequest(free_by_agent={"agent": 1}, max_attempts_by_agent={"agent": 3}, max_total=1,
                        running_here=[], lease_until=lease_until, owner="test-worker")


async def claimed_big_job(database: Database) -> Claim:
    run = NewRun("run-1", "agent", RunTrigger.MANUAL, RunSource.HOSTED, RunStatus.QUEUED, BIG_INPUT)
    await database.write(lambda txn: job_store.enqueue_job(txn, run, "job-1", NOW))
    (claim,) = await database.write(lambda txn: job_store.claim_jobs(txn, claim_request(NOW + dt.timedelta(seconds=30)), NOW))
    return claim


def wal_bytes(database: Database) -> int:
    wal = Path(f"{database.path}.wal")
    return wal.stat().st_size if wal.exists() else 0


async def test_renewing_a_lease_writes_bytes_not_the_jobs_input(database: Database) -> None:
    claim = await claimed_big_job(database)
    before = wal_bytes(database)

    for renewal in range(1, 4):
        lease_until = NOW + dt.timedelta(seconds=30 + renewal * 10)
        lost = await database.write(lambda txn, until=lease_until: job_store.renew_leases(txn, [claim], until))
        assert lost == []
    job = await database.read(lambda cursor: job_store.get_job(cursor, "job-1"))

    assert wal_bytes(database) - before < 64 * 1024  # the old UPDATE of jobs wrote 3 x 4 MiB here
    assert (job["status"], job["lease_until"]) == ("running", "2026-12-03T08:01:00.000Z")


async def test_the_lease_goes_when_the_job_finishes_and_a_lost_lease_is_reported(database: Database) -> None:
    claim = await claimed_big_job(database)
    stale = Claim(claim.job_id, claim.run_id, claim.agent_id, claim.user_input, claim.attempt - 1)

    lost = await database.write(lambda txn: job_store.renew_leases(txn, [stale], NOW + dt.timedelta(minutes=5)))
    await database.write(lambda txn: job_store.finish_job(txn, claim, "done", NOW))
    job = await database.read(lambda cursor: job_store.get_job(cursor, "job-1"))
    leases = await database.read(lambda cursor: cursor.execute("SELECT count(*) FROM job_leases").fetchall())

    assert lost == ["job-1"]
    assert (job["status"], job["lease_until"], leases) == ("succeeded", None, [(0,)])


async def test_a_job_whose_lease_expired_is_claimed_again(database: Database) -> None:
    first = await claimed_big_job(database)

    later = NOW + dt.timedelta(minutes=1)
    claims = await database.write(lambda txn: job_store.claim_jobs(txn, claim_request(later + dt.timedelta(seconds=30)), later))

    assert [(claim.job_id, claim.attempt) for claim in claims] == [("job-1", first.attempt + 1)]


def test_the_migration_moves_running_leases_of_older_files(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, "
                           "applied_at TIMESTAMP NOT NULL)")
        for version, name, sql in (entry for entry in migration_files() if entry[1] < "005"):
            connection.execute(sql)
            connection.execute("INSERT INTO schema_version VALUES (?, ?, now()::TIMESTAMP)", [version, name])
        connection.execute(
            "INSERT INTO jobs (job_id, run_id, agent_id, status, attempts, lease_until, lease_owner, created_at) VALUES"
            " ('running', 'r1', 'a', 'running', 1, ?, 'w1', ?), ('done', 'r2', 'a', 'succeeded', 1, NULL, NULL, ?)",
            [NOW, NOW, NOW],
        )
        apply_migrations(connection)
        leases = connection.execute("SELECT * FROM job_leases").fetchall()
        shown = connection.execute("SELECT job_id, lease_until FROM api_jobs ORDER BY job_id").fetchall()

    assert leases == [("running", NOW, "w1")]
    assert shown == [("done", None), ("running", "2026-12-03T08:00:00.000Z")]

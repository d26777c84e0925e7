-- A running job's lease lives in its own small table. The worker renews every lease every
-- jobs.lease_s / 3, and DuckDB writes an UPDATE of a table with an index as a delete and an
-- insert of the whole row: renewing jobs.lease_until rewrote the job's user_input each time
-- (30 MB of WAL for 3 renewals of a 10 MB input, against 705 bytes here).
-- jobs.lease_until and jobs.lease_owner stay (an indexed table's columns cannot be dropped)
-- but are no longer written.
CREATE TABLE job_leases (
    job_id      VARCHAR PRIMARY KEY,
    lease_until TIMESTAMP NOT NULL,
    lease_owner VARCHAR
);

INSERT INTO job_leases
SELECT job_id, lease_until, lease_owner FROM jobs WHERE status = 'running' AND lease_until IS NOT NULL;

-- Kate's control store, version 2: the job queue of hosted agents (docs/hosted-agents.md).
-- A job is claimed with SELECT ... FOR UPDATE SKIP LOCKED, so collectors competing for due jobs
-- each take different ones; every transition after a claim is fenced by (status running,
-- attempts = the claim's attempt), as on DuckDB. The lease lives in the row: PostgreSQL keeps
-- an unchanged large user_input out of line (TOAST), so renewing a lease does not copy it.
CREATE TABLE jobs (
    job_id       TEXT PRIMARY KEY,
    run_id       TEXT NOT NULL,
    agent_id     TEXT NOT NULL,
    status       TEXT NOT NULL,            -- queued | running | succeeded | failed
    user_input   TEXT,
    attempts     INTEGER NOT NULL DEFAULT 0,
    lease_until  TIMESTAMP,
    lease_owner  TEXT,
    created_at   TIMESTAMP NOT NULL,
    started_at   TIMESTAMP,
    finished_at  TIMESTAMP,
    available_at TIMESTAMP,                -- a retried job is not claimed before (backoff)
    error        TEXT
);
CREATE INDEX jobs_due ON jobs (agent_id, created_at, job_id) WHERE status IN ('queued', 'running');
CREATE INDEX jobs_run ON jobs (run_id);

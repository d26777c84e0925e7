-- Views behind API responses on the control store (the DuckDB engine's api_runs, less the span
-- counters, which come from ClickHouse). Recreated on every start.

CREATE OR REPLACE VIEW api_runs AS
SELECT
    run_id                                                       AS id,
    agent_id,
    status,
    trigger,
    overall_score,
    to_char(created_at, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')         AS created_at,
    to_char(completed_at, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')       AS completed_at,
    to_char(started_at, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')         AS started_at,
    source,
    evaluation_status,
    user_input,
    output,
    error,
    job_id,
    session_id,
    user_id
FROM runs;

CREATE OR REPLACE VIEW api_jobs AS
SELECT
    job_id,
    run_id,
    agent_id,
    status,
    attempts,
    error,
    to_char(created_at, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')   AS created_at,
    to_char(started_at, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')   AS started_at,
    to_char(finished_at, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')  AS finished_at,
    to_char(CASE WHEN status = 'running' THEN lease_until END, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS lease_until,
    to_char(available_at, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS next_attempt_at
FROM jobs;

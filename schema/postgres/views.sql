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

-- An agent's sessions (the DuckDB engine's `sessions` view, less the span counters, which come
-- from ClickHouse): one row per agent and session_id, over the runs that carry one.
CREATE OR REPLACE VIEW session_runs_summary AS
SELECT
    agent_id,
    session_id,
    (array_agg(user_id ORDER BY created_at) FILTER (WHERE user_id IS NOT NULL))[1]       AS user_id,
    count(*)                                                                             AS run_count,
    count(*) FILTER (WHERE status = 'failed')                                            AS failed_runs,
    (array_agg(user_input ORDER BY created_at) FILTER (WHERE user_input IS NOT NULL))[1] AS first_input,
    (array_agg(output ORDER BY coalesce(completed_at, created_at) DESC)
        FILTER (WHERE output IS NOT NULL))[1]                                            AS last_output,
    percentile_cont(0.50) WITHIN GROUP (ORDER BY
        floor(extract(epoch FROM completed_at - coalesce(started_at, created_at)) * 1000)) AS p50_latency_ms,
    percentile_cont(0.99) WITHIN GROUP (ORDER BY
        floor(extract(epoch FROM completed_at - coalesce(started_at, created_at)) * 1000)) AS p99_latency_ms,
    min(created_at)                                                                      AS first_time,
    max(coalesce(completed_at, created_at))                                              AS last_time,
    (extract(epoch FROM max(coalesce(completed_at, created_at))) * 1000000)::bigint       AS last_time_us
FROM runs
WHERE session_id IS NOT NULL
GROUP BY agent_id, session_id;

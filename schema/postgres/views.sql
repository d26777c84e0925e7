-- Views behind API responses on the control store (the DuckDB engine's api_runs, less the span
-- counters, which come from ClickHouse). Recreated on every start.

-- A time as the API writes it: RFC 3339, UTC, milliseconds (DuckDB's '%Y-%m-%dT%H:%M:%S.%gZ').
-- IMMUTABLE and plain SQL, so PostgreSQL inlines it into the queries that use it.
CREATE OR REPLACE FUNCTION api_time(moment timestamp) RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT to_char(moment, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $$;

CREATE OR REPLACE VIEW api_runs AS
SELECT
    run_id                                                       AS id,
    agent_id,
    status,
    trigger,
    overall_score,
    api_time(created_at)         AS created_at,
    api_time(completed_at)       AS completed_at,
    api_time(started_at)         AS started_at,
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
    api_time(created_at)   AS created_at,
    api_time(started_at)   AS started_at,
    api_time(finished_at)  AS finished_at,
    api_time(CASE WHEN status = 'running' THEN lease_until END) AS lease_until,
    api_time(available_at) AS next_attempt_at
FROM jobs;

-- An agent's sessions (the DuckDB engine's `sessions` view, less the span counters, which come
-- from ClickHouse): one row per agent and session_id, over the runs that carry one.
DROP VIEW IF EXISTS session_runs_summary;  -- its times became text: not a change CREATE OR REPLACE allows
CREATE VIEW session_runs_summary AS
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
    api_time(min(created_at))                                                            AS first_time,
    api_time(max(coalesce(completed_at, created_at)))                                    AS last_time,
    (extract(epoch FROM max(coalesce(completed_at, created_at))) * 1000000)::bigint       AS last_time_us
FROM runs
WHERE session_id IS NOT NULL
GROUP BY agent_id, session_id;

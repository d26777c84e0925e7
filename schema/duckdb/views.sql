-- Views behind API responses (api_*: column names equal the JSON keys) and for analysis.
-- Not a migration: recreated (CREATE OR REPLACE) on every start, so views may change freely.

CREATE OR REPLACE VIEW api_runs AS
SELECT
    run_id                                              AS id,
    agent_id,
    status,
    trigger,
    overall_score,
    strftime(created_at, '%Y-%m-%dT%H:%M:%S.%gZ')       AS created_at,
    strftime(completed_at, '%Y-%m-%dT%H:%M:%S.%gZ')     AS completed_at,
    strftime(started_at, '%Y-%m-%dT%H:%M:%S.%gZ')       AS started_at,
    source,
    evaluation_status,
    user_input,
    output,
    error,
    job_id,
    span_count,
    total_tokens,
    total_cost_usd,
    session_id,
    user_id
    -- scores are attached per page by store/runs.py: a correlated subquery here is
    -- decorrelated by DuckDB into a scan of every run (~13 ms at 50k runs).
FROM runs;

CREATE OR REPLACE VIEW api_jobs AS
SELECT
    j.job_id,
    j.run_id,
    j.agent_id,
    j.status,
    j.attempts,
    j.error,
    strftime(j.created_at, '%Y-%m-%dT%H:%M:%S.%gZ')     AS created_at,
    strftime(j.started_at, '%Y-%m-%dT%H:%M:%S.%gZ')     AS started_at,
    strftime(j.finished_at, '%Y-%m-%dT%H:%M:%S.%gZ')    AS finished_at,
    strftime(l.lease_until, '%Y-%m-%dT%H:%M:%S.%gZ')    AS lease_until,
    strftime(j.available_at, '%Y-%m-%dT%H:%M:%S.%gZ')   AS next_attempt_at
FROM jobs j LEFT JOIN job_leases l ON l.job_id = j.job_id;

CREATE OR REPLACE VIEW api_spans AS
SELECT
    node_name,
    span_kind,
    input_text,
    output_text,
    model,
    latency_ms,
    token_count,
    span_id,
    trace_id,
    parent_span_id,
    run_id,
    agent_id,
    strftime(make_timestamp_ns(start_time_unix_nano), '%Y-%m-%dT%H:%M:%S.%fZ') AS start_time,
    strftime(make_timestamp_ns(end_time_unix_nano), '%Y-%m-%dT%H:%M:%S.%fZ')   AS end_time,
    status_code                                         AS status,
    status_message,
    input_tokens,
    output_tokens,
    start_time_unix_nano,
    end_time_unix_nano,
    truncated,
    attributes,
    cached_input_tokens,
    cost_usd,
    input_cost_usd,
    output_cost_usd,
    cost_source,
    session_id,
    user_id
FROM spans;

-- Analysis: one row per span with derived timestamps, for ad-hoc SQL.
CREATE OR REPLACE VIEW span_details AS
SELECT
    s.*,
    make_timestamp_ns(s.start_time_unix_nano) AS start_time,
    make_timestamp_ns(s.end_time_unix_nano)   AS end_time,
    s.status_code = 'ERROR'                   AS is_error
FROM spans s;

-- Analysis: per-run summary (span count, tokens, latency, errors, models).
CREATE OR REPLACE VIEW run_summary AS
SELECT
    r.run_id,
    r.agent_id,
    r.status,
    r.trigger,
    r.source,
    r.created_at,
    r.completed_at,
    date_diff('millisecond', r.created_at, r.completed_at)          AS wall_ms,
    r.overall_score,
    r.session_id,
    r.user_id,
    count(s.span_id)                                                AS span_count,
    coalesce(sum(s.token_count), 0)                                 AS total_tokens,
    coalesce(sum(s.input_tokens), 0)                                AS input_tokens,
    coalesce(sum(s.output_tokens), 0)                               AS output_tokens,
    count(s.span_id) FILTER (WHERE s.span_kind = 'LLM')             AS llm_calls,
    count(s.span_id) FILTER (WHERE s.span_kind = 'TOOL')            AS tool_calls,
    count(s.span_id) FILTER (WHERE s.status_code = 'ERROR')         AS error_count,
    sum(s.latency_ms) FILTER (WHERE s.span_kind = 'LLM')            AS llm_latency_ms,
    (max(s.end_time_unix_nano) - min(s.start_time_unix_nano)) / 1e6 AS trace_span_ms,
    list_sort(list_distinct(list(s.model) FILTER (WHERE s.model IS NOT NULL AND s.span_kind IN ('LLM', 'EMBEDDING')))) AS models,
    sum(s.cost_usd)                                                 AS total_cost_usd,
    sum(s.input_cost_usd)                                           AS input_cost_usd,
    sum(s.output_cost_usd)                                          AS output_cost_usd,
    count(s.span_id) FILTER (WHERE s.span_kind = 'LLM' AND s.cost_usd IS NULL) AS unpriced_llm_calls
FROM runs r
LEFT JOIN spans s ON s.run_id = r.run_id
GROUP BY ALL;

-- Analysis: model usage per agent and UTC day.
CREATE OR REPLACE VIEW model_usage_daily AS
SELECT
    agent_id,
    CAST(make_timestamp_ns(start_time_unix_nano) AS DATE) AS day,
    model,
    count(*)                                         AS calls,
    coalesce(sum(input_tokens), 0)                   AS input_tokens,
    coalesce(sum(output_tokens), 0)                  AS output_tokens,
    coalesce(sum(token_count), 0)                    AS total_tokens,
    avg(latency_ms)                                  AS avg_latency_ms,
    count(*) FILTER (WHERE status_code = 'ERROR')    AS errors,
    coalesce(sum(cached_input_tokens), 0)            AS cached_input_tokens,
    sum(cost_usd)                                    AS cost_usd,
    sum(input_cost_usd)                              AS input_cost_usd,
    sum(output_cost_usd)                             AS output_cost_usd,
    count(*) FILTER (WHERE cost_usd IS NULL)         AS unpriced_calls
FROM spans
WHERE model IS NOT NULL
GROUP BY ALL;

-- Analysis: latency percentiles and error rate per agent, node and kind.
CREATE OR REPLACE VIEW node_latency AS
SELECT
    agent_id,
    node_name,
    span_kind,
    count(*)                                                   AS calls,
    quantile_cont(latency_ms, 0.50)                            AS p50_ms,
    quantile_cont(latency_ms, 0.95)                            AS p95_ms,
    quantile_cont(latency_ms, 0.99)                            AS p99_ms,
    max(latency_ms)                                            AS max_ms,
    avg(CASE WHEN status_code = 'ERROR' THEN 1.0 ELSE 0.0 END) AS error_rate
FROM spans
GROUP BY ALL;

-- Analysis: every evaluator score of each run's latest evaluation, with the run's agent.
CREATE OR REPLACE VIEW evaluation_scores AS
SELECT
    e.run_id,
    r.agent_id,
    r.status                                                 AS run_status,
    e.evaluator,
    e.score,
    e.weight,
    e.reason,
    e.details,
    r.overall_score,
    e.created_at
FROM evaluations e
JOIN runs r ON r.run_id = e.run_id AND r.evaluation_id = e.evaluation_id;

-- Analysis: one row per agent and session (runs with a session_id), for SQL and the API.
-- Latency is each run's wall time, from its start (or creation) to its completion.
CREATE OR REPLACE VIEW sessions AS
SELECT
    agent_id,
    session_id,
    arg_min(user_id, created_at) FILTER (WHERE user_id IS NOT NULL)          AS user_id,
    count(*)                                                                 AS run_count,
    coalesce(sum(span_count), 0)                                             AS span_count,
    coalesce(sum(total_tokens), 0)                                           AS total_tokens,
    sum(total_cost_usd)                                                      AS total_cost_usd,
    count(*) FILTER (WHERE status = 'failed')                                AS failed_runs,
    arg_min(user_input, created_at) FILTER (WHERE user_input IS NOT NULL)    AS first_input,
    arg_max(output, coalesce(completed_at, created_at)) FILTER (WHERE output IS NOT NULL) AS last_output,
    quantile_cont(date_diff('millisecond', coalesce(started_at, created_at), completed_at), 0.50) AS p50_latency_ms,
    quantile_cont(date_diff('millisecond', coalesce(started_at, created_at), completed_at), 0.99) AS p99_latency_ms,
    min(created_at)                                                          AS first_time,
    max(coalesce(completed_at, created_at))                                  AS last_time
FROM runs
WHERE session_id IS NOT NULL
GROUP BY agent_id, session_id;

-- The API's session objects (GET /agents/{agent_id}/sessions): sessions with formatted times.
-- last_time_us orders and pages them; the store drops it from the answer.
CREATE OR REPLACE VIEW api_sessions AS
SELECT
    session_id,
    agent_id,
    user_id,
    run_count,
    span_count,
    total_tokens,
    total_cost_usd,
    failed_runs,
    first_input,
    last_output,
    p50_latency_ms,
    p99_latency_ms,
    strftime(first_time, '%Y-%m-%dT%H:%M:%S.%gZ') AS first_time,
    strftime(last_time, '%Y-%m-%dT%H:%M:%S.%gZ')  AS last_time,
    epoch_us(last_time)                           AS last_time_us
FROM sessions;

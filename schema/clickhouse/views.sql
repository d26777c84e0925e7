-- Analysis views on ClickHouse with the names and columns of the DuckDB engine's
-- (schema/duckdb/views.sql), over the deduplicating `spans` view. Created at start when missing;
-- {database} is filled in by collector/store/clickhouse/schema.py. Differences, from what
-- ClickHouse 18.16 offers: times are DateTime (whole seconds, UTC), and percentiles are
-- ClickHouse's quantile(), exact and interpolated up to 8,192 values per group, sampled beyond.
-- run_summary, evaluation_scores and sessions need runs, which live in PostgreSQL: not here.

CREATE VIEW IF NOT EXISTS {database}.span_details AS
SELECT
    *,
    if(isNull(start_time_unix_nano), NULL, toDateTime(intDiv(assumeNotNull(start_time_unix_nano), 1000000000))) AS start_time,
    if(isNull(end_time_unix_nano), NULL, toDateTime(intDiv(assumeNotNull(end_time_unix_nano), 1000000000))) AS end_time,
    status_code = 'ERROR' AS is_error
FROM {database}.spans;

-- The aggregates read columns renamed in a subquery: ClickHouse resolves an alias anywhere in
-- its query, so `sum(cost_usd) AS cost_usd` would make a later cost_usd mean the sum.
CREATE VIEW IF NOT EXISTS {database}.model_usage_daily AS
SELECT
    agent_id,
    if(isNull(start_), NULL, toDate(intDiv(assumeNotNull(start_), 1000000000))) AS day,
    model,
    count()                                 AS calls,
    sum(ifNull(input_tokens_, 0))           AS input_tokens,
    sum(ifNull(output_tokens_, 0))          AS output_tokens,
    sum(ifNull(token_count_, 0))            AS total_tokens,
    avg(latency_ms_)                        AS avg_latency_ms,
    countIf(status_code_ = 'ERROR')         AS errors,
    sum(ifNull(cached_input_tokens_, 0))    AS cached_input_tokens,
    sum(cost_usd_)                          AS cost_usd,
    sum(input_cost_usd_)                    AS input_cost_usd,
    sum(output_cost_usd_)                   AS output_cost_usd,
    countIf(isNull(cost_usd_))              AS unpriced_calls
FROM (
    SELECT agent_id, model, start_time_unix_nano AS start_, input_tokens AS input_tokens_, output_tokens AS output_tokens_,
           token_count AS token_count_, latency_ms AS latency_ms_, status_code AS status_code_,
           cached_input_tokens AS cached_input_tokens_, cost_usd AS cost_usd_, input_cost_usd AS input_cost_usd_,
           output_cost_usd AS output_cost_usd_
    FROM {database}.spans
    WHERE isNotNull(model)
)
GROUP BY agent_id, day, model;

CREATE VIEW IF NOT EXISTS {database}.node_latency AS
SELECT
    agent_id,
    node_name,
    span_kind,
    count()                                   AS calls,
    quantile(0.50)(latency_ms_)               AS p50_ms,
    quantile(0.95)(latency_ms_)               AS p95_ms,
    quantile(0.99)(latency_ms_)               AS p99_ms,
    max(latency_ms_)                          AS max_ms,
    avg(if(status_code_ = 'ERROR', 1.0, 0.0)) AS error_rate
FROM (
    SELECT agent_id, node_name, span_kind, latency_ms AS latency_ms_, status_code AS status_code_
    FROM {database}.spans
)
GROUP BY agent_id, node_name, span_kind;

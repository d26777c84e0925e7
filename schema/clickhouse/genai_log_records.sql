-- GenAI content sent as OTLP log records (docs/mapping.md#genai-content-in-log-records), on
-- ClickHouse: the columns of the DuckDB engine's genai_log_records, with a partition key added.
-- {table} and {database} are filled in by collector/store/clickhouse/schema.py.
--
-- ReplacingMergeTree over (agent_id, trace_id, span_id, record_key): a retried export stores a
-- record twice until a merge keeps one, so reads deduplicate (FINAL); one span's records are
-- contiguous, and found by PREWHERE on trace_id. Partitioned by the UTC day of the record's time.
CREATE TABLE IF NOT EXISTS {database}.{table} (
    record_key     String,
    trace_id       String,
    span_id        String,
    agent_id       LowCardinality(String),
    event_name     LowCardinality(String),
    time_unix_nano Int64,
    request_index  Int32,
    severity_text  Nullable(String),
    body           Nullable(String),
    attributes     String,
    resource       String,
    scope_name     Nullable(String),
    received_at    DateTime,
    record_day     Date
) ENGINE = ReplacingMergeTree
PARTITION BY record_day
ORDER BY (agent_id, trace_id, span_id, record_key)

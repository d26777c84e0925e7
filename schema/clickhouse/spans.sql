-- Kate's spans on ClickHouse (storage.engine: clickhouse; docs/deployment.md). Written in the
-- subset that ClickHouse 18.16 and current releases accept alike: no Map, DateTime64, TTL or JSON.
-- {table} and {database} are filled in by collector/store/clickhouse/schema.py.
--
-- The columns of the DuckDB spans table, in its order, with four added:
--   start_ns      coalesce(start_time_unix_nano, 0): the sort key;
--   start_day     the UTC day of start_ns: one partition per day. A span's retries and folds land in
--                 its partition (ReplacingMergeTree deduplicates within one); reads of a time
--                 range skip the other days.
--   fold_version  how many GenAI log records were folded into this copy of the span (0: none);
--   log_texts     which texts came from those records: 1 input_text, 2 output_text.
-- ReplacingMergeTree over (agent_id, run_id, start_ns, span_id, trace_id): a span sent twice
-- is stored twice until a merge keeps one, so every read deduplicates (FINAL). One run's spans
-- are contiguous on disk, and a run is found with PREWHERE on the key's first columns.
-- The copy with the highest fold_version wins: folding log content into a stored span inserts
-- it again with more records folded, and a later retry of the span as sent (version 0) cannot
-- undo that (collector/store/clickhouse/genai_logs.py).
CREATE TABLE IF NOT EXISTS {database}.{table} (
    span_id              String,
    trace_id             String,
    parent_span_id       Nullable(String),
    run_id               String,
    agent_id             LowCardinality(String),
    node_name            String,
    span_kind            LowCardinality(String),
    input_text           Nullable(String),
    output_text          Nullable(String),
    model                Nullable(String),
    latency_ms           Nullable(Float64),
    token_count          Nullable(Int64),
    input_tokens         Nullable(Int64),
    output_tokens        Nullable(Int64),
    status_code          LowCardinality(String),
    status_message       Nullable(String),
    start_time_unix_nano Nullable(Int64),
    end_time_unix_nano   Nullable(Int64),
    attributes           String,
    resource             String,
    scope_name           Nullable(String),
    events               String,
    truncated            UInt8,
    cached_input_tokens  Nullable(Int64),
    cost_usd             Nullable(Float64),
    input_cost_usd       Nullable(Float64),
    output_cost_usd      Nullable(Float64),
    cost_source          Nullable(String),
    session_id           Nullable(String),
    user_id              Nullable(String),
    received_at          DateTime,
    start_ns             Int64,
    start_day            Date,
    fold_version         UInt32,
    log_texts            UInt8
) ENGINE = ReplacingMergeTree(fold_version)
PARTITION BY start_day
ORDER BY (agent_id, run_id, start_ns, span_id, trace_id)

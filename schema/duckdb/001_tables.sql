-- Kate storage, version 1: the four tables of docs/sql.md#tables.
-- Times of runs, jobs and evaluations are TIMESTAMP in UTC; span times are unix nanoseconds
-- (BIGINT) as received, with timestamps derived in the views of 002_views.sql.

CREATE TABLE runs (
    run_id            VARCHAR PRIMARY KEY,      -- UUID; server-generated ids are UUIDv7 (time-ordered)
    agent_id          VARCHAR NOT NULL,
    status            VARCHAR NOT NULL,         -- queued | running | completed | failed
    trigger           VARCHAR NOT NULL,         -- manual | automatic | test
    source            VARCHAR NOT NULL,         -- api | otlp | hosted
    created_at        TIMESTAMP NOT NULL,
    started_at        TIMESTAMP,
    completed_at      TIMESTAMP,
    overall_score     DOUBLE,                   -- 0..1, set by evaluation
    evaluation_status VARCHAR,                  -- pending | done | skipped_cooldown | failed
    user_input        VARCHAR,
    output            VARCHAR,
    error             VARCHAR,
    job_id            VARCHAR
);
CREATE INDEX runs_agent_created ON runs (agent_id, created_at);

CREATE TABLE spans (
    -- Stored uncompressed: DuckDB's default (DICT_FSST) for a column of unique short ids makes
    -- fetching one run's rows 4x slower (2.6 against 0.65 ms for 100 rows at 5 M spans). Files
    -- created before this hint keep the default: only the speed of that fetch differs.
    span_id              VARCHAR NOT NULL USING COMPRESSION uncompressed,  -- 16 lowercase hex
    trace_id             VARCHAR NOT NULL,      -- 32 lowercase hex
    parent_span_id       VARCHAR,               -- 16 lowercase hex, NULL for a root span
    run_id               VARCHAR NOT NULL,
    agent_id             VARCHAR NOT NULL,
    node_name            VARCHAR NOT NULL,
    span_kind            VARCHAR NOT NULL,      -- LLM, TOOL, AGENT, CHAIN, ... UNKNOWN
    input_text           VARCHAR,
    output_text          VARCHAR,
    model                VARCHAR,
    latency_ms           DOUBLE,
    token_count          BIGINT,
    input_tokens         BIGINT,
    output_tokens        BIGINT,
    status_code          VARCHAR NOT NULL,      -- OK | ERROR | UNSET
    status_message       VARCHAR,
    start_time_unix_nano BIGINT,
    end_time_unix_nano   BIGINT,
    attributes           JSON,                  -- original attributes minus mapped keys and blobs
    resource             JSON,
    scope_name           VARCHAR,
    events               JSON,
    truncated            BOOLEAN NOT NULL,
    received_at          TIMESTAMP NOT NULL,
    PRIMARY KEY (trace_id, span_id)             -- OTLP is at-least-once: retries never duplicate
);
CREATE INDEX spans_run ON spans (run_id);

CREATE TABLE evaluations (
    run_id     VARCHAR NOT NULL,
    evaluator  VARCHAR NOT NULL,
    score      DOUBLE,
    details    JSON,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE jobs (
    job_id      VARCHAR PRIMARY KEY,
    run_id      VARCHAR NOT NULL,
    agent_id    VARCHAR NOT NULL,
    status      VARCHAR NOT NULL,               -- queued | running | succeeded | failed
    user_input  VARCHAR,
    attempts    INTEGER NOT NULL DEFAULT 0,
    lease_until TIMESTAMP,
    created_at  TIMESTAMP NOT NULL,
    started_at  TIMESTAMP,
    finished_at TIMESTAMP,
    error       VARCHAR
);

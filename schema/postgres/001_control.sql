-- Kate's control store on PostgreSQL, version 1 (storage.engine: clickhouse; docs/deployment.md).
-- The tables of the DuckDB engine that hold state rather than spans, with the same columns,
-- except the span counters of runs: spans live on ClickHouse, and a run's span_count,
-- total_tokens and total_cost_usd are summed there when a run is read. Times are UTC.

CREATE TABLE runs (
    run_id                  TEXT PRIMARY KEY,
    agent_id                TEXT NOT NULL,
    status                  TEXT NOT NULL,        -- queued | running | completed | failed
    trigger                 TEXT NOT NULL,        -- manual | automatic | test
    source                  TEXT NOT NULL,        -- api | otlp | hosted
    created_at              TIMESTAMP NOT NULL,
    started_at              TIMESTAMP,
    completed_at            TIMESTAMP,
    overall_score           DOUBLE PRECISION,
    evaluation_status       TEXT,
    user_input              TEXT,
    output                  TEXT,
    error                   TEXT,
    job_id                  TEXT,
    evaluation_id           TEXT,
    evaluation_requested_at TIMESTAMP,
    session_id              TEXT,
    user_id                 TEXT
);
CREATE INDEX runs_agent_created ON runs (agent_id, created_at, run_id);
CREATE INDEX runs_pending_evaluation ON runs (evaluation_requested_at) WHERE evaluation_status = 'pending';

CREATE TABLE evaluations (
    run_id        TEXT NOT NULL,
    evaluator     TEXT NOT NULL,
    score         DOUBLE PRECISION,
    details       JSONB,
    created_at    TIMESTAMP NOT NULL,
    evaluation_id TEXT,
    agent_id      TEXT,
    weight        DOUBLE PRECISION,
    reason        TEXT
);
CREATE INDEX evaluations_run ON evaluations (run_id);

-- An agent's cooldown clock: its row is locked (FOR UPDATE) by the transaction that admits a
-- run of that agent, so collectors decide admission one at a time per agent.
CREATE TABLE evaluation_clock (
    agent_id          TEXT PRIMARY KEY,
    last_requested_at TIMESTAMP
);

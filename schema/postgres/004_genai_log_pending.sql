-- Kate's control store, version 4: spans that GenAI log records named before the span itself was
-- stored (docs/mapping.md#genai-content-in-log-records). The records live on ClickHouse; a row
-- here says which span they wait for, and every span write looks its spans up here once they
-- are stored. Kept small: a row leaves when its span arrives, or after
-- ingest.genai_log_pending_hours.
CREATE TABLE genai_log_pending (
    trace_id    TEXT NOT NULL,
    span_id     TEXT NOT NULL,
    agent_id    TEXT NOT NULL,
    first_time  BIGINT NOT NULL,  -- the time range of its records, to find them again cheaply
    last_time   BIGINT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (trace_id, span_id, agent_id)
);
CREATE INDEX genai_log_pending_age ON genai_log_pending (received_at);

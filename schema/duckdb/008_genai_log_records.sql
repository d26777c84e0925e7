-- GenAI content sent as OTLP log records (docs/mapping.md#genai-content-in-log-records).
-- Every GenAI record is kept here for SQL; its content is also folded into the input_text and
-- output_text of the span it names, whichever of the two arrives first.
CREATE TABLE genai_log_records (
    record_key     VARCHAR PRIMARY KEY,  -- hash of the record and its resource: a retried export adds nothing
    trace_id       VARCHAR NOT NULL,     -- 32 lowercase hex: the span the record belongs to
    span_id        VARCHAR NOT NULL,     -- 16 lowercase hex
    agent_id       VARCHAR NOT NULL,     -- from the record's resource, as for spans
    event_name     VARCHAR NOT NULL,     -- gen_ai.user.message, gen_ai.choice, ...
    time_unix_nano BIGINT NOT NULL,      -- the record's time, else its observed time
    request_index  INTEGER NOT NULL,     -- position in its export request: orders records of equal time
    severity_text  VARCHAR,
    body           JSON,
    attributes     JSON NOT NULL,
    resource       JSON NOT NULL,
    scope_name     VARCHAR,
    received_at    TIMESTAMP NOT NULL
);

-- Spans that records named before the span itself was stored: looked up for each span write,
-- kept small (a row leaves when its span arrives, or after ingest.genai_log_pending_hours).
CREATE TABLE genai_log_pending (
    trace_id    VARCHAR NOT NULL,
    span_id     VARCHAR NOT NULL,
    agent_id    VARCHAR NOT NULL,
    first_time  BIGINT NOT NULL,  -- the time range of its records, to find them again cheaply
    last_time   BIGINT NOT NULL,
    received_at TIMESTAMP NOT NULL,
    PRIMARY KEY (trace_id, span_id, agent_id)
);

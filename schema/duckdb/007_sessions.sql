-- Sessions and users (docs/mapping.md#sessions-and-users): a span's ids come from its
-- attributes; a run's from POST /agents/{agent_id}/runs, else from the first of its spans
-- stored with one. Spans stored before this version have none.
ALTER TABLE spans ADD COLUMN session_id VARCHAR;
ALTER TABLE spans ADD COLUMN user_id VARCHAR;
ALTER TABLE runs ADD COLUMN session_id VARCHAR;
ALTER TABLE runs ADD COLUMN user_id VARCHAR;

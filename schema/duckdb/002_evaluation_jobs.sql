-- Kate storage, version 2: what automatic evaluation and the hosted-agent job queue need
-- beyond the four tables of version 1 (docs/evaluation.md, docs/hosted-agents.md).

-- A run points at its latest evaluation; evaluation_requested_at is when that evaluation was
-- admitted, so max(evaluation_requested_at) per agent is the agent's cooldown clock and
-- survives a restart.
ALTER TABLE runs ADD COLUMN evaluation_id VARCHAR;
ALTER TABLE runs ADD COLUMN evaluation_requested_at TIMESTAMP;

-- One row per evaluator per evaluation; rows of one evaluation share evaluation_id.
-- score NULL means the evaluator failed, and reason says why.
ALTER TABLE evaluations ADD COLUMN evaluation_id VARCHAR;
ALTER TABLE evaluations ADD COLUMN agent_id VARCHAR;
ALTER TABLE evaluations ADD COLUMN weight DOUBLE;
ALTER TABLE evaluations ADD COLUMN reason VARCHAR;
CREATE INDEX evaluations_run ON evaluations (run_id);

-- available_at: a retried job is not claimed before (backoff); lease_owner: which collector
-- process holds the lease (diagnostics; the fence is status + attempts).
ALTER TABLE jobs ADD COLUMN available_at TIMESTAMP;
ALTER TABLE jobs ADD COLUMN lease_owner VARCHAR;
CREATE INDEX jobs_run ON jobs (run_id);

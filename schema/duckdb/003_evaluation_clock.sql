-- The cooldown clock of automatic evaluation (docs/evaluation.md), one row per agent: when the agent's
-- latest evaluation was admitted. Admission reads and moves it in the transaction that
-- completes the run, by key, instead of taking max(runs.evaluation_requested_at) over every
-- run of the agent. runs.evaluation_requested_at stays: when each run's evaluation was admitted.
CREATE TABLE evaluation_clock (
    agent_id          VARCHAR PRIMARY KEY,
    last_requested_at TIMESTAMP NOT NULL
);

INSERT INTO evaluation_clock
SELECT agent_id, max(evaluation_requested_at)
FROM runs
WHERE evaluation_requested_at IS NOT NULL
GROUP BY agent_id;

-- Each run's span_count and total_tokens, kept by the single writer in the transaction that
-- stores the spans, so that reading runs never aggregates spans (for a page of 50 runs with
-- 5 M spans stored that aggregate cost 10-20 ms). Filled from the spans of older files.
ALTER TABLE runs ADD COLUMN span_count BIGINT DEFAULT 0;
ALTER TABLE runs ADD COLUMN total_tokens BIGINT DEFAULT 0;

UPDATE runs
SET span_count = s.span_count, total_tokens = s.total_tokens
FROM (
    SELECT run_id, count(*) AS span_count, coalesce(sum(token_count), 0) AS total_tokens
    FROM spans
    GROUP BY run_id
) AS s
WHERE runs.run_id = s.run_id;

-- Cost in USD of each span, computed at ingestion from its model and token counts, or stated by
-- the span itself (docs/mapping.md#cost). NULL means no price was known, never $0; cost_source
-- says where the price came from ("span", "config", "genai-prices <version>"). Spans stored
-- before this version keep NULL: they are not re-priced.
ALTER TABLE spans ADD COLUMN cached_input_tokens BIGINT;
ALTER TABLE spans ADD COLUMN cost_usd DOUBLE;
ALTER TABLE spans ADD COLUMN input_cost_usd DOUBLE;
ALTER TABLE spans ADD COLUMN output_cost_usd DOUBLE;
ALTER TABLE spans ADD COLUMN cost_source VARCHAR;

-- Each run's sum of its spans' cost_usd, kept by the single writer like span_count and
-- total_tokens (004_run_span_stats.sql); NULL while none of its spans has a cost.
ALTER TABLE runs ADD COLUMN total_cost_usd DOUBLE;

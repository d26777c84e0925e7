-- Kate's control store, version 3: the API's per-run rate limits (docs/api.md#rate-limits),
-- shared by every collector. A row is a token bucket; a missing row is a full bucket, so rows
-- idle long enough to be full again are deleted. UNLOGGED: a crash of PostgreSQL refills them.
CREATE UNLOGGED TABLE rate_buckets (
    key        TEXT PRIMARY KEY,
    tokens     DOUBLE PRECISION NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX rate_buckets_idle ON rate_buckets (updated_at);

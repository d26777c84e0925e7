"""Token buckets on PostgreSQL (interfaces.RateLimitStore): one row per key, locked while a
request takes from it, timed by the database's clock so that collectors' clocks do not matter."""

from __future__ import annotations

import random

from kate.collector.store.postgres.database import ControlTxn

_SWEEP_CHANCE = 0.01  # about one take in a hundred deletes the buckets that are full again


def take(txn: ControlTxn, key: str, limit: int, per_s: float, *, dry_run: bool) -> float:
    """The key's tokens before this request, refilled; one taken when there is one (not dry_run)."""
    txn.execute("INSERT INTO rate_buckets (key, tokens, updated_at) VALUES (%s, %s, clock_timestamp())"
                " ON CONFLICT (key) DO NOTHING", [key, float(limit)])
    ((tokens,),) = txn.execute(
        "SELECT least(%s, tokens + extract(epoch FROM clock_timestamp() - updated_at)::float8 * %s)"
        " FROM rate_buckets WHERE key = %s FOR UPDATE", [float(limit), per_s, key])
    if tokens >= 1 and not dry_run:
        txn.execute("UPDATE rate_buckets SET tokens = %s, updated_at = clock_timestamp() WHERE key = %s",
                    [tokens - 1, key])
    if random.random() < _SWEEP_CHANCE:
        txn.execute("DELETE FROM rate_buckets WHERE updated_at < clock_timestamp() - make_interval(secs => %s)",
                    [limit / per_s])
    return float(tokens)


def give_back(txn: ControlTxn, key: str, limit: int) -> None:
    txn.execute("UPDATE rate_buckets SET tokens = least(%s, tokens + 1) WHERE key = %s", [float(limit), key])

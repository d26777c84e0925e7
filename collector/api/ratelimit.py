"""Per-run request rate limits: span uploads (docs/api.md#rate-limits: 60 requests a minute) and
forced evaluations.

A token bucket per (agent, run): `limit` tokens, refilled continuously over one minute, so a
client may burst up to the limit and then sustain limit/minute. Handlers take a token only once
the request is known to be good (a refused request gives it back), so requests that name
another agent's run never spend its tokens. The buckets live in this process (DuckDB engine: one
collector), bounded (idle, full buckets are forgotten first past max_keys), or in the store when
it offers shared buckets (interfaces.RateLimitStore; the clickhouse engine keeps them on
PostgreSQL), so that the limit holds across every collector.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from kate.collector.errors import KateError, RateLimited
from kate.collector.store.interfaces import RateLimitStore


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


@dataclass(frozen=True, slots=True)
class Allowance:
    limit: int
    remaining: int
    reset_s: int  # seconds until the bucket is full again

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_s),
        }


def run_key(agent_id: str, run_id: str) -> str:
    """The bucket of one run: per agent too, so that no other agent can spend it."""
    return f"run {run_id} of agent {agent_id}"


class RateLimiter:
    def __init__(self, per_minute: int, *, shared: RateLimitStore | None = None, max_keys: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._limit = per_minute
        self._rate_per_s = per_minute / 60.0
        self._shared = shared
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._max_keys = max_keys
        self._clock = clock

    async def acquire(self, key: str) -> Allowance:
        """Take one token for key, or raise RateLimited with the seconds until the next one."""
        tokens = await self._tokens(key, take=True) - 1
        reset_s = math.ceil((self._limit - tokens) / self._rate_per_s)
        return Allowance(self._limit, int(tokens), reset_s)

    @contextlib.asynccontextmanager
    async def charged(self, key: str) -> AsyncIterator[Allowance]:
        """acquire() for the block, given back when the block raises a KateError (a refused
        request: 404, 409, 503, ...): only requests that went through spend tokens."""
        allowance = await self.acquire(key)
        try:
            yield allowance
        except KateError:
            await self.give_back(key)
            raise

    async def require_token(self, key: str) -> None:
        """Raise RateLimited as acquire() would, taking nothing: a cheap refusal before the work
        that decides whether the request is worth a token."""
        await self._tokens(key, take=False)

    async def give_back(self, key: str) -> None:
        """Return the token acquire() took for a request that was then refused."""
        if self._shared is not None:
            await self._shared.give_back(key, self._limit)
            return
        bucket = self._buckets.get(key)
        if bucket is not None:
            bucket.tokens = min(self._limit, bucket.tokens + 1)

    async def _tokens(self, key: str, *, take: bool) -> float:
        """The tokens of the key's bucket before this request (taking one when take and one is there)."""
        if self._shared is not None:
            tokens = await self._shared.take(key, self._limit, self._rate_per_s, dry_run=not take)
        else:
            bucket = self._refilled(key, self._clock())
            tokens = bucket.tokens
            if take and tokens >= 1:
                bucket.tokens -= 1
        if tokens < 1:
            wait_s = math.ceil((1 - tokens) / self._rate_per_s)
            msg = f"rate limit of {self._limit} requests a minute exceeded for {key}; retry in {wait_s} s"
            raise RateLimited(msg, retry_after_s=wait_s, limit=self._limit, remaining=0)
        return tokens

    def _refilled(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(tokens=float(self._limit), updated=now)
            self._buckets[key] = bucket
            if len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        else:
            bucket.tokens = min(self._limit, bucket.tokens + (now - bucket.updated) * self._rate_per_s)
            bucket.updated = now
            self._buckets.move_to_end(key)
        return bucket

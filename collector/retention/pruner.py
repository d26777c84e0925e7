"""The retention pass (docs/operations.md#retention): find the finished runs past their age or
past the byte cap, oldest first, and delete them in slices of `retention.slice_runs` runs, one
write transaction each, so that ingestion's writes queue between slices rather than behind the
whole pass (or in the slices the engine asks for: RetentionStore.runs_per_delete). Runs in the
background every `retention.interval_s`; `kate prune` runs one pass.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from kate.collector import metrics
from kate.collector.background import BackgroundTask
from kate.collector.retention.settings import RetentionConfig
from kate.collector.store.interfaces import DataSize, Deleted, DueRun, RetentionStore, utc_now

logger = logging.getLogger("kate.retention")
MAX_SLICES_PER_PASS = 50  # a pass ends after this many slices; the next pass goes on
RUN_OVERHEAD_BYTES = 512  # a run's own row and index entries, beside its spans, for the byte cap


@dataclass(frozen=True, slots=True)
class Plan:
    """What one pass deletes: runs due by age, then the oldest others while over the byte cap."""

    by_age: list[DueRun] = field(default_factory=list)
    by_size: list[DueRun] = field(default_factory=list)
    size: DataSize | None = None

    @property
    def runs(self) -> list[DueRun]:
        return self.by_age + self.by_size


class Pruner:
    """One collector's retention: plan() reads, prune() deletes; start()/stop() run it periodically."""

    def __init__(self, store: RetentionStore, config: RetentionConfig, *,
                 clock: Callable[[], dt.datetime] = utc_now) -> None:
        self._store = store
        self._config = config
        self._clock = clock
        self._task = BackgroundTask(self._run)

    async def plan(self) -> Plan:
        """The runs a pass would delete now (at most MAX_SLICES_PER_PASS slices of them)."""
        limit = self._config.slice_runs * MAX_SLICES_PER_PASS
        by_age = await self._by_age(limit) if self._ages_set() else []
        size, by_size = None, []
        if self._config.max_bytes_value > 0:
            size = await self._store.data_size()
            by_size = await self._by_size(size, {run.run_id for run in by_age}, limit - len(by_age))
        return Plan(by_age, by_size, size)

    async def prune(self) -> Deleted:
        """Delete what plan() finds, slice by slice; the counts deleted."""
        plan = await self.plan()
        ids = [run.run_id for run in plan.runs]
        slice_runs = self._store.runs_per_delete or self._config.slice_runs
        total = Deleted()
        for start in range(0, len(ids), slice_runs):
            chunk = ids[start : start + slice_runs]
            deleted = await self._store.delete_runs(chunk)
            metrics.RETENTION_DELETED_RUNS.inc(deleted.runs)
            metrics.RETENTION_DELETED_SPANS.inc(deleted.spans)
            total += deleted
            await asyncio.sleep(0)  # let the event loop hand ingestion's writes to the writer first
        if total.runs:
            logger.info("retention deleted %d runs, %d spans, %d evaluations, %d jobs",
                        total.runs, total.spans, total.evaluations, total.jobs)
        return total

    def start(self) -> None:
        if self._config.enabled:
            self._task.start()

    async def stop(self) -> None:
        await self._task.stop()

    async def _run(self) -> None:
        while True:
            try:
                await self.prune()
            except Exception:  # loop boundary: the next pass tries again (an overloaded writer, a closing store)
                logger.exception("retention pass failed")
            await asyncio.sleep(self._config.interval_s)

    def _ages_set(self) -> bool:
        return self._config.max_age_days > 0 or any(days > 0 for days in self._config.max_age_days_by_agent.values())

    async def _by_age(self, limit: int) -> list[DueRun]:
        now = self._clock()
        default = _cutoff(now, self._config.max_age_days)
        by_agent = {agent: _cutoff(now, days) for agent, days in self._config.max_age_days_by_agent.items()}
        return await self._store.expired_runs(default, by_agent, limit)

    async def _by_size(self, size: DataSize, taken: set[str], limit: int) -> list[DueRun]:
        """The oldest finished runs whose estimated bytes bring the data under the cap."""
        excess = float(size.used_bytes - self._config.max_bytes_value)
        if excess <= 0 or limit <= 0:
            return []
        per_span = size.used_bytes / max(size.spans, 1)
        chosen: list[DueRun] = []
        after: tuple[dt.datetime, str] | None = None
        while excess > 0 and len(chosen) < limit:
            page = await self._store.oldest_runs(self._config.slice_runs, after)
            if not page:
                break
            for run in page:
                after = (run.finished_at, run.run_id)
                if run.run_id in taken:
                    excess -= run.span_count * per_span + RUN_OVERHEAD_BYTES  # already going by age
                    continue
                if excess <= 0 or len(chosen) >= limit:
                    break
                chosen.append(run)
                excess -= run.span_count * per_span + RUN_OVERHEAD_BYTES
        return chosen


def _cutoff(now: dt.datetime, days: float) -> dt.datetime | None:
    return now - dt.timedelta(days=days) if days > 0 else None

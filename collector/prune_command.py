"""`kate prune`: one retention pass over a stopped collector's file, or over the clickhouse
engine's servers (docs/operations.md#retention).

With --dry-run it lists what the pass would delete, per agent, and changes nothing. A running
collector prunes its own file every retention.interval_s; DuckDB lets one process hold a file,
so this command refuses a file a collector has open. The clickhouse engine's servers take this
pass beside running collectors.
"""

from __future__ import annotations

import asyncio
import sys
from collections import defaultdict
from pathlib import Path

from kate.collector.completion import CompletionHub
from kate.collector.config import Config
from kate.collector.errors import KateError
from kate.collector.retention.pruner import Plan, Pruner
from kate.collector.store.clickhouse.schema import SchemaOutdated
from kate.collector.store.duckdb.store import DEFAULT_FOLD
from kate.collector.store.engine_settings import Engine
from kate.collector.store.engines import build_store, storage_label
from kate.collector.store.values import Deleted, DueRun


def prune_file(config: Config, *, dry_run: bool) -> int:
    if not config.retention.enabled:
        print("kate prune: no retention is set (retention.max_age_days, max_age_days_by_agent or max_bytes, "
              "or --max-age-days / --max-bytes); nothing to do", file=sys.stderr)
        return 2
    path = storage_label(config.storage)
    on_file = config.storage.engine == Engine.DUCKDB
    if on_file and not Path(path).exists():
        print(f"kate prune: {path} does not exist", file=sys.stderr)
        return 1
    try:
        plan, deleted = asyncio.run(_pass(config, dry_run=dry_run))
    except (KateError, SchemaOutdated) as exc:
        advice = " (stop the collector that holds it)" if on_file else ""
        print(f"kate prune: cannot open {path}: {exc}{advice}", file=sys.stderr)
        return 1
    _print_plan(plan)
    if dry_run:
        print(f"kate prune: dry run: {len(plan.runs):,} runs, {sum(run.span_count for run in plan.runs):,} spans "
              f"would be deleted from {path}; nothing changed")
    else:
        print(f"kate prune: deleted {deleted.runs:,} runs, {deleted.spans:,} spans, {deleted.evaluations:,} "
              f"evaluations, {deleted.jobs:,} jobs from {path}")
    return 0


async def _pass(config: Config, *, dry_run: bool) -> tuple[Plan, Deleted]:
    store = build_store(config, CompletionHub(), DEFAULT_FOLD)
    await store.start()
    try:
        pruner = Pruner(store.retention, config.retention)
        plan = await pruner.plan()
        return plan, Deleted() if dry_run else await pruner.prune()
    finally:
        await store.stop()


def _print_plan(plan: Plan) -> None:
    if plan.size is not None:
        print(f"data: {plan.size.used_bytes:,} bytes in use ({plan.size.file_bytes:,} bytes of blocks in the file), "
              f"{plan.size.spans:,} spans")
    for reason, runs in (("past their age", plan.by_age), ("over max_bytes", plan.by_size)):
        by_agent: dict[str, list[DueRun]] = defaultdict(list)
        for run in runs:
            by_agent[run.agent_id].append(run)
        for agent_id, due in sorted(by_agent.items()):
            print(f"{agent_id}: {len(due):,} runs {reason}, {sum(run.span_count for run in due):,} spans, "
                  f"finished {due[0].finished_at:%Y-%m-%d %H:%M} .. {due[-1].finished_at:%Y-%m-%d %H:%M} UTC")

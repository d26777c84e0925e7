"""The clickhouse engine's RunStore: runs, agents and sessions on the control store, each run's
span counters from ClickHouse."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from kate.collector.completion import CompletedRun, CompletionHub, FollowUps
from kate.collector.store.clickhouse import spans as ch_spans
from kate.collector.store.clickhouse.servers import Servers, with_span_totals
from kate.collector.store.postgres import runs as pg_runs
from kate.collector.store.postgres.database import ControlTxn
from kate.collector.store.values import NewRun, Page, RunFilter


class Runs:
    def __init__(self, servers: Servers, completions: CompletionHub) -> None:
        self._servers = servers
        self._completions = completions

    async def list(self, agent_id: str, filters: RunFilter, limit: int, after: str | None) -> Page:
        def read(txn: ControlTxn) -> tuple[list[dict[str, Any]], str | None]:
            ids, next_cursor = pg_runs.run_keys(txn, agent_id, filters, limit, after)
            return pg_runs.api_runs(txn, ids), next_cursor

        rows, next_cursor = await self._servers.control.run(read)
        return Page(items=await with_span_totals(self._servers.clickhouse, rows), next_cursor=next_cursor)

    async def get(self, agent_id: str, run_id: str) -> dict[str, Any]:
        def read(txn: ControlTxn) -> list[dict[str, Any]]:
            pg_runs.run_status(txn, agent_id, run_id)  # NotFound for an unknown run or another agent's
            return pg_runs.api_runs(txn, [run_id])

        rows = await self._servers.control.run(read)
        (run,) = await with_span_totals(self._servers.clickhouse, rows)
        return run

    async def create(self, run: NewRun) -> None:
        await self._servers.control.run(lambda txn: pg_runs.insert_run(txn, run))

    async def complete(self, agent_id: str, run_id: str) -> None:
        def complete(txn: ControlTxn) -> FollowUps:
            pg_runs.complete_run(txn, agent_id, run_id)
            return self._completions.in_transaction(txn, [CompletedRun(agent_id, run_id)])

        (await self._servers.control.run(complete)).run()

    async def fail(self, agent_id: str, run_id: str, error: str | None) -> None:
        await self._servers.control.run(lambda txn: pg_runs.fail_run(txn, agent_id, run_id, error))

    async def require_running(self, agent_id: str, run_id: str) -> None:
        await self._servers.control.run(lambda txn: pg_runs.check_running(txn, agent_id, run_id))

    async def agents(self, *, hosted: Collection[str], allowed: Collection[str] | None, limit: int,
                     after: str | None) -> Page:
        return await self._servers.control.run(
            lambda txn: pg_runs.list_agents(txn, hosted=hosted, allowed=allowed, limit=limit, after=after))

    async def sessions(self, agent_id: str, limit: int, after: str | None) -> Page:
        rows, run_ids, next_cursor = await self._servers.control.run(
            lambda txn: pg_runs.session_page(txn, agent_id, limit, after))
        totals = await ch_spans.run_totals(self._servers.clickhouse, [run_id for ids in run_ids.values() for run_id in ids])
        return Page(items=[_session(row, [totals.of(run_id) for run_id in run_ids[row["session_id"]]]) for row in rows],
                    next_cursor=next_cursor)

    async def session_runs(self, agent_id: str, session_id: str, limit: int, after: str | None) -> Page:
        def read(txn: ControlTxn) -> tuple[list[dict[str, Any]], str | None]:
            ids, next_cursor = pg_runs.session_run_keys(txn, agent_id, session_id, limit, after)
            return pg_runs.api_runs(txn, ids), next_cursor

        rows, next_cursor = await self._servers.control.run(read)
        return Page(items=await with_span_totals(self._servers.clickhouse, rows), next_cursor=next_cursor)


def _session(row: dict[str, Any], totals: list[dict[str, Any]]) -> dict[str, Any]:
    """A session in the API's shape (the DuckDB engine's api_sessions), its runs' span counters summed."""
    costs = [item["total_cost_usd"] for item in totals if item["total_cost_usd"] is not None]
    return {
        "session_id": row["session_id"], "agent_id": row["agent_id"], "user_id": row["user_id"],
        "run_count": int(row["run_count"]), "span_count": sum(item["span_count"] for item in totals),
        "total_tokens": sum(item["total_tokens"] for item in totals), "total_cost_usd": sum(costs) if costs else None,
        "failed_runs": int(row["failed_runs"]), "first_input": row["first_input"], "last_output": row["last_output"],
        "p50_latency_ms": row["p50_latency_ms"], "p99_latency_ms": row["p99_latency_ms"],
        "first_time": row["first_time"], "last_time": row["last_time"],
    }

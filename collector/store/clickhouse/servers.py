"""What the clickhouse engine's facets share: the two servers, and run rows completed with their
span counters from ClickHouse."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kate.collector.store.clickhouse import spans as ch_spans
from kate.collector.store.clickhouse.client import ClickHouseClient
from kate.collector.store.postgres.database import ControlDatabase


@dataclass(frozen=True, slots=True)
class Servers:
    clickhouse: ClickHouseClient  # spans
    control: ControlDatabase  # runs, evaluations, jobs, limits (PostgreSQL)


async def with_span_totals(clickhouse: ClickHouseClient, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """api_runs rows with span_count, total_tokens and total_cost_usd summed on ClickHouse, in
    the DuckDB engine's key order."""
    totals = await ch_spans.run_totals(clickhouse, [row["id"] for row in rows])
    shaped = []
    for row in rows:
        counted = totals.of(row["id"])
        scores = row.pop("scores")
        session_id, user_id = row.pop("session_id"), row.pop("user_id")
        shaped.append({**row, **counted, "session_id": session_id, "user_id": user_id, "scores": scores})
    return shaped

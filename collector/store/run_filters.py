"""The WHERE conditions of a RunFilter (GET /agents/{agent_id}/runs), in the SQL that DuckDB and
PostgreSQL share; each engine passes its parameter placeholder."""

from __future__ import annotations

from typing import Any

from kate.collector.store.values import RunFilter


def run_filter_conditions(filters: RunFilter, placeholder: str) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    if filters.status is not None:
        where.append(f"status = {placeholder}")
        params.append(filters.status.value)
    if filters.trigger is not None:
        where.append(f"trigger = {placeholder}")
        params.append(filters.trigger.value)
    if filters.since is not None:
        where.append(f"created_at >= {placeholder}")
        params.append(filters.since)
    if filters.until is not None:
        where.append(f"created_at < {placeholder}")
        params.append(filters.until)
    if filters.text:  # a substring of user_input or output, wildcards taken literally
        pattern = "%" + filters.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append(f"(user_input ILIKE {placeholder} ESCAPE '\\' OR output ILIKE {placeholder} ESCAPE '\\')")
        params += [pattern, pattern]
    return where, params

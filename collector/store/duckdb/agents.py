"""Agents, read side: every agent with runs or a hosted declaration, with its run count and last
activity, a page at a time in agent_id order. Agents exist only through their runs (and the
hosted_agents config), so this is an aggregate over runs; no table of its own."""

from __future__ import annotations

from collections.abc import Collection

import duckdb
from kate.collector.store.duckdb.pages import decode_cursor, dict_rows, encode_cursor
from kate.collector.store.values import Page

_TIME = "'%Y-%m-%dT%H:%M:%S.%gZ'"
# The latest of any run's created, started and completed times; hosted agents without runs
# appear with run_count 0 and last_activity_at null.
_AGENTS = f"""
WITH counted AS (
    SELECT agent_id, count(*) AS run_count,
           max(greatest(created_at, coalesce(started_at, created_at), coalesce(completed_at, created_at))) AS last_at
    FROM runs {{scope}} GROUP BY agent_id
), hosted AS (SELECT unnest(?::VARCHAR[]) AS agent_id)
SELECT coalesce(c.agent_id, h.agent_id) AS agent_id,
       coalesce(c.run_count, 0) AS run_count,
       strftime(c.last_at, {_TIME}) AS last_activity_at,
       h.agent_id IS NOT NULL AS hosted
FROM counted c FULL OUTER JOIN hosted h ON c.agent_id = h.agent_id
WHERE coalesce(c.agent_id, h.agent_id) > ?
ORDER BY 1 LIMIT ?
"""


def list_agents(
    cursor: duckdb.DuckDBPyConnection,
    *,
    hosted: Collection[str],
    allowed: Collection[str] | None,
    limit: int,
    after: str | None = None,
) -> Page:
    """Agents in agent_id order after the opaque cursor `after`; only `allowed` ones when a key
    is limited to some agents (None: every agent)."""
    scope, params = "", []
    if allowed is not None:
        scope = "WHERE agent_id IN (SELECT unnest(?::VARCHAR[]))"
        params.append(sorted(allowed))
        hosted = [agent for agent in hosted if agent in allowed]
    last_id = decode_cursor(after, (str,))[0] if after is not None else ""
    rows = dict_rows(cursor.execute(_AGENTS.format(scope=scope), [*params, sorted(hosted), last_id, limit + 1]))
    next_cursor = encode_cursor((rows[limit - 1]["agent_id"],)) if len(rows) > limit else None
    return Page(items=rows[:limit], next_cursor=next_cursor)

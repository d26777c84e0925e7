"""Reads of sessions (docs/api.md#sessions): an agent's sessions, newest activity first, and a
session's runs in the order they were created. Sessions are not stored: the `sessions` view
sums the runs that carry a session_id (schema/duckdb/views.sql)."""

from __future__ import annotations

from typing import Any

import duckdb
from kate.collector.store.duckdb.pages import decode_cursor, dict_rows, encode_cursor
from kate.collector.store.duckdb.runs import run_page
from kate.collector.store.values import Page


def list_sessions(cursor: duckdb.DuckDBPyConnection, agent_id: str, limit: int, after: str | None) -> Page:
    """The agent's sessions by last activity, newest first, `limit` per page after the cursor."""
    where, params = ["agent_id = ?"], [agent_id]
    if after is not None:
        last_us, last_id = decode_cursor(after, (int, str))
        where.append("(last_time_us < ? OR (last_time_us = ? AND session_id < ?))")
        params += [last_us, last_us, last_id]
    rows = dict_rows(cursor.execute(
        f"SELECT * FROM api_sessions WHERE {' AND '.join(where)} ORDER BY last_time_us DESC, session_id DESC LIMIT ?",
        [*params, limit + 1],
    ))
    next_cursor = encode_cursor((rows[limit - 1]["last_time_us"], rows[limit - 1]["session_id"])) if len(rows) > limit else None
    return Page(items=[_without_key(row) for row in rows[:limit]], next_cursor=next_cursor)


def session_runs(cursor: duckdb.DuckDBPyConnection, agent_id: str, session_id: str, limit: int,
                 after: str | None) -> Page:
    """The session's runs, oldest first (by created_at, then id); an empty first page: no such session."""
    return run_page(cursor, ["agent_id = ?", "session_id = ?"], [agent_id, session_id], limit, after, newest_first=False)


def _without_key(row: dict[str, Any]) -> dict[str, Any]:
    row.pop("last_time_us", None)
    return row

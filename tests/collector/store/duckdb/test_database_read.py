"""Database.read's timeout holds for a read of several statements: the interrupt is repeated until
the read ends, because DuckDB drops one that arrives while no statement runs."""

from __future__ import annotations

import asyncio
import threading
import time

import duckdb
import pytest
from kate.collector.store.duckdb.database import Database

SLOW = "SELECT count(*) FROM range(3000000000) a WHERE md5(a.range::VARCHAR) LIKE '%ff%'"  # minutes


async def test_a_timeout_that_fires_between_two_statements_still_stops_the_read(database: Database) -> None:
    between_statements = threading.Event()

    def two_statements(cursor: duckdb.DuckDBPyConnection) -> object:
        cursor.execute("SELECT 1").fetchall()
        between_statements.wait(1.0)  # Python work between statements, longer than the timeout
        return cursor.execute(SLOW).fetchall()

    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(database.read(two_statements, timeout_s=0.2), timeout=30)
    assert time.monotonic() - started < 10
    assert await database.read(lambda cursor: cursor.execute("SELECT 42").fetchall(), timeout_s=5) == [(42,)]

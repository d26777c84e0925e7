"""The control store's connection pool, schema migrations and transactions (psycopg 3).

Each operation is one function run in one transaction on a pooled connection, in a thread
(asyncio.to_thread), so the control store's modules are plain synchronous SQL, as the DuckDB
engine's are. A server that refuses, drops or times out a connection ends the operation in
StoreUnreachable (503 with Retry-After): the transaction did not commit, so a retry is safe.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from importlib import resources
from typing import Any, TypeVar

import psycopg
import psycopg_pool
from kate.collector.errors import StoreUnreachable

logger = logging.getLogger(__name__)
T = TypeVar("T")

MIGRATIONS = ("001_control.sql", "002_jobs.sql", "003_rate_limits.sql", "004_genai_log_pending.sql")
_MIGRATION_LOCK = 0x6B617465  # pg_advisory_xact_lock key ("kate"): one collector migrates at a time
CONNECT_TIMEOUT_S = 5.0
# Waiting this long for a pooled connection means the server is down or every connection is busy:
# either way the request answers 503 store_unreachable rather than stalling the sender.
_POOL_WAIT_S = 3.0


class ControlTxn:
    """An open transaction of the control store: execute() returns the rows, if any."""

    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        self._connection = connection
        self._after_commit: list[Callable[[], None]] = []

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        cursor = self._connection.execute(sql, params)
        return cursor.fetchall() if cursor.description is not None else []

    def dict_rows(self, sql: str, params: Sequence[Any] | None = None) -> list[dict[str, Any]]:
        cursor = self._connection.execute(sql, params)
        names = [column.name for column in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def on_commit(self, action: Callable[[], None]) -> None:
        self._after_commit.append(action)


class ControlDatabase:
    """A bounded pool of connections to storage.control_url."""

    def __init__(self, url: str, max_connections: int = 8) -> None:
        self.url = url
        # check: a connection that a server restart broke is replaced before use, so the first
        # requests after an outage succeed instead of failing on stale connections.
        self._pool = psycopg_pool.ConnectionPool(url, min_size=1, max_size=max_connections, open=False,
                                                 timeout=_POOL_WAIT_S, check=psycopg_pool.ConnectionPool.check_connection,
                                                 kwargs={"connect_timeout": int(CONNECT_TIMEOUT_S)})

    def open(self) -> None:
        """Connect and bring the schema up to date (StoreUnreachable when the server is down)."""
        try:
            self._pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
        except psycopg_pool.PoolTimeout as exc:
            self._pool.close()
            raise StoreUnreachable(f"PostgreSQL at {server_of(self.url)} did not answer: {exc}") from None
        self.transaction(_migrate)

    def close(self) -> None:
        self._pool.close()

    async def run(self, operation: Callable[[ControlTxn], T]) -> T:
        """operation in one transaction, off the event loop."""
        return await asyncio.to_thread(self.transaction, operation)

    def transaction(self, operation: Callable[[ControlTxn], T]) -> T:
        try:
            with self._pool.connection() as connection, connection.transaction():
                txn = ControlTxn(connection)
                result = operation(txn)
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
            raise StoreUnreachable(f"PostgreSQL at {server_of(self.url)} did not answer: {first_line(exc)}") from None
        for action in txn._after_commit:
            action()
        return result


def _migrate(txn: ControlTxn) -> None:
    txn.execute("SELECT pg_advisory_xact_lock(%s)", [_MIGRATION_LOCK])
    txn.execute("CREATE TABLE IF NOT EXISTS kate_schema (version INTEGER PRIMARY KEY, applied_at TIMESTAMP NOT NULL)")
    applied = {row[0] for row in txn.execute("SELECT version FROM kate_schema")}
    folder = resources.files("kate.schema").joinpath("postgres")
    for version, name in enumerate(MIGRATIONS, start=1):
        if version not in applied:
            txn.execute(folder.joinpath(name).read_text(encoding="utf-8"))
            txn.execute("INSERT INTO kate_schema VALUES (%s, now() AT TIME ZONE 'UTC')", [version])
            logger.info("control store: applied %s", name)
    txn.execute(folder.joinpath("views.sql").read_text(encoding="utf-8"))


def server_of(url: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(url)
    return f"{info.get('host', 'localhost')}:{info.get('port', 5432)}/{info.get('dbname', '')}"


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]

"""Kate's ClickHouse SQL run by chdb (the current ClickHouse engine, in this process), through the
same methods as store/clickhouse/client.py, so the engine's own functions run on it unchanged:
the drift check between ClickHouse 18.16 (the server CI runs) and current releases."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from kate.collector.store.clickhouse.client import ClickHouseError
from kate.collector.store.engine_settings import ClickHouseConfig

chdb_session = pytest.importorskip("chdb.session", reason="chdb (the dev extra) runs the drift check")


# Settings that only make sense for a server: a Distributed insert's wait, and readonly (set in a
# session it cannot be unset, and the drift check compares results, not the guard).
_SERVER_ONLY = frozenset({"insert_distributed_sync", "readonly"})


class ChdbClient:
    """The subset of ClickHouseClient that the spans and schema modules call."""

    def __init__(self, path: Path, database: str) -> None:
        self.config = ClickHouseConfig(urls=("chdb://in-process",), database=database)
        self.urls = self.config.urls
        self._session = chdb_session.Session(str(path))
        self._session.query("SET output_format_json_quote_64bit_integers = 0")
        self._session.query("SET output_format_json_quote_denormals = 0")

    async def execute(self, sql: str, *, data: bytes | None = None, settings: Mapping[str, str] | None = None,
                      database: str | None = None, node: int | None = None) -> bytes:
        statement = sql if data is None else f"{sql} {data.decode()}"  # inline rows follow FORMAT
        try:
            self._session.query(f"USE {database or self.config.database}")
            for key, value in (settings or {}).items():
                if key not in _SERVER_ONLY:
                    self._session.query(f"SET {key} = '{value}'")
            result = self._session.query(statement)
        except RuntimeError as exc:  # chdb raises its ClickHouse exceptions as RuntimeError
            raise ClickHouseError(None, str(exc)) from None
        return bytes(result.bytes()) if result is not None else b""

    async def store(self, sql: str, *, data: bytes | None = None, settings: Mapping[str, str] | None = None) -> bytes:
        return await self.execute(sql, data=data, settings=settings)

    async def json_rows(self, sql: str, *, settings: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        body = await self.execute(f"{sql} FORMAT JSONEachRow", settings=settings)
        return [json.loads(line) for line in body.splitlines() if line]

    async def on_every_node(self, sql: str, *, database: str | None = None) -> None:
        await self.execute(sql, database=database)

    def close(self) -> None:
        self._session.close()

"""ClickHouse over its HTTP interface (aiohttp): queries, inserts, DDL on every node.

Written for the SQL subset that ClickHouse 18.16 and current releases answer alike
(docs/deployment.md#clickhouse-versions): no query parameters, so every literal goes through
`quote`; 64-bit integers asked for unquoted in JSON on every request; inserts into a
Distributed table synchronous, so that an acknowledged span is on its shard.

A node that refuses or drops a connection is passed over for the next one; when none answers,
the request ends in StoreUnreachable (503 with Retry-After). A query ClickHouse rejects ends in
ClickHouseError with ClickHouse's code and message.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from typing import Any

import aiohttp
from kate.collector.errors import StoreUnreachable
from kate.collector.store.engine_settings import ClickHouseConfig

# Sent with every request; each exists on 18.16 and on current releases. max_query_size: Kate's
# own statements name up to 10,000 runs as literals (retention: about 400 KB), past the 256 KiB
# that ClickHouse parses by default; /sql bodies are capped by server.max_body_bytes before that.
_ALWAYS = {
    "output_format_json_quote_64bit_integers": "0",
    "output_format_json_quote_denormals": "0",
    "allow_experimental_low_cardinality_type": "1",
    "max_query_size": str(16 * 2**20),
}


# ClickHouse error codes that say "not now" rather than "wrong": the request may succeed later,
# so they answer 503 store_unreachable (retryable) instead of failing as a bug.
TRANSIENT_CODES = frozenset({
    159,  # TIMEOUT_EXCEEDED
    202,  # TOO_MANY_SIMULTANEOUS_QUERIES
    209,  # SOCKET_TIMEOUT
    210,  # NETWORK_ERROR
    241,  # MEMORY_LIMIT_EXCEEDED
    252,  # TOO_MANY_PARTS
    279,  # ALL_CONNECTION_TRIES_FAILED (a shard of a Distributed table is down)
})


class ClickHouseError(Exception):
    """ClickHouse answered a query with an exception (HTTP 4xx/5xx with its text)."""

    def __init__(self, code: int | None, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def quote(value: str) -> str:
    """A ClickHouse string literal: backslash and quote escaped (no parameters on 18.16)."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def quote_list(values: list[str] | tuple[str, ...]) -> str:
    """A literal list for `IN (...)`; never empty (an empty list is `('')`, which matches no id)."""
    return "(" + ", ".join(quote(value) for value in values or [""]) + ")"


class ClickHouseClient:
    """One aiohttp session to the nodes of storage.clickhouse.urls."""

    def __init__(self, config: ClickHouseConfig) -> None:
        self.config = config
        self.urls = tuple(url.rstrip("/") for url in config.urls)
        self._next = itertools.cycle(range(len(self.urls)))
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None:
            authorization = aiohttp.encode_basic_auth(self.config.user, self.config.password)
            timeout = aiohttp.ClientTimeout(total=self.config.timeout_s)
            self._session = aiohttp.ClientSession(headers={"Authorization": authorization}, timeout=timeout)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def execute(self, sql: str, *, data: bytes | None = None, settings: Mapping[str, str] | None = None,
                      database: str | None = None, node: int | None = None) -> bytes:
        """Run one statement (with `data` as the insert's rows) and return the raw answer. On a
        node given by index only that node is asked; otherwise the nodes in turn until one answers."""
        params = {**_ALWAYS, **(settings or {}), "database": database or self.config.database}
        order = [node] if node is not None else self._rotation()
        failures = []
        for index in order:
            try:
                return await self._post(self.urls[index], sql, data, params)
            except (TimeoutError, aiohttp.ClientConnectionError, OSError) as exc:
                failures.append(f"{self.urls[index]}: {type(exc).__name__}: {exc}".rstrip(": "))
        raise StoreUnreachable("ClickHouse did not answer: " + "; ".join(failures))

    async def store(self, sql: str, *, data: bytes | None = None, settings: Mapping[str, str] | None = None) -> bytes:
        """execute() for Kate's own statements: a transient ClickHouse error is StoreUnreachable."""
        try:
            return await self.execute(sql, data=data, settings=settings)
        except ClickHouseError as exc:
            if exc.code in TRANSIENT_CODES:
                raise StoreUnreachable(f"ClickHouse could not answer now: {exc.message}") from None
            raise

    async def json_rows(self, sql: str, *, settings: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        """The rows of a SELECT (FORMAT JSONEachRow is appended) as dicts."""
        body = await self.store(f"{sql} FORMAT JSONEachRow", settings=settings)
        return [json.loads(line) for line in body.splitlines() if line]

    async def on_every_node(self, sql: str, *, database: str | None = None) -> None:
        """DDL applied to each node itself (ON CLUSTER needs ZooKeeper, which a small cluster may lack)."""
        for index in range(len(self.urls)):
            await self.execute(sql, database=database, node=index)

    def _rotation(self) -> list[int]:
        start = next(self._next)
        return [(start + offset) % len(self.urls) for offset in range(len(self.urls))]

    async def _post(self, url: str, sql: str, data: bytes | None, params: dict[str, str]) -> bytes:
        assert self._session is not None, "ClickHouseClient.start() first"
        if data is None:
            body, query = sql.encode(), params
        else:  # the statement goes in the URL, the rows in the body
            body, query = data, {**params, "query": sql}
        async with self._session.post(url + "/", params=query, data=body) as response:
            answer = await response.read()
            if response.status != 200:
                raise _error(answer.decode("utf-8", "replace"))
            return answer


def _error(text: str) -> ClickHouseError:
    """ClickHouse's error text: "Code: 60, e.displayText() = DB::Exception: Table ... doesn't exist, ..."."""
    code = None
    if text.startswith("Code: "):
        number = text[6:].split(",", 1)[0]
        code = int(number) if number.isdigit() else None
    return ClickHouseError(code, text.strip())

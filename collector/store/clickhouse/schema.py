"""Kate's tables on ClickHouse, created at start on every node (idempotent).

Single node: one `spans_all` table. With storage.clickhouse.cluster: `spans_local` on each node
and `spans_all`, a Distributed table over them sharded by run (so one run's spans are on one
shard, and deduplicating a run's spans is a per-shard FINAL). Kate reads and writes spans_all.
`spans`, for analysis SQL, is a view of spans_all FINAL: every span once, as on DuckDB; the
analysis views of schema/clickhouse/views.sql sit over it. GenAI log records are kept the same
way: `genai_log_records_all` (over `genai_log_records_local`, sharded by trace) and the
`genai_log_records` view. The DDL is applied to each node itself: ON CLUSTER would need
ZooKeeper, which a small cluster may not run.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources

from kate.collector.store.clickhouse.client import ClickHouseClient, quote

SPANS = "spans_all"  # the table every read and write names (Distributed with a cluster)
SPANS_LOCAL = "spans_local"
SPANS_VIEW = "spans"  # analysis SQL: deduplicated
RECORDS = "genai_log_records_all"
RECORDS_LOCAL = "genai_log_records_local"
RECORDS_VIEW = "genai_log_records"
# Columns of Kate's own bookkeeping, left out of the analysis views.
_SPAN_BOOKKEEPING = ("fold_version", "log_texts")


class SchemaOutdated(RuntimeError):
    """A table was created by an earlier Kate in a shape this one cannot use."""


def _statements(name: str, **values: str) -> list[str]:
    """The statements of schema/clickhouse/<name>, comments left out, placeholders filled in."""
    text = resources.files("kate.schema").joinpath(f"clickhouse/{name}").read_text(encoding="utf-8")
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    for key, value in values.items():
        code = code.replace("{" + key + "}", value)
    return [statement.strip() for statement in code.split(";") if statement.strip()]


def spans_ddl(database: str, table: str) -> str:
    (statement,) = _statements("spans.sql", database=database, table=table)
    return statement


def records_ddl(database: str, table: str) -> str:
    (statement,) = _statements("genai_log_records.sql", database=database, table=table)
    return statement


async def create_tables(client: ClickHouseClient) -> None:
    config = client.config
    database = config.database
    await client.on_every_node(f"CREATE DATABASE IF NOT EXISTS {database}", database="default")
    await _create_table(client, spans_ddl, SPANS, SPANS_LOCAL, "run_id")
    await _require_fold_version(client)
    await _create_table(client, records_ddl, RECORDS, RECORDS_LOCAL, "trace_id")
    span_columns = await _columns(client, SPANS)
    shown = ", ".join(name for name in span_columns if name not in _SPAN_BOOKKEEPING)
    await client.on_every_node(f"CREATE VIEW IF NOT EXISTS {database}.{SPANS_VIEW} AS SELECT {shown}"
                               f" FROM {database}.{SPANS} FINAL")
    record_columns = await _columns(client, RECORDS)
    shown = ", ".join(name for name in record_columns if name != "record_day")
    await client.on_every_node(f"CREATE VIEW IF NOT EXISTS {database}.{RECORDS_VIEW} AS SELECT {shown}"
                               f" FROM {database}.{RECORDS} FINAL")
    for statement in _statements("views.sql", database=database):
        await client.on_every_node(statement)


async def _create_table(client: ClickHouseClient, ddl: Callable[[str, str], str], table: str, local: str,
                        shard_by: str) -> None:
    """One table, or with a cluster a local table on every node and a Distributed one over them."""
    database, cluster = client.config.database, client.config.cluster
    if cluster is None:
        await client.on_every_node(ddl(database, table))
        return
    await client.on_every_node(ddl(database, local))
    await client.on_every_node(
        f"CREATE TABLE IF NOT EXISTS {database}.{table} AS {database}.{local}"
        f" ENGINE = Distributed({cluster}, {database}, {local}, cityHash64({shard_by}))")


async def _columns(client: ClickHouseClient, table: str) -> list[str]:
    """The table's columns in their order (DESCRIBE: system.columns has no position on 18.16)."""
    rows = await client.json_rows(f"DESCRIBE TABLE {client.config.database}.{table}")
    return [row["name"] for row in rows]


async def _require_fold_version(client: ClickHouseClient) -> None:
    """The spans tables of the first release of this engine (2026-12) had no fold_version, and a
    ReplacingMergeTree's version column cannot be added afterwards."""
    database = client.config.database
    stored = SPANS if client.config.cluster is None else SPANS_LOCAL
    for node in range(len(client.urls)):
        body = await client.execute(
            f"SELECT count() FROM system.columns WHERE database = {quote(database)} AND table = {quote(stored)}"
            " AND name = 'fold_version' FORMAT TabSeparated", node=node, database="system")
        if int(body.strip() or 0) == 0:
            raise SchemaOutdated(
                f"{database}.{stored} on {client.urls[node]} was created by an earlier Kate without the fold_version"
                " column that GenAI log records need; move its rows into a table created by this version"
                " (docs/deployment.md#upgrading)")

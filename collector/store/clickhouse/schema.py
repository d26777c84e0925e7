"""Kate's tables on ClickHouse, created at start on every node (idempotent).

Single node: one `spans_all` table. With storage.clickhouse.cluster: `spans_local` on each node
and `spans_all`, a Distributed table over them sharded by run (so one run's spans are on one
shard, and deduplicating a run's spans is a per-shard FINAL). Kate reads and writes spans_all.
`spans`, for analysis SQL, is a view of spans_all FINAL: every span once, as on DuckDB; the
analysis views of schema/clickhouse/views.sql sit over it. The DDL is applied to each node itself:
ON CLUSTER would need ZooKeeper, which a small cluster may not run.
"""

from __future__ import annotations

from importlib import resources

from kate.collector.store.clickhouse.client import ClickHouseClient

SPANS = "spans_all"  # the table every read and write names (Distributed with a cluster)
SPANS_LOCAL = "spans_local"
SPANS_VIEW = "spans"  # analysis SQL: deduplicated


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


async def create_tables(client: ClickHouseClient) -> None:
    config = client.config
    database = config.database
    await client.on_every_node(f"CREATE DATABASE IF NOT EXISTS {database}", database="default")
    if config.cluster is None:
        await client.on_every_node(spans_ddl(database, SPANS))
    else:
        await client.on_every_node(spans_ddl(database, SPANS_LOCAL))
        await client.on_every_node(
            f"CREATE TABLE IF NOT EXISTS {database}.{SPANS} AS {database}.{SPANS_LOCAL}"
            f" ENGINE = Distributed({config.cluster}, {database}, {SPANS_LOCAL}, cityHash64(run_id))")
    await client.on_every_node(f"CREATE VIEW IF NOT EXISTS {database}.{SPANS_VIEW} AS SELECT * FROM {database}.{SPANS} FINAL")
    for statement in _statements("views.sql", database=database):
        await client.on_every_node(statement)

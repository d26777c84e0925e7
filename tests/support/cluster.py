"""The scale-out engine's servers for the tests: a 2-shard ClickHouse cluster and PostgreSQL on
loopback (scripts/local_cluster.py), one per test session, started on first use.

Without clickhouse-server or PostgreSQL on the machine the clickhouse-engine tests skip, except
under CI (CI set), where .ci/run installs both and a missing server is a failure.
"""

from __future__ import annotations

import os
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

import pytest

from scripts.local_cluster import DATABASE, LocalCluster, missing_servers

ENGINES = ("duckdb", "clickhouse")


def start_cluster(directory: Path, shards: int = 2) -> LocalCluster:
    missing = missing_servers()
    if missing:
        message = "the clickhouse engine's servers are not installed: " + ", ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(message + " (CI installs them in .ci/run)")
        pytest.skip(message)
    return LocalCluster.start(directory, shards=shards)


def engine_config(cluster: LocalCluster | None, extra: dict[str, object] | None = None, *,
                  database: str = DATABASE) -> dict[str, object]:
    """A collector configuration for an engine (None: DuckDB, the default) and more settings;
    on the cluster, the data goes to `database` (a new one per test keeps tests apart)."""
    config: dict[str, object] = dict(extra or {})
    if cluster is not None:
        storage = dict(config.get("storage", {}))  # type: ignore[call-overload]
        config["storage"] = {**storage, **cluster.storage_config(database)}
    return config


def private_database() -> str:
    """A fresh database name, for a test whose collectors must not see other tests' runs and jobs."""
    return f"kate_{uuid.uuid4().hex[:12]}"


def stored_span_keys(cluster: LocalCluster, agents: list[str], database: str = DATABASE) -> Counter[tuple[str, str]]:
    """(trace_id, span_id) of the agents' spans as analysis SQL sees them (the deduplicating
    `spans` view), with how often each is seen; asked of ClickHouse directly."""
    names = ", ".join("'" + agent.replace("\\", "\\\\").replace("'", "\\'") + "'" for agent in agents)
    sql = (f"SELECT trace_id, span_id, count() FROM {database}.spans WHERE agent_id IN ({names})"
           " GROUP BY trace_id, span_id FORMAT TabSeparated")
    with urllib.request.urlopen(cluster.nodes[0].url + "/", data=sql.encode(), timeout=30) as response:
        lines = response.read().decode().splitlines()
    return Counter({(trace, span): int(count) for trace, span, count in (line.split("\t") for line in lines)})

"""The scale-out engine's servers for the tests: a 2-shard ClickHouse cluster and PostgreSQL on
loopback (scripts/local_cluster.py), one per test session, started on first use.

Without clickhouse-server or PostgreSQL on the machine the clickhouse-engine tests skip, except
under CI (CI set), where .ci/run installs both and a missing server is a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scripts.local_cluster import LocalCluster, missing_servers

ENGINES = ("duckdb", "clickhouse")


def start_cluster(directory: Path) -> LocalCluster:
    missing = missing_servers()
    if missing:
        message = "the clickhouse engine's servers are not installed: " + ", ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(message + " (CI installs them in .ci/run)")
        pytest.skip(message)
    return LocalCluster.start(directory, shards=2)


def engine_config(cluster: LocalCluster | None, extra: dict[str, object] | None = None) -> dict[str, object]:
    """A collector configuration for an engine (None: DuckDB, the default) and more settings."""
    config: dict[str, object] = dict(extra or {})
    if cluster is not None:
        storage = dict(config.get("storage", {}))  # type: ignore[call-overload]
        config["storage"] = {**storage, **cluster.storage_config()}
    return config

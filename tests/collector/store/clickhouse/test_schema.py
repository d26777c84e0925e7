"""The clickhouse engine's tables at start: a spans table from the engine's first release, which
lacks the fold_version that GenAI log records need, stops `kate serve` with advice instead of
serving reads that a retried span could get wrong."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

from kate.collector.store.clickhouse.schema import SPANS, SPANS_LOCAL, spans_ddl

from scripts.local_cluster import LocalCluster
from tests.support.cluster import engine_config, private_database


def _first_release_ddl(database: str, table: str) -> str:
    """This release's DDL with what the first one lacked taken out."""
    ddl = spans_ddl(database, table)
    for added in (",\n    fold_version         UInt32", ",\n    log_texts            UInt8"):
        assert added in ddl
        ddl = ddl.replace(added, "")
    return ddl.replace("ReplacingMergeTree(fold_version)", "ReplacingMergeTree")


def _on(url: str, sql: str) -> None:
    with urllib.request.urlopen(url + "/", data=sql.encode(), timeout=30) as response:
        response.read()


def test_a_spans_table_without_fold_version_stops_the_start_naming_it(scale_out_cluster: LocalCluster,
                                                                      tmp_path: Path) -> None:
    database = private_database()
    for node in scale_out_cluster.nodes:
        _on(node.url, f"CREATE DATABASE {database}")
        _on(node.url, _first_release_ddl(database, SPANS_LOCAL))
        _on(node.url, f"CREATE TABLE {database}.{SPANS} AS {database}.{SPANS_LOCAL}"
                      f" ENGINE = Distributed(kate, {database}, {SPANS_LOCAL}, cityHash64(run_id))")
    config = tmp_path / "kate.yaml"
    config.write_text(json.dumps(engine_config(scale_out_cluster, database=database)), encoding="utf-8")

    done = subprocess.run([sys.executable, "-m", "kate.collector", "--config", str(config), "serve", "--port", "0",
                           "--grpc-port", "0"], capture_output=True, text=True, timeout=60, cwd=tmp_path)

    assert done.returncode == 1, done.stderr
    assert f"kate: cannot start: {database}.{SPANS_LOCAL} on {scale_out_cluster.nodes[0].url}" in done.stderr
    assert "without the fold_version column" in done.stderr and "docs/deployment.md#upgrading" in done.stderr
    assert "Traceback" not in done.stderr

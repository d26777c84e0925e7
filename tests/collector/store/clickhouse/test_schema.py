"""The clickhouse engine's tables at start: a spans table from the engine's first release, which
lacks the fold_version that GenAI log records need, stops `kate serve` with advice instead of
serving reads that a retried span could get wrong; and the upgrade that advice points to
(docs/deployment.md#upgrading) keeps every span."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

from kate.collector.store.clickhouse.schema import SPANS, SPANS_LOCAL, spans_ddl
from kate.collector.store.clickhouse.spans import spans_json_rows
from kate.collector.store.span_batch import SPAN_SCHEMA, SpanBatch
from kate.schema.record import SpanRecord

from scripts.local_cluster import LocalCluster
from tests.support.cluster import engine_config, private_database
from tests.support.otlp_client import sql_rows
from tests.support.server import start_collector_process

SPANS_BEFORE = 40  # spans of 40 runs, so both shards hold some


def _first_release_ddl(database: str, table: str) -> str:
    """This release's DDL with what the first one lacked taken out."""
    ddl = spans_ddl(database, table)
    for added in (",\n    fold_version         UInt32", ",\n    log_texts            UInt8"):
        assert added in ddl
        ddl = ddl.replace(added, "")
    return ddl.replace("ReplacingMergeTree(fold_version)", "ReplacingMergeTree")


def _on(url: str, sql: str, data: bytes = b"") -> str:
    query = urllib.parse.urlencode({"query": sql, "insert_distributed_sync": 1}) if data else ""  # as Kate inserts
    with urllib.request.urlopen(f"{url}/?{query}", data=data or sql.encode(), timeout=30) as response:
        return str(response.read().decode())


def _first_release_database(cluster: LocalCluster) -> str:
    """A database as the engine's first release left it: its spans tables and views, and spans."""
    database = private_database()
    for node in cluster.nodes:
        _on(node.url, f"CREATE DATABASE {database}")
        _on(node.url, _first_release_ddl(database, SPANS_LOCAL))
        _on(node.url, f"CREATE TABLE {database}.{SPANS} AS {database}.{SPANS_LOCAL}"
                      f" ENGINE = Distributed(kate, {database}, {SPANS_LOCAL}, cityHash64(run_id))")
        _on(node.url, f"CREATE VIEW {database}.spans AS SELECT * FROM {database}.{SPANS} FINAL")
    batch = SpanBatch.of([SpanRecord(
        span_id=f"{index:016x}", trace_id="ab" * 16, parent_span_id=None, run_id=f"run-{index}", agent_id="old",
        node_name="step", span_kind="LLM", input_text="kept", output_text=None, model=None, latency_ms=1.5,
        token_count=3, input_tokens=None, output_tokens=None, status_code="OK", status_message=None,
        start_time_unix_nano=1_790_000_000_000_000_000 + index, end_time_unix_nano=None, attributes="{}",
        resource="{}", scope_name=None, events="[]", truncated=False, cached_input_tokens=None, cost_usd=None,
        input_cost_usd=None, output_cost_usd=None, cost_source=None, session_id=None, user_id=None)
        for index in range(SPANS_BEFORE)])
    _on(cluster.nodes[0].url, f"INSERT INTO {database}.{SPANS} FORMAT JSONEachRow",
        spans_json_rows(batch, dt.datetime(2026, 11, 20)))
    return database


def _serve(cluster: LocalCluster, database: str, tmp_path: Path) -> subprocess.Popen[str] | subprocess.CompletedProcess[str]:
    config = tmp_path / "kate.yaml"
    config.write_text(json.dumps(engine_config(cluster, database=database)), encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "kate.collector", "--config", str(config), "serve", "--port", "0",
                           "--grpc-port", "0"], capture_output=True, text=True, timeout=60, cwd=tmp_path)


def test_a_spans_table_without_fold_version_stops_the_start_naming_it(scale_out_cluster: LocalCluster,
                                                                      tmp_path: Path) -> None:
    database = _first_release_database(scale_out_cluster)

    done = _serve(scale_out_cluster, database, tmp_path)

    assert done.returncode == 1, done.stderr
    assert f"kate: cannot start: {database}.{SPANS_LOCAL} on {scale_out_cluster.nodes[0].url}" in done.stderr
    assert "without the fold_version column" in done.stderr and "docs/deployment.md#upgrading" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_documented_upgrade_keeps_every_span(scale_out_cluster: LocalCluster, tmp_path: Path) -> None:
    database = _first_release_database(scale_out_cluster)
    for node in scale_out_cluster.nodes:  # docs/deployment.md#upgrading, step 2
        _on(node.url, f"RENAME TABLE {database}.{SPANS_LOCAL} TO {database}.{SPANS_LOCAL}_old")
        for name in (SPANS, "spans", "span_details", "model_usage_daily", "node_latency"):
            _on(node.url, f"DROP TABLE IF EXISTS {database}.{name}")

    collector = start_collector_process(tmp_path / "kate.duckdb", config=engine_config(scale_out_cluster,
                                                                                       database=database))
    try:
        for node in scale_out_cluster.nodes:  # step 4, while the collector serves
            _on(node.url, f"INSERT INTO {database}.{SPANS_LOCAL} SELECT *, 0, 0 FROM {database}.{SPANS_LOCAL}_old")
            _on(node.url, f"DROP TABLE {database}.{SPANS_LOCAL}_old")
        rows = sql_rows(collector.base_url, "SELECT count() AS spans, sum(token_count) AS tokens, any(input_text)"
                        " AS text FROM spans WHERE agent_id = 'old'")
        columns = sql_rows(collector.base_url, "SELECT * FROM spans LIMIT 1")
    finally:
        collector.stop()
    assert rows == [[SPANS_BEFORE, 3 * SPANS_BEFORE, "kept"]]
    assert len(columns[0]) == len(SPAN_SCHEMA.names) + 3  # received_at, start_ns, start_day; no bookkeeping

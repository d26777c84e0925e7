"""The `kate` command: `kate serve` runs the collector, `kate sql` queries the span tables,
`kate repair` recovers a file that a kill tore during a checkpoint.

Flags override config.yaml, which overrides the defaults in config.py (docs/configuration.md#precedence).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from kate.collector.config import Config, ConfigError, load_config
from kate.collector.listen import PortUnavailable
from kate.collector.log_format import configure_logging

DEFAULT_CONFIG = Path("config.yaml")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        config = _config(args)
    except ConfigError as exc:
        print(f"kate: {exc}", file=sys.stderr)
        return 2
    configure_logging(config.logging.level)  # every line escaped, credentials withheld (log_format.py)
    return int(args.run(args, config) or 0)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kate", description="Kate: a tracing collector for LLM agents")
    parser.add_argument("--config", type=Path, default=None,
                        help="YAML config file (default: ./config.yaml when it exists)")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    serve = commands.add_parser("serve", help="run the collector")
    serve.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="YAML config file")
    serve.add_argument("--host", help="HTTP bind address (server.host)")
    serve.add_argument("--port", type=int, help="HTTP port, 0 picks a free one (server.port)")
    serve.add_argument("--grpc-port", type=int, help="OTLP/gRPC port, 0 picks a free one (server.grpc_port)")
    serve.add_argument("--db", help="DuckDB file (storage.path)")
    serve.add_argument("--engine", choices=("duckdb", "clickhouse"), help="storage engine (storage.engine)")
    serve.add_argument("--clickhouse-url", action="append", dest="clickhouse_urls", metavar="URL",
                       help="a ClickHouse node's HTTP address, repeatable (storage.clickhouse.urls)")
    serve.add_argument("--control-url", help="PostgreSQL URL of the control store (storage.control_url)")
    serve.set_defaults(run=_run_serve)
    sql = commands.add_parser("sql", help="run one read-only SQL query and print the rows")
    sql.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="YAML config file")
    sql.add_argument("query", help='e.g. "SELECT * FROM run_summary LIMIT 10"')
    sql.add_argument("--param", action="append", default=[], help="a positional ? parameter (repeatable)")
    sql.add_argument("--format", choices=("table", "csv", "json"), default="table")
    sql.add_argument("--url", help="ask the collector at this base URL")
    sql.add_argument("--db", help="open this DuckDB file directly (read-only; only when no collector holds it)")
    sql.add_argument("--max-rows", type=int, default=None, help="row cap (default: sql.max_rows)")
    sql.add_argument("--api-key", help="API key sent to the collector as a Bearer token (default: $KATE_API_KEY)")
    sql.set_defaults(run=_run_sql)
    repair = commands.add_parser("repair", help="recover a DuckDB file that a kill tore during a checkpoint")
    repair.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="YAML config file")
    repair.add_argument("--db", help="DuckDB file (default: storage.path); stop the collector first")
    repair.set_defaults(run=_run_repair)
    export = commands.add_parser("export", help="write runs, spans, evaluations and GenAI log records of a time window as files")
    export.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="YAML config file")
    export.add_argument("--since", required=True, help="RFC 3339 start, included (e.g. 2026-12-01T00:00:00Z)")
    export.add_argument("--until", required=True, help="RFC 3339 end, excluded")
    export.add_argument("--agent", help="only this agent's rows")
    export.add_argument("--format", choices=("parquet", "jsonl"), default="parquet")
    export.add_argument("--out", required=True, help="folder to write OUT/<table>/date=YYYY-MM-DD/part-0.<format> in")
    export.add_argument("--url", help="export through the collector at this base URL")
    export.add_argument("--db", help="read this DuckDB file directly (read-only; only when no collector holds it)")
    export.add_argument("--api-key", help="API key sent to the collector as a Bearer token (default: $KATE_API_KEY)")
    export.set_defaults(run=_run_export)
    prune = commands.add_parser("prune", help="delete the finished runs that retention settings make due, now")
    prune.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="YAML config file")
    prune.add_argument("--db", help="DuckDB file (default: storage.path); stop the collector first")
    prune.add_argument("--dry-run", action="store_true", help="list what would be deleted and change nothing")
    prune.add_argument("--max-age-days", type=float, help="override retention.max_age_days for this pass")
    prune.add_argument("--max-bytes", help="override retention.max_bytes for this pass, e.g. 20GiB")
    prune.set_defaults(run=_run_prune)
    keygen = commands.add_parser("keygen", help="print a new API key and its config entry")
    keygen.add_argument("--name", default="my-agent", help="label of the key in config")
    keygen.add_argument("--agent", action="append", default=[], help="limit the key to this agent (repeatable)")
    keygen.set_defaults(run=_run_keygen)
    return parser


def _config(args: argparse.Namespace) -> Config:
    path = args.config if args.config is not None else (DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None)
    overrides = {
        "server.host": getattr(args, "host", None),
        "server.port": getattr(args, "port", None),
        "server.grpc_port": getattr(args, "grpc_port", None),
        "storage.path": getattr(args, "db", None),
        "storage.engine": getattr(args, "engine", None),
        "storage.clickhouse.urls": getattr(args, "clickhouse_urls", None),
        "storage.control_url": getattr(args, "control_url", None),
        "retention.max_age_days": getattr(args, "max_age_days", None),
        "retention.max_bytes": getattr(args, "max_bytes", None),
    }
    return load_config(path, environ=os.environ, overrides=overrides)


def _run_serve(args: argparse.Namespace, config: Config) -> int:
    from kate.collector.errors import KateError
    from kate.collector.server import serve
    from kate.collector.store.clickhouse.schema import SchemaOutdated
    from kate.collector.store.duckdb.migrate import SchemaTooNew

    try:
        asyncio.run(serve(config))
    except (KateError, SchemaTooNew, SchemaOutdated, ConfigError) as exc:  # ConfigError: a custom evaluator fails to load
        print(f"kate: cannot start: {exc}", file=sys.stderr)
        return 1
    except PortUnavailable as exc:
        print(f"kate: cannot start: {_port_advice(exc)}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"kate: cannot start: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


# The flag and the environment variable that set each listening setting (docs/configuration.md).
_LISTEN_SOURCES = {
    "server.port": "--port or KATE_PORT",
    "server.grpc_port": "--grpc-port or KATE_GRPC_PORT",
    "server.host": "--host or KATE_HOST",
    "server.grpc_host": "server.grpc_host in the config file",
}


def _port_advice(exc: PortUnavailable) -> str:
    source = _LISTEN_SOURCES.get(exc.setting, exc.setting)
    if exc.setting.endswith("port"):
        return f"{exc.setting} {exc}: choose another port with {source} (0 picks a free one)"
    return f"{exc.setting} {exc}: choose another address with {source}"


def _run_keygen(args: argparse.Namespace, config: Config) -> int:
    from kate.collector.auth import hash_key, new_key

    key = new_key()
    print(f"key (give it to the agent, store it nowhere else): {key}")
    print("config.yaml entry under auth.keys:")
    print(f"  - name: {args.name}")
    print(f"    sha256: {hash_key(key)}")
    if args.agent:
        print(f"    agents: [{', '.join(args.agent)}]")
    return 0


def _run_export(args: argparse.Namespace, config: Config) -> int:
    from kate.collector.export_command import run_export_command

    return run_export_command(args, config, api_key=args.api_key or os.environ.get("KATE_API_KEY") or None)


def _run_prune(args: argparse.Namespace, config: Config) -> int:
    from kate.collector.prune_command import prune_file

    return prune_file(config, dry_run=args.dry_run)


def _run_repair(args: argparse.Namespace, config: Config) -> int:
    from kate.collector.store.duckdb.repair import RepairFailed, RepairRefused, repair

    path = Path(config.storage.path)
    try:
        report = repair(path, memory_limit=config.storage.memory_limit)
    except (RepairRefused, RepairFailed) as exc:
        print(f"kate repair: {exc}", file=sys.stderr)
        return 1
    rows = ", ".join(f"{table} {count:,}" for table, count in report.rows_by_table.items())
    if not report.repaired:
        print(f"kate repair: {path} opens and every row of every table reads back ({rows}); nothing to repair")
        return 0
    locations = ", ".join(str(location) for location in report.patched_locations)
    print(f"kate repair: {path} was torn during a checkpoint; fixed the checksum of the block at {locations}.")
    print(f"  Every row of every table reads back and the WAL is merged: {rows}.")
    print(f"  The file as it was is kept at {report.backup} (delete it once you are satisfied).")
    return 0


def _run_sql(args: argparse.Namespace, config: Config) -> int:
    from kate.collector.sql_command import run_sql_command

    return run_sql_command(args, config, api_key=args.api_key or os.environ.get("KATE_API_KEY") or None)

"""`kate sql`: one read-only query, through the running collector or straight from the file.

DuckDB lets one process hold a file, so while a collector runs the query goes to its POST /sql;
when none answers, the file is opened read-only here (same allow-list and caps). Output: table,
CSV or JSON; a reader that stops early (`| head`) ends it quietly.
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from kate.collector.config import Config
from kate.collector.errors import KateError
from kate.collector.store.duckdb.database import connect
from kate.collector.store.duckdb.readonly import run_readonly_query


def run_sql_command(args: argparse.Namespace, config: Config, out: TextIO = sys.stdout, *,
                    api_key: str | None = None) -> int:
    """--url: ask that collector. --db: open that file. Neither: the configured collector, else its file.
    api_key (--api-key, else $KATE_API_KEY) goes to the collector as `Authorization: Bearer`."""
    max_rows = args.max_rows or config.sql.max_rows
    url = args.url or collector_url(config)
    try:
        if args.db and not args.url:
            result = _via_file(Path(args.db), args.query, args.param, max_rows, config)
        else:
            result = _via_collector(url, args.query, args.param, max_rows, api_key)
    except ConnectionRefusedError:
        if args.url:
            print(f"kate sql: no collector answers at {url}", file=sys.stderr)
            return 1
        result = _via_file(Path(config.storage.path), args.query, args.param, max_rows, config)
    except _QueryFailed as exc:
        print(f"kate sql: {exc}", file=sys.stderr)
        return 1
    if result is None:
        return 1
    return _print(result, args.format, out)


def _print(result: dict[str, Any], output_format: str, out: TextIO) -> int:
    """Write the rows; when the reader has gone (`kate sql ... | head`), stop quietly with 141 as a
    process killed by SIGPIPE would, instead of a BrokenPipeError traceback."""
    try:
        _FORMATS[output_format](result, out)
        out.flush()
    except BrokenPipeError:
        # Python flushes stdout again at exit; point it at devnull so that flush cannot fail too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.fileno())
        os.close(devnull)
        return 141
    return 0


class _QueryFailed(Exception):
    pass


def collector_url(config: Config) -> str:
    """The base URL of the configured collector, as a local client reaches it."""
    host = config.server.host
    host = "127.0.0.1" if host in ("0.0.0.0", "") else ("[::1]" if host == "::" else host)
    return f"http://{host}:{config.server.port}"


@contextmanager
def collector_response(request: urllib.request.Request, url: str, timeout_s: float,
                       failed: Callable[[str], Exception]) -> Iterator[http.client.HTTPResponse]:
    """The collector's answer to a kate command's request. An error answer or an unreachable
    collector raises failed(a readable message); a refused connection raises
    ConnectionRefusedError (nothing listens there: the commands may read the file instead)."""
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            yield response
    except urllib.error.HTTPError as exc:
        raise failed(api_error(exc)) from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, ConnectionRefusedError):
            raise ConnectionRefusedError(str(exc.reason)) from None
        raise failed(f"cannot reach {url}: {exc.reason}") from None


def api_error(exc: urllib.error.HTTPError) -> str:
    """'code: message' of the collector's error envelope (or the HTTP status when there is none)."""
    try:
        error = json.loads(exc.read() or b"{}").get("error", {})
    except ValueError:
        error = {}
    return f"{error.get('code', exc.code)}: {error.get('message', exc.reason)}"


def _via_collector(url: str, sql: str, params: list[str], max_rows: int, api_key: str | None) -> dict[str, Any]:
    body = json.dumps({"sql": sql, "params": params or None, "max_rows": max_rows}).encode()
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    request = urllib.request.Request(f"{url.rstrip('/')}/sql", data=body, method="POST", headers=headers)
    with collector_response(request, url, 60, _QueryFailed) as response:
        return dict(json.load(response))


def _via_file(path: Path, sql: str, params: list[str], max_rows: int, config: Config) -> dict[str, Any] | None:
    if not path.exists():
        print(f"kate sql: no collector is running and {path} does not exist", file=sys.stderr)
        return None
    try:
        connection = connect(path, config.storage, read_only=True)
        try:
            return run_readonly_query(connection, sql, params or None, max_rows, config.sql.max_response_bytes).to_json()
        finally:
            connection.close()
    except KateError as exc:
        hint = " (a running collector holds it: use --url)" if exc.code == "store_unavailable" else ""
        print(f"kate sql: {exc.code}: {exc.message}{hint}", file=sys.stderr)
        return None


def _print_table(result: dict[str, Any], out: TextIO) -> None:
    columns = result["columns"]
    cells = [[_cell(value) for value in row] for row in result["rows"]]
    widths = [max([len(name)] + [len(row[i]) for row in cells]) for i, name in enumerate(columns)]
    out.write(" | ".join(name.ljust(widths[i]) for i, name in enumerate(columns)).rstrip() + "\n")
    out.write("-+-".join("-" * width for width in widths) + "\n")
    for row in cells:
        out.write(" | ".join(value.ljust(widths[i]) for i, value in enumerate(row)).rstrip() + "\n")
    note = " (truncated)" if result["truncated"] else ""
    out.write(f"({result['row_count']} rows{note})\n")


def _cell(value: Any, width: int = 60) -> str:
    text = "NULL" if value is None else (json.dumps(value) if isinstance(value, (dict, list)) else str(value))
    text = text.replace("\n", "\\n")
    return text if len(text) <= width else text[: width - 1] + "…"


def _print_csv(result: dict[str, Any], out: TextIO) -> None:
    writer = csv.writer(out)
    writer.writerow(result["columns"])
    for row in result["rows"]:
        writer.writerow(["" if v is None else json.dumps(v) if isinstance(v, (dict, list)) else v for v in row])


def _print_json(result: dict[str, Any], out: TextIO) -> None:
    rows = [dict(zip(result["columns"], row, strict=True)) for row in result["rows"]]
    json.dump(rows, out, ensure_ascii=False, indent=2)
    out.write("\n")


_FORMATS = {"table": _print_table, "csv": _print_csv, "json": _print_json}

"""`kate export`: runs, spans and evaluations of a time window as Parquet or JSONL files,
partitioned by day (docs/operations.md#export).

Through a running collector (GET /export, an Arrow IPC stream per table) or, with --db or when
none answers, from the file opened read-only. Either way rows arrive a page at a time and each
day's file is written as they come, so memory stays bounded whatever the window holds.
Layout: OUT/<table>/date=YYYY-MM-DD/part-0.parquet (or .jsonl).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq
from kate.collector.config import Config
from kate.collector.errors import KateError
from kate.collector.sql_command import collector_response, collector_url
from kate.collector.store.duckdb.database import connect
from kate.collector.store.duckdb.exports import export_page
from kate.collector.store.values import ExportTable, ExportWindow
from kate.collector.timefmt import parse_rfc3339_naive_utc

PAGE_ROWS = 5_000


class ExportFailed(Exception):
    pass


def run_export_command(args: argparse.Namespace, config: Config, *, api_key: str | None) -> int:
    try:
        window = ExportWindow(_time(args.since, "--since"), _time(args.until, "--until"), args.agent or None)
        if window.until <= window.since:
            raise ExportFailed("--until must be after --since")
        out = Path(args.out)
        started = time.monotonic()
        counts = {table: _export_table(table, window, args, config, api_key, out) for table in ExportTable}
    except ExportFailed as exc:
        print(f"kate export: {exc}", file=sys.stderr)
        return 1
    written = sum(path.stat().st_size for path in out.rglob("*") if path.is_file())
    tables = ", ".join(f"{table.value} {count:,}" for table, count in counts.items())
    print(f"kate export: {tables} rows; {written:,} bytes in {out} ({args.format}) in {time.monotonic() - started:.1f} s")
    return 0


def _time(text: str, flag: str) -> dt.datetime:
    try:
        return parse_rfc3339_naive_utc(text)
    except ValueError as exc:
        raise ExportFailed(f"{flag} {exc}") from None


def _export_table(table: ExportTable, window: ExportWindow, args: argparse.Namespace, config: Config,
                  api_key: str | None, out: Path) -> int:
    sink = _DaySink(out / table.value, args.format)
    progress = _Progress(table.value)
    try:
        for batch in _batches(table, window, args, config, api_key):
            sink.write(batch)
            progress.show(sink.rows)
    finally:
        sink.close()
        progress.done()
    return sink.rows


def _batches(table: ExportTable, window: ExportWindow, args: argparse.Namespace, config: Config,
             api_key: str | None) -> Iterator[pa.RecordBatch]:
    if args.db and not args.url:
        yield from _from_file(Path(args.db), table, window, config)
        return
    url = args.url or collector_url(config)
    try:
        yield from _from_collector(url, table, window, api_key)
    except ConnectionRefusedError:
        if args.url:
            raise ExportFailed(f"no collector answers at {url}") from None
        yield from _from_file(Path(config.storage.path), table, window, config)


def _from_collector(url: str, table: ExportTable, window: ExportWindow, api_key: str | None) -> Iterator[pa.RecordBatch]:
    query = {"table": table.value, "since": _rfc3339(window.since), "until": _rfc3339(window.until)}
    if window.agent_id is not None:
        query["agent"] = window.agent_id
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    request = urllib.request.Request(f"{url.rstrip('/')}/export?{urllib.parse.urlencode(query)}", headers=headers)
    with collector_response(request, url, 120, ExportFailed) as response:
        try:
            yield from pa.ipc.open_stream(response)
        except (pa.ArrowInvalid, OSError) as exc:
            raise ExportFailed(f"the export of {table.value} from {url} was cut short: {exc}") from None


def _from_file(path: Path, table: ExportTable, window: ExportWindow, config: Config) -> Iterator[pa.RecordBatch]:
    if not path.exists():
        raise ExportFailed(f"no collector is running and {path} does not exist")
    try:
        connection = connect(path, config.storage, read_only=True)
    except KateError as exc:
        hint = " (a running collector holds it: use --url)" if exc.code == "store_unavailable" else ""
        raise ExportFailed(f"{exc.code}: {exc.message}{hint}") from None
    try:
        after = None
        while True:
            page = export_page(connection, table, window, PAGE_ROWS, after)
            yield from page.rows.to_batches()
            if page.after is None:
                return
            after = page.after
    finally:
        connection.close()


def _rfc3339(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="microseconds") + "Z"


class _DaySink:
    """One file per day partition, opened when its first row arrives and closed when rows move
    on to a later day (rows come in time order), so one day's file is open at a time."""

    def __init__(self, folder: Path, output_format: str) -> None:
        self._folder = folder
        self._format = output_format
        self._day: dt.date | None = None
        self._parquet: pq.ParquetWriter | None = None
        self._jsonl: IO[str] | None = None
        self.rows = 0

    def write(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        days = batch.column("day")
        data = batch.drop_columns(["day"])
        start = 0
        for index in range(1, batch.num_rows + 1):
            if index == batch.num_rows or days[index] != days[start]:
                self._write_day(days[start].as_py(), data.slice(start, index - start))
                start = index

    def _write_day(self, day: dt.date, rows: pa.RecordBatch) -> None:
        if day != self._day:
            self.close()
            self._day = day
            folder = self._folder / f"date={day.isoformat()}"
            folder.mkdir(parents=True, exist_ok=True)
            if self._format == "parquet":
                self._parquet = pq.ParquetWriter(folder / "part-0.parquet", rows.schema)
            else:
                self._jsonl = (folder / "part-0.jsonl").open("w", encoding="utf-8")
        if self._parquet is not None:
            self._parquet.write_batch(rows)
        elif self._jsonl is not None:
            self._jsonl.writelines(json.dumps(row, default=_json_value, ensure_ascii=False) + "\n"
                                   for row in rows.to_pylist())
        self.rows += rows.num_rows

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        if self._jsonl is not None:
            self._jsonl.close()
        self._parquet, self._jsonl = None, None


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return _rfc3339(value) if value.tzinfo is None else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


class _Progress:
    """A live row count on a terminal's standard error; nothing when it is not a terminal."""

    def __init__(self, table: str) -> None:
        self._table = table
        self._live = sys.stderr.isatty()

    def show(self, rows: int) -> None:
        if self._live:
            print(f"\r{self._table}: {rows:,} rows", end="", file=sys.stderr, flush=True)

    def done(self) -> None:
        if self._live:
            print(file=sys.stderr)

"""Schema migrations: numbered SQL files of kate.schema applied once each, in order.

An old database file is upgraded in place and never recreated; a file written by a newer
Kate (a version we do not know) is refused rather than guessed at. One physical choice is made
when a file is created, outside the SQL files: whether the span texts are compressed
(storage.compress_text); DuckDB cannot change a column's compression afterwards.
"""

from __future__ import annotations

import logging
import re
from importlib import resources
from importlib.resources.abc import Traversable

import duckdb

logger = logging.getLogger(__name__)
_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
_TEXT_COLUMN = re.compile(r"^(\s+(?:input_text|output_text)\s+VARCHAR)(,)", re.MULTILINE)
_UNCOMPRESSED = " USING COMPRESSION uncompressed"


class SchemaTooNew(RuntimeError):
    """The file was written by a newer version of Kate."""


def migration_files() -> list[tuple[int, str, str]]:
    """(version, file name, SQL text) of every migration shipped in kate.schema, in order."""
    found = []
    for entry in _sql_folder().iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def _sql_folder() -> Traversable:
    """DuckDB's SQL: schema/duckdb/ (each engine keeps its SQL in its own folder)."""
    return resources.files("kate.schema").joinpath("duckdb")


def views_sql() -> str:
    return _sql_folder().joinpath("views.sql").read_text(encoding="utf-8")


def apply_migrations(connection: duckdb.DuckDBPyConnection, *, compress_text: bool = True) -> int:
    """Bring the file to the newest schema and recreate the views; return the version.
    compress_text=False creates a new file's spans table with input_text and output_text
    stored uncompressed; an existing file keeps what it was created with."""
    connection.execute(
        "CREATE TABLE IF NOT EXISTS schema_version "
        "(version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
    )
    ((applied,),) = connection.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchall()
    migrations = migration_files()
    newest = migrations[-1][0] if migrations else 0
    if applied > newest:
        raise SchemaTooNew(f"database schema version {applied} is newer than this Kate ({newest})")
    for version, name, sql in migrations:
        if version > applied:
            _apply_one(connection, version, name, sql if compress_text or version != 1 else uncompressed_texts(sql))
    connection.execute(views_sql())
    return newest


def uncompressed_texts(sql: str) -> str:
    """sql (001_tables.sql, or its spans table) with input_text and output_text stored uncompressed."""
    changed, count = _TEXT_COLUMN.subn(rf"\1{_UNCOMPRESSED}\2", sql)
    if count != 2:
        raise RuntimeError(f"001_tables.sql: expected the input_text and output_text columns, found {count}")
    return changed


def texts_compressed(connection: duckdb.DuckDBPyConnection) -> bool:
    """Whether this file's spans table compresses input_text and output_text (its DDL says)."""
    rows = connection.execute("SELECT sql FROM duckdb_tables() WHERE table_name = 'spans' AND schema_name = 'main'").fetchall()
    return not rows or "input_text VARCHAR USING COMPRESSION Uncompressed" not in rows[0][0]


def _apply_one(connection: duckdb.DuckDBPyConnection, version: int, name: str, sql: str) -> None:
    connection.begin()
    try:
        connection.execute(sql)
        connection.execute(
            "INSERT INTO schema_version VALUES (?, ?, now()::TIMESTAMP)", [version, name]
        )
        connection.commit()
    except Exception:
        connection.rollback()  # a failed migration leaves the file at the previous version
        raise
    logger.info("applied schema migration %s", name)

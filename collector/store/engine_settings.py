"""Which storage engine holds the data, and how to reach the scale-out engine's servers.

`storage.engine: duckdb` (the default) keeps everything in one DuckDB file. `clickhouse` keeps
spans on a ClickHouse server or cluster and runs, jobs and evaluations on PostgreSQL
(docs/deployment.md), so that several collectors can share them.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from enum import StrEnum


class Engine(StrEnum):
    DUCKDB = "duckdb"
    CLICKHOUSE = "clickhouse"


@dataclass(frozen=True, slots=True)
class ClickHouseConfig:
    urls: tuple[str, ...] = ()  # the HTTP interface of every node; writes are spread over them
    database: str = "kate"
    cluster: str | None = None  # a remote_servers cluster name: a local table per node + a Distributed one
    user: str = "default"
    password_env: str | None = None  # the variable holding the password (never in the file)
    timeout_s: float = 30.0  # one HTTP request to a node
    password: str = field(default="", repr=False, metadata={"env_only": True})


def check_engine(engine: str, clickhouse: ClickHouseConfig, control_url: str | None) -> list[str]:
    """What is wrong with the engine settings (empty: nothing)."""
    choices = ", ".join(item.value for item in Engine)
    if engine not in {item.value for item in Engine}:
        return [f"storage.engine must be one of {choices}, got {engine!r}"]
    if engine == Engine.DUCKDB:
        return []
    problems = []
    if not clickhouse.urls:
        problems.append("storage.clickhouse.urls must list at least one ClickHouse HTTP address with "
                        "storage.engine: clickhouse, e.g. [http://127.0.0.1:8123]")
    for index, url in enumerate(clickhouse.urls):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/") or parts.query:
            problems.append(f"storage.clickhouse.urls[{index}] must be an http(s)://host:port address, got {url!r}")
    if not _IDENTIFIER_OK(clickhouse.database):
        problems.append(f"storage.clickhouse.database must be a plain name (letters, digits, _), got {clickhouse.database!r}")
    if clickhouse.cluster is not None and not _IDENTIFIER_OK(clickhouse.cluster):
        problems.append(f"storage.clickhouse.cluster must be a plain name (letters, digits, _), got {clickhouse.cluster!r}")
    if len(clickhouse.urls) > 1 and clickhouse.cluster is None:
        problems.append("storage.clickhouse.cluster is required when storage.clickhouse.urls lists more than one node: "
                        "name the remote_servers cluster they form, so that every node reads all spans")
    if clickhouse.timeout_s <= 0:
        problems.append(f"storage.clickhouse.timeout_s must be positive, got {clickhouse.timeout_s}")
    if not control_url:
        problems.append("storage.control_url is required with storage.engine: clickhouse "
                        "(a PostgreSQL URL, e.g. postgresql://kate@127.0.0.1:5432/kate)")
    elif urllib.parse.urlsplit(control_url).scheme not in ("postgresql", "postgres"):
        problems.append(f"storage.control_url must be a postgresql:// URL, got {_without_password(control_url)!r}")
    return problems


def _IDENTIFIER_OK(name: str) -> bool:  # noqa: N802 - reads as a predicate on names
    return bool(name) and name.replace("_", "a").isalnum() and name.isascii() and not name[0].isdigit()


def _without_password(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))

"""The storage engine that storage.engine names, behind the seam (interfaces.Store)."""

from __future__ import annotations

import urllib.parse

from kate.collector.completion import CompletionHub
from kate.collector.config import Config, StorageConfig
from kate.collector.store.engine_settings import Engine
from kate.collector.store.genai_folding import FoldSettings
from kate.collector.store.interfaces import Store


def build_store(config: Config, completions: CompletionHub, fold: FoldSettings) -> Store:
    if config.storage.engine == Engine.CLICKHOUSE:
        from kate.collector.store.clickhouse.store import ClickHouseStore  # psycopg: only this engine needs it

        return ClickHouseStore(config.storage, completions, config.queue, fold)
    from kate.collector.store.duckdb.store import DuckDBStore

    return DuckDBStore(config.storage.path, config.storage, completions, fold, config.queue)


def storage_label(storage: StorageConfig) -> str:
    """Where the data lives, for the ready line and logs (no password)."""
    if storage.engine == Engine.CLICKHOUSE:
        control = urllib.parse.urlsplit(storage.control_url or "")
        return (f"clickhouse:{','.join(storage.clickhouse.urls)}/{storage.clickhouse.database}"
                f"+postgresql://{control.hostname}:{control.port or 5432}{control.path}")
    return storage.path

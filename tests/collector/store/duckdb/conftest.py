"""A fresh collector store on a real DuckDB file, opened and closed around each test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from kate.collector.config import StorageConfig
from kate.collector.store.duckdb.database import Database


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(tmp_path / "kate.duckdb", StorageConfig())
    database.open()
    yield database
    database.close()

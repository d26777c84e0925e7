"""Shared fixtures: the real collector (`kate serve`) on loopback ports.

`collector` is one server process for the whole session (tests isolate themselves with unique
agent ids); `start_collector` starts private processes for restart, crash, signal and CLI
tests; `start_app` starts private collectors inside the test process (the same serve(), in a
thread) for handler tests that need their own configuration.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Protocol, TypeVar

import aiohttp
import pytest

from tests.support.http import Api
from tests.support.in_process import InProcessCollector, start_collector_in_process
from tests.support.server import CollectorProcess, start_collector_process

StartCollector = Callable[..., CollectorProcess]
StartApp = Callable[..., InProcessCollector]


@pytest.fixture(scope="session")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    process = start_collector_process(tmp_path_factory.mktemp("collector") / "kate.duckdb")
    yield process
    process.stop()


class _Stoppable(Protocol):
    def stop(self, timeout_s: float = ...) -> int: ...


S = TypeVar("S", bound=_Stoppable)


def _starting(start: Callable[..., S], tmp_path: Path) -> Iterator[Callable[..., S]]:
    """A starter for one test: a collector per call (in tmp_path unless a file is given), all
    stopped cleanly when the test ends."""
    started: list[S] = []

    def start_one(db_path: Path | None = None, **kwargs: object) -> S:
        collector = start(db_path or tmp_path / "kate.duckdb", **kwargs)
        started.append(collector)
        return collector

    yield start_one
    for collector in started:
        collector.stop()


@pytest.fixture
def start_collector(tmp_path: Path) -> Iterator[StartCollector]:
    yield from _starting(start_collector_process, tmp_path)


@pytest.fixture
def start_app(tmp_path: Path) -> Iterator[StartApp]:
    yield from _starting(start_collector_in_process, tmp_path)


@pytest.fixture
def agent_id() -> str:
    """A fresh agent id, so tests sharing the session collector never see each other's runs."""
    return f"agent-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def api(collector: CollectorProcess) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(collector.base_url, session)

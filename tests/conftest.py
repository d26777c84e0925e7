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

from scripts.local_cluster import LocalCluster
from tests.support.cluster import ENGINES, engine_config, private_database, start_cluster
from tests.support.http import Api
from tests.support.in_process import InProcessCollector, start_collector_in_process
from tests.support.server import CollectorProcess, start_collector_process

StartCollector = Callable[..., CollectorProcess]
StartApp = Callable[..., InProcessCollector]


@pytest.fixture(scope="session")
def scale_out_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """Two ClickHouse shards and a PostgreSQL, shared by every clickhouse-engine test."""
    cluster = start_cluster(tmp_path_factory.mktemp("cluster"))
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session", params=ENGINES)
def collector(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    """The session's collector, once per storage engine: the tests that use it are the
    conformance suite both engines pass (docs/deployment.md). A test of a feature the
    clickhouse engine lacks is marked duckdb_only and skipped there."""
    cluster = request.getfixturevalue("scale_out_cluster") if request.param == "clickhouse" else None
    default_decoding = {"ingest": {"decode_workers": None}}  # a worker per CPU, as shipped
    process = start_collector_process(tmp_path_factory.mktemp("collector") / "kate.duckdb",
                                      config=engine_config(cluster, default_decoding))
    yield process
    process.stop()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test marked conformance runs once per engine: the collectors it starts with
    start_collector or start_app use that engine (storage_engine)."""
    if metafunc.definition.get_closest_marker("conformance") is not None:
        metafunc.parametrize("storage_engine", ENGINES, indirect=True)


@pytest.fixture
def storage_engine(request: pytest.FixtureRequest) -> LocalCluster | None:
    """The cluster of a conformance test's clickhouse run; None for DuckDB (and unmarked tests)."""
    if getattr(request, "param", "duckdb") == "clickhouse":
        cluster: LocalCluster = request.getfixturevalue("scale_out_cluster")
        return cluster
    return None


def _engine_of(request: pytest.FixtureRequest) -> str:
    callspec = getattr(request.node, "callspec", None)
    params = callspec.params if callspec is not None else {}
    return str(params.get("collector", params.get("storage_engine", "duckdb")))


@pytest.fixture(autouse=True)
def _engine_feature_guard(request: pytest.FixtureRequest) -> None:
    """Skip a duckdb_only test's run on the clickhouse engine, saying which feature it needs."""
    marker = request.node.get_closest_marker("duckdb_only")
    if marker and _engine_of(request) == "clickhouse":
        pytest.skip(f"not on the clickhouse engine yet: {marker.args[0] if marker.args else 'DuckDB only'}")


class _Stoppable(Protocol):
    def stop(self, timeout_s: float = ...) -> int: ...


S = TypeVar("S", bound=_Stoppable)


def _starting(start: Callable[..., S], tmp_path: Path, cluster: LocalCluster | None) -> Iterator[Callable[..., S]]:
    """A starter for one test: a collector per call (in tmp_path unless a file is given), all
    stopped cleanly when the test ends. On the cluster's engine when there is one, in a
    database of the test's own, shared by the collectors it starts (as a file would be)."""
    started: list[S] = []
    database = private_database() if cluster is not None else ""

    def start_one(db_path: Path | None = None, **kwargs: object) -> S:
        if cluster is not None:
            kwargs["config"] = engine_config(cluster, kwargs.get("config"), database=database)  # type: ignore[arg-type]
        collector = start(db_path or tmp_path / "kate.duckdb", **kwargs)
        started.append(collector)
        return collector

    yield start_one
    for collector in started:
        collector.stop()


@pytest.fixture
def start_collector(tmp_path: Path, storage_engine: LocalCluster | None) -> Iterator[StartCollector]:
    yield from _starting(start_collector_process, tmp_path, storage_engine)


@pytest.fixture
def start_app(tmp_path: Path, storage_engine: LocalCluster | None) -> Iterator[StartApp]:
    yield from _starting(start_collector_in_process, tmp_path, storage_engine)


@pytest.fixture
def agent_id() -> str:
    """A fresh agent id, so tests sharing the session collector never see each other's runs."""
    return f"agent-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def api(collector: CollectorProcess) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(collector.base_url, session)

"""The clickhouse engine under failure (docs/deployment.md#how-a-write-works-and-what-each-failure-does):
a collector killed with SIGKILL loses no acknowledged span, and a ClickHouse or PostgreSQL outage is
answered with 503 + Retry-After, never a 500, until the server is back."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

from scripts.local_cluster import LocalCluster
from tests.conftest import StartCollector
from tests.reliability.traffic import KINDS, Ledger, Target, new_keys, otlp_body, sender
from tests.support.cluster import engine_config, start_cluster, stored_span_keys
from tests.support.server import start_collector_process

QUIET = {"evaluation": {"enabled": False}, "api": {"upload_rate_limit_per_minute": 1_000_000},
         "server": {"shutdown_timeout_s": 2}}


async def test_acknowledged_spans_survive_sigkills_of_a_collector_on_the_cluster(
        scale_out_cluster: LocalCluster, tmp_path: Path) -> None:
    rng, ledger = random.Random(11), Ledger()
    agents = {kind: f"crash-{kind}-{uuid.uuid4().hex[:8]}" for kind in KINDS}
    config = engine_config(scale_out_cluster, QUIET)
    for round_index in range(3):
        process = await asyncio.to_thread(start_collector_process, tmp_path / f"round-{round_index}.duckdb",
                                          config=config)
        assert process.grpc_port is not None
        target, stop = Target(process.base_url, process.grpc_port), asyncio.Event()
        tasks = [asyncio.create_task(sender(kind, target, agents[kind], ledger, stop, seed=rng.randrange(2**32)))
                 for kind in KINDS]
        try:
            await asyncio.sleep(rng.uniform(0.8, 2.0))  # a random moment, by design
            os.kill(process.process.pid, signal.SIGKILL)
            process.process.wait(timeout=20)
        finally:
            stop.set()
            process.kill()
            await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)

    stored = stored_span_keys(scale_out_cluster, list(agents.values()))
    acknowledged = {key.split(":")[0] for key, count in ledger.answers.items() if key.endswith((":200", ":201", ":OK"))}
    assert acknowledged == set(KINDS), ledger.answers
    assert ledger.acked and not ledger.acked - stored.keys()  # every acknowledged span is stored
    assert set(stored.values()) == {1}  # and reads see each once


async def answer_of(session: aiohttp.ClientSession, method: str, url: str, **kwargs: object) -> tuple[int, str, dict[str, str]]:
    async with session.request(method, url, **kwargs) as response:  # type: ignore[arg-type]
        body = await response.read()
        code = ""
        if response.content_type == "application/json" and body:
            error = (await response.json()).get("error") if isinstance(await response.json(), dict) else None
            code = error["code"] if error else ""
        return response.status, code, dict(response.headers)


RECOVERY_S = 10.0


async def recovery_s(export: Callable[[], Awaitable[tuple[int, str, dict[str, str]]]]) -> float:
    """Seconds until an export is acknowledged again (tries every 0.1 s, bounded by RECOVERY_S)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    while loop.time() - started < RECOVERY_S:
        status, _, _ = await export()
        if status == 200:
            return loop.time() - started
        assert status == 503
        await asyncio.sleep(0.1)
    return RECOVERY_S


@pytest.fixture
def private_cluster(tmp_path: Path) -> LocalCluster:
    cluster = start_cluster(tmp_path / "cluster", shards=1)
    yield cluster  # type: ignore[misc]
    cluster.stop()


async def test_an_outage_of_either_server_answers_503_and_the_collector_recovers(
        private_cluster: LocalCluster, start_collector: StartCollector, tmp_path: Path, agent_id: str) -> None:
    cluster = private_cluster
    assert cluster.postgres is not None
    collector = start_collector(tmp_path / "kate.duckdb", config=engine_config(cluster, QUIET))
    rng, sent = random.Random(3), []
    traces = f"{collector.base_url}/v1/traces"
    runs = f"{collector.base_url}/agents/{agent_id}/runs"

    async def export(session: aiohttp.ClientSession) -> tuple[int, str, dict[str, str]]:
        keys = new_keys(5)
        answer = await answer_of(session, "POST", traces, data=otlp_body(agent_id, keys, rng, 64),
                                 headers={"Content-Type": "application/x-protobuf"})
        if answer[0] == 200:
            sent.extend(keys)
        return answer

    async with aiohttp.ClientSession() as session:
        assert (await export(session))[0] == 200
        for outage, stop, start in (
            ("PostgreSQL", cluster.postgres.stop, cluster.postgres.start),
            ("ClickHouse", cluster.nodes[0].stop, lambda: cluster.nodes[0].start(cluster.nodes)),
        ):
            await asyncio.to_thread(stop)
            status, _, headers = await export(session)
            assert (status, headers.get("Retry-After")) == (503, "1"), outage
            assert (await answer_of(session, "GET", runs))[:2] == (503, "store_unreachable"), outage
            assert (await answer_of(session, "GET", f"{collector.base_url}/readyz"))[0] == 503, outage
            await asyncio.to_thread(start)
            waited = await recovery_s(lambda: export(session))
            assert waited < RECOVERY_S, outage
            print(f"{outage}: requests succeed again {waited:.2f} s after the server's return")
            assert (await answer_of(session, "GET", runs))[0] == 200, outage
    assert collector.process.poll() is None
    assert "Traceback" not in collector.log(), collector.log()[-3000:]
    stored = stored_span_keys(cluster, [agent_id])
    assert set(sent) <= stored.keys() and set(stored.values()) == {1}

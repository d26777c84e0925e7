"""Issue 19: a collector that is down, hangs or fails never breaks the agent, nor stalls it past the bound.

Each fault is a real server on 127.0.0.1 (or a closed port); the agent runs inside `kate.run`
(sync) or `client.run` (async) with `@trace` spans going to a real KateSpanExporter.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import kate.exporter
import pytest
from kate.exporter import Client, KateSpanExporter, current_run_id, trace

from tests.exporter.faulty_collectors import (
    aiohttp_collector,
    closed_port,
    creates_then_hangs,
    error_answer,
    hanging_collector,
)

DOWN_AGENT = Path(__file__).with_name("down_agent.py")
InstallExporter = Callable[..., KateSpanExporter]  # the `install_exporter` fixture of conftest.py
BOUND_S = 0.5  # the run contexts' timeout in these tests
SLACK_S = 0.75  # scheduling on a loaded 2-core machine

FAULTS: dict[str, Callable[[], AbstractContextManager[str]]] = {
    "refused": closed_port,
    "hangs": hanging_collector,
    "answers_500": lambda: aiohttp_collector(error_answer(500)),
    "answers_503": lambda: aiohttp_collector(error_answer(503)),
}


def first_met(url: str) -> str:
    """The URL under a fresh path: the SDK remembers failures per collector URL for the process,
    and a port number can come round again in a later test."""
    return f"{url}/{uuid.uuid4().hex[:8]}"


@pytest.fixture(params=sorted(FAULTS))
def faulty_url(request: pytest.FixtureRequest) -> Iterator[str]:
    with FAULTS[request.param]() as url:
        yield first_met(url)


@pytest.fixture
def warnings(caplog: pytest.LogCaptureFixture) -> Callable[[], list[str]]:
    caplog.set_level(logging.WARNING, logger="kate.exporter")
    return lambda: [r.getMessage() for r in caplog.records if r.name == "kate.exporter" and r.levelno >= logging.WARNING]


@trace(kind="TOOL")
def lookup(key: str) -> str:
    return key.upper()


@trace(kind="AGENT")
def sync_agent(question: str) -> str:
    return f"{lookup(question)} in run {current_run_id()}"


@trace(kind="AGENT")
async def async_agent(question: str) -> str:
    return f"{lookup(question)} in run {current_run_id()}"


def test_kate_run_lets_the_agent_finish_when_the_collector_fails(
    faulty_url: str, agent_id: str, install_exporter: InstallExporter, warnings: Callable[[], list[str]]
) -> None:
    install_exporter(faulty_url, agent_id, timeout=1.0)

    started = time.monotonic()
    with kate.exporter.run(agent_id, trigger="test", endpoint=faulty_url, timeout=BOUND_S) as run:
        answer = sync_agent("kate")
    elapsed_s = time.monotonic() - started

    assert answer == f"KATE in run {run.id}"  # the agent ran, inside its run id
    assert (run.agent_id, run.trigger, run.created_at) == (agent_id, "test", None)
    assert elapsed_s < 2 * BOUND_S + SLACK_S
    logged = warnings()
    assert len(logged) == 1, logged
    assert faulty_url in logged[0] and f"creating run {run.id}" in logged[0]


async def test_client_run_lets_the_agent_finish_when_the_collector_fails(
    faulty_url: str, agent_id: str, install_exporter: InstallExporter, warnings: Callable[[], list[str]]
) -> None:
    install_exporter(faulty_url, agent_id, timeout=1.0)

    started = time.monotonic()
    async with Client(faulty_url) as client, client.run(agent_id=agent_id, timeout=BOUND_S) as run:
        answer = await async_agent("kate")
    elapsed_s = time.monotonic() - started

    assert answer == f"KATE in run {run.id}"
    assert elapsed_s < 2 * BOUND_S + SLACK_S
    logged = warnings()
    assert len(logged) == 1 and faulty_url in logged[0], logged


def test_the_agents_own_exception_passes_through_unchanged(
    faulty_url: str, agent_id: str, install_exporter: InstallExporter, warnings: Callable[[], list[str]]
) -> None:
    install_exporter(faulty_url, agent_id, timeout=1.0)
    raised = LookupError("the agent's own failure")

    with pytest.raises(LookupError) as caught:  # noqa: SIM117 - the run must see the raise
        with kate.exporter.run(agent_id, endpoint=faulty_url, timeout=BOUND_S):
            sync_agent("kate")
            raise raised

    assert caught.value is raised
    assert len(warnings()) == 1


async def test_a_collector_that_hangs_after_creating_the_run_costs_the_exit_at_most_the_bound(
    agent_id: str, install_exporter: InstallExporter, warnings: Callable[[], list[str]]
) -> None:
    with aiohttp_collector(creates_then_hangs()) as served:
        url = first_met(served)
        install_exporter(url, agent_id, timeout=3.0)  # its upload hangs past the context's bound
        async with Client(url) as client:
            async with client.run(agent_id=agent_id, timeout=BOUND_S) as run:
                answer = await async_agent("kate")
                exit_started = time.monotonic()
            exit_s = time.monotonic() - exit_started

    assert run.status == "running" and answer == f"KATE in run {run.id}"
    assert exit_s < BOUND_S + SLACK_S  # the flush and the completion share one bound
    logged = warnings()
    assert len(logged) == 1 and url in logged[0], logged
    assert f"ending run {run.id} (left running" in logged[0]  # completing it now would refuse its late spans


def test_argument_mistakes_raise_before_any_request(agent_id: str) -> None:
    with closed_port() as url:
        for arguments, field in [
            ({"trigger": "nightly"}, "trigger"),
            ({"run_id": "run-1"}, "run_id"),
            ({"timeout": 0}, "timeout"),
        ]:
            with pytest.raises(ValueError, match=field):
                kate.exporter.run(agent_id, endpoint=url, **arguments)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="trigger"):
            Client(url).run(agent_id=agent_id, trigger="nightly")
        with pytest.raises(ValueError, match="endpoint"):
            kate.exporter.run(agent_id, endpoint="127.0.0.1:4318")


def test_an_agent_that_configures_kate_while_the_collector_is_down_runs_and_exits_normally(agent_id: str) -> None:
    with closed_port() as url:
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, str(DOWN_AGENT), url, agent_id], capture_output=True, text=True, timeout=60, check=False
        )
        process_s = time.monotonic() - started

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["answers"] == [5, 14]
    assert report["seconds"] < 2 * 0.5 + SLACK_S
    warned = [line for line in done.stderr.splitlines() if "failed at collector" in line]
    assert len(warned) == 1 and url in warned[0], done.stderr  # Python's last-resort handler prints WARNINGs
    assert process_s < 8.0  # the exit flush tries a collector known to be down once, without backoff

"""A process that configures Kate and exits normally loses no spans: the SDK's atexit shutdown flushes."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from kate.exporter import SyncClient

from tests.support.server import CollectorProcess

SCRIPT = Path(__file__).with_name("exit_agent.py")


@pytest.mark.parametrize("mode", ["fresh", "existing"])
def test_an_agent_process_that_exits_without_shutdown_loses_no_spans(
    collector: CollectorProcess, agent_id: str, mode: str
) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), collector.base_url, agent_id, mode],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    ids = json.loads(done.stdout.strip().splitlines()[-1])
    auto_run_id = str(uuid.UUID(ids["trace_id"]))  # docs/mapping.md#agents-and-runs: the trace id is the run id

    with SyncClient(collector.base_url) as client:
        manual = client.runs.get(agent_id=agent_id, run_id=ids["run_id"])
        automatic = client.runs.get(agent_id=agent_id, run_id=auto_run_id)
        spans = client.runs.spans(agent_id=agent_id, run_id=auto_run_id)

    assert (manual.status, manual.trigger, manual.span_count) == ("completed", "test", 4)
    assert (automatic.status, automatic.trigger, automatic.span_count) == ("completed", "automatic", 21)
    assert sorted(s.node_name for s in spans) == ["agent"] + ["step"] * 20
    assert "Kate exporter" not in done.stderr  # no export failure was logged

"""What the first request after start would load is loaded at start (docs/performance.md#the-first-request).

A module imported on first use costs the request that first uses it: pricing imports
genai-prices, and pyarrow imports pandas when it first builds an array, in a decode worker and in
the writer's process (~1 s together on the 2-vCPU VM). Each check runs in a
fresh interpreter, warms up as the collector does, then handles real spans and lists the modules
that handling imported: there must be none.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

from kate.collector.ingest.decode_pool import decode_body
from kate.collector.ingest.wire import PROTOBUF

from bench.workload import TraceFactory, otlp_request

ROOT = Path(__file__).resolve().parents[3]

DECODE_AFTER_WARM_UP = """
import json, sys
from kate.collector.cost.settings import CostConfig
from kate.collector.ingest.decode_pool import decode_body, warm_up
from kate.collector.ingest.wire import PROTOBUF
body = open(sys.argv[1], "rb").read()
warm_up(CostConfig())
before = set(sys.modules)
batch = decode_body(body, PROTOBUF, 65536, CostConfig())
print(json.dumps({"spans": batch.spans.count, "imported": sorted(set(sys.modules) - before)}))
"""

WRITE_AFTER_OPEN = """
import asyncio, json, pickle, sys
from kate.collector.completion import CompletionHub
from kate.collector.config import StorageConfig
from kate.collector.ingest.sink import Sink
from kate.collector.store.duckdb.store import DuckDBStore
batch = pickle.load(open(sys.argv[1], "rb"))
store = DuckDBStore(sys.argv[2], StorageConfig(), CompletionHub())
store.open()
before = set(sys.modules)
asyncio.run(Sink(store.spans).consume(batch, protocol="test"))
imported = sorted(set(sys.modules) - before)
store.close()
print(json.dumps({"imported": imported}))
"""


def _body() -> bytes:
    factory = TraceFactory(3)
    return otlp_request(factory.run() + factory.run(), "agent-1")  # OpenInference and GenAI spans, priced models


def _run(script: str, *args: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_a_warmed_up_decoder_imports_nothing_for_its_first_body(tmp_path: Path) -> None:
    body = tmp_path / "body.bin"
    body.write_bytes(_body())

    result = _run(DECODE_AFTER_WARM_UP, str(body))

    assert result == {"spans": 128, "imported": []}


def test_an_opened_store_imports_nothing_for_its_first_write(tmp_path: Path) -> None:
    batch = tmp_path / "batch.pickle"
    batch.write_bytes(pickle.dumps(decode_body(_body(), PROTOBUF, 65536).spans))  # decoded here, not there

    result = _run(WRITE_AFTER_OPEN, str(batch), str(tmp_path / "kate.duckdb"))

    assert result == {"imported": []}

"""`python -m bench` runs end to end on a tiny load and prints every figure of issue 6.

A smoke test only: the suite's loads are cut to a few requests, and no figure is compared with
anything (benchmarks print figures; timing assertions do not belong in the test suite).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIGURES = (
    "Kate's spans table (key + run index), fastest of Appender and Arrow INSERT",
    "OTLP/HTTP protobuf, 1 sender",
    "OTLP/HTTP protobuf, 4 senders",
    "ack p99 (OTLP/HTTP protobuf, 4 senders)",
    "OTLP/gRPC, 4 senders",
    "JSON upload, 4 senders",
    "decode: parse, map and Arrow-encode, CPU per span",
    "writer alone: decoded batches through Kate's sink and writer, 4 submitters",
    "end-to-end limit if all",
    "Ack latency at half the maximum rate",
    "DuckDB checkpoints during the run",
    "Overload: 16 OTLP/HTTP senders",
    "one run's spans (100), GET .../runs/{id}/spans p99",
    "listing runs, GET /agents/{id}/runs p50",
    "analysis view",
    "exporter cost per span",
    "@trace per call",
    "collector peak RSS",
    "Bytes on disk per span",
)


def test_the_benchmark_suite_runs_end_to_end_and_prints_every_figure(tmp_path: Path) -> None:
    output = tmp_path / "latest.md"
    args = ["--quick", "--requests", "2", "--paced-seconds", "1", "--read-spans", "2000", "--output", str(output)]
    done = subprocess.run([sys.executable, "-m", "bench", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300, check=False)

    assert done.returncode == 0, done.stderr[-3000:]
    for figure in FIGURES:
        assert figure in done.stdout, f"{figure!r} missing from:\n{done.stdout}"
    assert "skipped" not in done.stdout
    written = output.read_text(encoding="utf-8")
    assert written.startswith("# Kate benchmark") and "| OTLP/HTTP protobuf, 4 senders |" in written

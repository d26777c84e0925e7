"""Kate and Arize Phoenix side by side: the same OTLP/HTTP workload, spans/s until visible.

Optional, never part of the test suite. Phoenix is installed on first use into its own virtual
environment (bench/.phoenix-venv, git-ignored; a few minutes and ~850 MB), pinned so that
figures compare across runs. Both servers listen on 127.0.0.1 only, on free ports, with their
data in a temporary folder, and are measured alternately in the same run:

- the bench's 512-span requests (bench/workload.py: runs of 64 spans, OpenInference and GenAI
  attributes, ~1 KB of text in and out per span), fresh ids for every request;
- `--senders` concurrent senders, `--requests` requests in all;
- the time from the first request until every span is visible through the server's API:
  Kate's `/sql` (count of the spans table), Phoenix's GraphQL (`recordCount` of its project).
  Phoenix answers an export before storing it, so "acknowledged" would flatter it.

Bounded in count and time (`--timeout-s` per measurement). Prints figures, never asserts. Run:
    .venv/bin/python -m bench.phoenix_compare [--requests 20] [--senders 4] [--repeats 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import aiohttp

from bench.collector import start_collector
from bench.ingest import Payloads
from bench.workload import SPANS_PER_REQUEST, TraceFactory

PHOENIX_VERSION = "20.26.1"
VENV = Path(__file__).parent / ".phoenix-venv"
START_TIMEOUT_S = 180.0
POLL_S = 0.2


def _python(venv: Path) -> Path:
    return venv / "bin" / "python"


def ensure_phoenix(version: str) -> Path:
    """The venv's python with arize-phoenix==version, installing it when missing."""
    python = _python(VENV)
    check = [str(python), "-c", f"import importlib.metadata as m; assert m.version('arize-phoenix') == '{version}'"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    print(f"installing arize-phoenix=={version} into {VENV.name} (first use: a few minutes)...", flush=True)
    if VENV.exists():
        shutil.rmtree(VENV)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", f"arize-phoenix=={version}"], check=True,
                   timeout=1800)
    return python


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Phoenix:
    """`phoenix serve` on loopback with its SQLite database in `folder`."""

    def __init__(self, python: Path, folder: Path) -> None:
        self.port = _free_port()
        env = {**os.environ, "PHOENIX_WORKING_DIR": str(folder), "PHOENIX_HOST": "127.0.0.1",
               "PHOENIX_PORT": str(self.port), "PHOENIX_GRPC_PORT": str(_free_port()),
               "PHOENIX_TELEMETRY_ENABLED": "false"}
        self._log = (folder / "phoenix.log").open("w")
        self.process = subprocess.Popen([str(python), "-m", "phoenix.server.main", "serve"], env=env, cwd=folder,
                                        stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"phoenix exited with {self.process.returncode}; see {folder / 'phoenix.log'}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/healthz", timeout=2):
                    return
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"phoenix did not answer /healthz within {START_TIMEOUT_S:.0f} s")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stored_spans(self) -> int:
        query = {"query": "{ projects { edges { node { recordCount } } } }"}
        request = urllib.request.Request(f"{self.base_url}/graphql", data=json.dumps(query).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            edges = json.loads(response.read())["data"]["projects"]["edges"]
        return sum(int(edge["node"]["recordCount"]) for edge in edges)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=60)
        self._log.close()


def _kate_spans(base_url: str) -> int:
    request = urllib.request.Request(f"{base_url}/sql", data=json.dumps({"sql": "SELECT count(*) FROM spans"}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return int(json.loads(response.read())["rows"][0][0])


async def _send(base_url: str, bodies: list[bytes], senders: int) -> None:
    queue = list(reversed(bodies))
    async with aiohttp.ClientSession() as session:
        async def sender() -> None:
            while queue:
                body = queue.pop()
                for _ in range(30):  # a 503 is retried after its Retry-After, as exporters do
                    async with session.post(f"{base_url}/v1/traces", data=body,
                                            headers={"Content-Type": "application/x-protobuf"}) as response:
                        await response.read()
                        if response.status == 200:
                            break
                        if response.status not in (429, 503):
                            raise RuntimeError(f"{base_url} answered {response.status}")
                        await asyncio.sleep(float(response.headers.get("Retry-After", "1")))

        await asyncio.gather(*(sender() for _ in range(senders)))


def measure(base_url: str, stored: Callable[[], int], bodies: list[bytes], senders: int, timeout_s: float) -> float:
    """Spans/s from the first request until all of them are visible; 0 when the time ran out.
    Every body must carry span ids of its own: Phoenix keeps one span per span id."""
    before = stored()
    requests = len(bodies)
    expected = before + requests * SPANS_PER_REQUEST
    started = time.perf_counter()
    asyncio.run(asyncio.wait_for(_send(base_url, bodies, senders), timeout_s))
    while stored() < expected:
        if time.perf_counter() - started > timeout_s:
            return 0.0
        time.sleep(POLL_S)
    return requests * SPANS_PER_REQUEST / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=20, help="512-span requests per measurement (default 20)")
    parser.add_argument("--senders", type=int, default=4, help="concurrent senders (default 4)")
    parser.add_argument("--repeats", type=int, default=2, help="measurements per server, alternating (default 2)")
    parser.add_argument("--timeout-s", type=float, default=300.0, help="bound on one measurement (default 300)")
    parser.add_argument("--phoenix-version", default=PHOENIX_VERSION)
    args = parser.parse_args()
    requests, senders = max(1, min(args.requests, 1000)), max(1, min(args.senders, 64))
    repeats = max(1, min(args.repeats, 10))
    python = ensure_phoenix(args.phoenix_version)
    # Distinct requests for every measurement (span ids included), the same for both servers.
    payloads = Payloads.build(list(TraceFactory().requests(1 + repeats * requests)))
    batches = [[payloads.otlp[0].fresh()]] + [
        [body.fresh() for body in payloads.otlp[1 + run * requests: 1 + (run + 1) * requests]] for run in range(repeats)]
    results: dict[str, list[float]] = {"Kate": [], "Phoenix": []}
    with tempfile.TemporaryDirectory(prefix="kate-vs-phoenix-") as folder:
        kate = start_collector(Path(folder) / "kate.duckdb", {"evaluation": {"enabled": False}})
        phoenix_dir = Path(folder) / "phoenix"
        phoenix_dir.mkdir()
        phoenix = Phoenix(python, phoenix_dir)
        try:
            measure(kate.base_url, lambda: _kate_spans(kate.base_url), batches[0], 1, args.timeout_s)  # warm-up
            measure(phoenix.base_url, phoenix.stored_spans, batches[0], 1, args.timeout_s)
            for bodies in batches[1:]:
                results["Kate"].append(measure(kate.base_url, lambda: _kate_spans(kate.base_url), bodies, senders,
                                               args.timeout_s))
                results["Phoenix"].append(measure(phoenix.base_url, phoenix.stored_spans, bodies, senders,
                                                  args.timeout_s))
        finally:
            kate.stop()
            phoenix.stop()
    print(f"machine: {os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()}; "
          f"arize-phoenix {args.phoenix_version} (SQLite); {requests} requests of {SPANS_PER_REQUEST} spans, "
          f"{senders} senders, OTLP/HTTP protobuf, until visible through each server's API")
    for name, figures in results.items():
        shown = ", ".join(f"{value:,.0f}" for value in figures)
        print(f"{name:>8}: median {statistics.median(figures):9,.0f} spans/s  (runs: {shown})")
    phoenix_median = statistics.median(results["Phoenix"])
    if phoenix_median > 0:
        print(f"   ratio: Kate {statistics.median(results['Kate']) / phoenix_median:,.1f}x Phoenix")
    else:
        print("   ratio: Phoenix did not make its spans visible within the time bound")


if __name__ == "__main__":
    main()

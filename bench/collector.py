"""The collector under test: `kate serve` as a subprocess on 127.0.0.1 with free ports.

Owns starting, stopping and observing it (peak RSS from /proc, file sizes). Must not talk
HTTP beyond what the other bench modules do; never binds anything but loopback.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_READY = re.compile(r"kate ready http=(?P<host>[\d.]+):(?P<port>\d+) grpc=[\d.]+:(?P<grpc>\d+)")
START_TIMEOUT_S = 60.0


@dataclass
class Collector:
    process: subprocess.Popen[str]
    db_path: Path
    http_port: int
    grpc_port: int
    output: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def peak_rss_bytes(self) -> int:
        """VmHWM: the process's peak resident set so far (0 once it has exited)."""
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text(encoding="ascii")
        except OSError:
            return 0
        match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
        return int(match.group(1)) * 1024 if match else 0

    def tree_pids(self) -> list[int]:
        """The collector and its descendants (decode workers, hosted agents)."""
        pids, index = [self.process.pid], 0
        while index < len(pids):
            for task in Path(f"/proc/{pids[index]}/task").glob("*/children"):
                try:
                    pids += [int(pid) for pid in task.read_text(encoding="ascii").split()]
                except OSError:
                    pass
            index += 1
        return pids

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the collector and its live descendants."""
        total = 0.0
        for pid in self.tree_pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def peak_rss_tree_bytes(self) -> int:
        """Sum of VmHWM over the collector and its descendants (the decode workers count too)."""
        total = 0
        for pid in self.tree_pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
            except OSError:
                continue
            match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
            total += int(match.group(1)) * 1024 if match else 0
        return total

    def wal_bytes(self) -> int:
        try:
            return os.path.getsize(f"{self.db_path}.wal")
        except OSError:
            return 0

    def stop(self, timeout_s: float = 60.0) -> None:
        """SIGTERM (a clean close checkpoints the file); kill if it hangs. Safe to call twice."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout_s)

    def log_tail(self, lines: int = 30) -> str:
        return "".join(self.output[-lines:])


def start_collector(db_path: Path, config: dict[str, Any] | None = None) -> Collector:
    """Start `kate serve` for db_path (created if missing) and wait for its ready line."""
    config_path = db_path.parent / f"{db_path.stem}-config.yaml"
    config_path.write_text(yaml.safe_dump(config or {}), encoding="utf-8")
    args = [sys.executable, "-m", "kate.collector", "serve", "--config", str(config_path),
            "--host", "127.0.0.1", "--port", "0", "--grpc-port", "0", "--db", str(db_path)]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"}, cwd=db_path.parent)
    output: list[str] = []
    ready: dict[str, str] = {}
    seen = threading.Event()
    threading.Thread(target=_drain, args=(process, output, ready, seen), daemon=True).start()
    if not seen.wait(START_TIMEOUT_S) or not ready:
        process.kill()
        process.wait(timeout=20)
        raise RuntimeError("collector did not start:\n" + "".join(output[-40:]))
    return Collector(process, db_path, int(ready["port"]), int(ready["grpc"]), output)


def _drain(process: subprocess.Popen[str], output: list[str], ready: dict[str, str], seen: threading.Event) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        if len(output) > 2000:  # keep the tail only: INFO logs a line per completed run
            del output[:1000]
        output.append(line)
        match = None if seen.is_set() else _READY.search(line)
        if match:
            ready.update(match.groupdict())
            seen.set()
    seen.set()


def disk_bytes(db_path: Path) -> int:
    """The DuckDB file plus its WAL."""
    return sum(os.path.getsize(p) for p in (db_path, Path(f"{db_path}.wal")) if p.exists())

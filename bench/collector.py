"""The collector under test: `kate serve` as a subprocess on 127.0.0.1 with free ports.

Starting and stopping is the test suite's (tests/support/server.py); this module owns what the
bench observes of the running process: CPU, peak RSS of it and its workers, WAL and file sizes.
Never binds anything but loopback.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.server import CollectorProcess, start_collector_process

START_TIMEOUT_S = 60.0  # a start on a 5 M-span file opens and checks it first


@dataclass
class Collector:
    server: CollectorProcess

    @property
    def db_path(self) -> Path:
        return self.server.db_path

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.server.grpc_port}"

    def tree_pids(self) -> list[int]:
        """The collector and its descendants (decode workers, hosted agents)."""
        return tree_pids([self.server.process.pid])

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the collector and its live descendants."""
        return tree_cpu_seconds([self.server.process.pid])

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
        self.server.stop(timeout_s)

    def log_tail(self, lines: int = 30) -> str:
        return "".join(self.server.output[-lines:])


def tree_pids(roots: list[int]) -> list[int]:
    """These processes and their descendants, from /proc."""
    pids, index = list(roots), 0
    while index < len(pids):
        for task in Path(f"/proc/{pids[index]}/task").glob("*/children"):
            try:
                pids += [int(pid) for pid in task.read_text(encoding="ascii").split()]
            except OSError:
                pass
        index += 1
    return pids


def tree_cpu_seconds(roots: list[int]) -> float:
    """CPU time (user + system) used so far by these processes and their live descendants."""
    total = 0.0
    for pid in tree_pids(roots):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def start_collector(db_path: Path, config: dict[str, Any] | None = None) -> Collector:
    """Start `kate serve` for db_path (created if missing) and wait for its ready line."""
    return Collector(start_collector_process(db_path, config=config or {}, start_timeout_s=START_TIMEOUT_S))


def disk_bytes(db_path: Path) -> int:
    """The DuckDB file plus its WAL."""
    return sum(os.path.getsize(p) for p in (db_path, Path(f"{db_path}.wal")) if p.exists())

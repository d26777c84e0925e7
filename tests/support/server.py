"""Start and stop the real collector process for tests: `kate serve` on port 0, loopback only."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import yaml

_READY = re.compile(r"kate ready http=(?P<host>[\d.]+):(?P<port>\d+)(?: grpc=[\d.]+:(?P<grpc>\d+))?")
START_TIMEOUT_S = 30.0


@dataclass
class CollectorProcess:
    process: subprocess.Popen[str]
    db_path: Path
    http_port: int
    grpc_port: int | None
    output: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def stop(self, timeout_s: float = 20.0) -> int:
        """SIGTERM and wait (the clean shutdown path); kill if it hangs. Safe to call twice."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout_s)
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL: the crash path."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=20)

    def log(self) -> str:
        return "".join(self.output)


def write_config(db_path: Path, config: dict[str, object]) -> Path:
    """The test's configuration as a config.yaml beside the DuckDB file."""
    path = db_path.parent / f"config-{db_path.stem}.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def start_collector_process(
    db_path: Path,
    *,
    config: dict[str, object] | None = None,
    extra_args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    start_timeout_s: float = START_TIMEOUT_S,
) -> CollectorProcess:
    """Start `kate serve` on free loopback ports and wait for its ready line.

    A collector given a config decodes in one worker process unless the config says otherwise:
    each worker costs a second or two of CPU to start, and the suite starts about a hundred
    collectors on two CPUs. The default (a worker per CPU) runs in the session's collectors."""
    args = [sys.executable, "-m", "kate.collector", "serve", "--port", "0", "--grpc-port", "0", "--db", str(db_path)]
    if config is not None:
        ingest = dict(config.get("ingest") or {})  # type: ignore[call-overload]
        ingest.setdefault("decode_workers", 1)
        args[3:3] = ["--config", str(write_config(db_path, {**config, "ingest": ingest}))]
    process = subprocess.Popen(
        [*args, *extra_args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}, cwd=db_path.parent,
    )
    output: list[str] = []
    ready: dict[str, str | None] = {}
    seen_ready = threading.Event()
    threading.Thread(target=_drain, args=(process, output, ready, seen_ready), daemon=True).start()
    if not seen_ready.wait(start_timeout_s) or not ready:
        process.kill()
        process.wait(timeout=20)
        raise RuntimeError("collector did not start:\n" + "".join(output))
    grpc = ready.get("grpc")
    return CollectorProcess(process, db_path, int(str(ready["port"])), int(grpc) if grpc else None, output)


def _drain(
    process: subprocess.Popen[str], output: list[str], ready: dict[str, str | None], seen_ready: threading.Event
) -> None:
    """Collect the process output; signal once the ready line (or the end of output) is seen."""
    assert process.stdout is not None
    for line in process.stdout:
        output.append(line)
        match = None if seen_ready.is_set() else _READY.search(line)
        if match:
            ready.update(match.groupdict())
            seen_ready.set()
    seen_ready.set()

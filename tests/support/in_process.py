"""The real collector inside the test process: the same `serve()` as `kate serve`, in a thread
with its own event loop, on loopback port 0, with a real DuckDB file.

For handler tests that need their own configuration: it starts in a fraction of a process's
time (no interpreter to start and import). Crash, shutdown-signal and CLI tests keep the
subprocess (tests/support/server.py). Blocking clients work, as the server's loop is not the
test's. Its log is the kate loggers' records while it ran.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from kate.collector.config import load_config
from kate.collector.server import Ready, serve

from tests.support.server import write_config

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0
_LOGGERS = ("kate", "aiohttp")  # what `kate serve` prints: its own records and aiohttp's (unhandled errors)


def _detach(handler: logging.Handler) -> None:
    for name in _LOGGERS:
        logging.getLogger(name).removeHandler(handler)


class _Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record) + "\n")


@dataclass
class InProcessCollector:
    db_path: Path
    http_port: int
    grpc_port: int | None
    _loop: asyncio.AbstractEventLoop
    _stop: asyncio.Event
    _thread: threading.Thread
    _errors: list[BaseException]
    _log: _Captured = field(repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> int:
        """The clean shutdown (what SIGTERM does): drain, commit, close. 0, or 1 when serving
        failed. Safe to call twice."""
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                raise RuntimeError(f"the in-process collector did not stop within {timeout_s} s")
            _detach(self._log)
        return 1 if self._errors else 0

    def log(self) -> str:
        return "".join(self._log.lines)


def start_collector_in_process(db_path: Path, *, config: dict[str, object] | None = None,
                               env: dict[str, str] | None = None) -> InProcessCollector:
    """Start the collector on free loopback ports and wait until it listens. It decodes in this
    process (ingest.decode_workers 0) unless the config says otherwise: worker processes would
    cost seconds of CPU to start, and these tests are about handlers, not the decode pool."""
    ingest = dict((config or {}).get("ingest") or {})  # type: ignore[call-overload]
    ingest.setdefault("decode_workers", 0)
    config_path = write_config(db_path, {**(config or {}), "ingest": ingest})
    loaded = load_config(config_path, environ={**os.environ, **(env or {})},
                         overrides={"storage.path": str(db_path), "server.port": 0, "server.grpc_port": 0})
    captured = _Captured()
    for name in _LOGGERS:
        logging.getLogger(name).addHandler(captured)
        logging.getLogger(name).setLevel(logging.INFO)
    started = threading.Event()
    ready: list[Ready] = []
    errors: list[BaseException] = []
    handles: dict[str, object] = {}

    async def main() -> None:
        stop = asyncio.Event()
        handles.update(loop=asyncio.get_running_loop(), stop=stop)

        def on_ready(where: Ready) -> None:
            ready.append(where)
            started.set()

        await serve(loaded, stop=stop, on_ready=on_ready)

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # reported by start (before ready) or stop
            errors.append(exc)
        finally:
            started.set()

    thread = threading.Thread(target=run, name="kate-in-process", daemon=True)
    thread.start()
    if not started.wait(START_TIMEOUT_S) or not ready:
        _detach(captured)
        raise RuntimeError(f"the in-process collector did not start: {errors!r}\n{''.join(captured.lines)}")
    where = ready[0]
    loop, stop = handles["loop"], handles["stop"]
    assert isinstance(loop, asyncio.AbstractEventLoop) and isinstance(stop, asyncio.Event)
    return InProcessCollector(db_path, where.http_port, where.grpc_port, loop, stop, thread, errors, captured)

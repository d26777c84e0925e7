"""`kate serve`: run the HTTP app and the OTLP/gRPC receiver until SIGINT/SIGTERM.

Prints one `kate ready http=HOST:PORT grpc=HOST:PORT db=PATH` line once both ports listen, so
scripts and tests can start it on port 0 and learn the chosen ports.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from typing import NamedTuple

from aiohttp import web
from kate.collector.app import GRPC_KEY, create_app
from kate.collector.config import Config
from kate.collector.listen import bind_http
from kate.collector.store.engines import storage_label

logger = logging.getLogger(__name__)


class Ready(NamedTuple):
    """Where a started collector listens."""

    http_host: str
    http_port: int
    grpc_host: str
    grpc_port: int
    db: str


def print_ready(ready: Ready) -> None:
    print(f"kate ready http={ready.http_host}:{ready.http_port} grpc={ready.grpc_host}:{ready.grpc_port} "
          f"db={ready.db}", flush=True)


async def serve(config: Config, *, stop: asyncio.Event | None = None,
                on_ready: Callable[[Ready], None] = print_ready) -> None:
    """Serve until SIGINT/SIGTERM, or until `stop` is set when given (a collector run inside
    another program, such as the tests). on_ready is called once both ports listen.

    Raises PortUnavailable (an OSError) before the DuckDB file is touched when a port is taken."""
    stop = stop or _stop_on_signals()
    http_sockets = bind_http(config.server.host, config.server.port)  # first: a taken port creates no file
    app = create_app(config)
    grpc = app[GRPC_KEY]
    # keepalive_timeout also closes a connection that never completes its headers (slow-loris);
    # aiohttp's own default is an hour.
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=config.server.shutdown_timeout_s,
                           access_log=None, keepalive_timeout=config.server.keepalive_timeout_s)
    try:
        grpc.bind()  # before the store too; it serves once the store is open (cleanup_ctx)
        await runner.setup()  # runs cleanup_ctx start-up: opens the store, then starts gRPC
        for sock in http_sockets:
            await web.SockSite(runner, sock).start()
        http_host, http_port = http_sockets[0].getsockname()[:2]
        assert grpc.port is not None  # bound above
        on_ready(Ready(str(http_host), int(http_port), grpc.host, grpc.port, storage_label(config.storage)))
        await stop.wait()
        logger.info("shutting down: finishing requests and committing pending writes")
    finally:
        # Stops listening, drains handlers, stops gRPC, then closes the store; after a failed
        # start-up it undoes only what had started.
        await runner.cleanup()
        await grpc.stop(grace_s=0)  # bound but never started when the start-up failed before it
        for sock in http_sockets:
            sock.close()
    logger.info("stopped")


def _stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM; installed before the ready line so none is missed."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    return stop

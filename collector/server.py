"""`kate serve`: run the HTTP app and the OTLP/gRPC receiver until SIGINT/SIGTERM.

Prints one `kate ready http=HOST:PORT grpc=HOST:PORT db=PATH` line once both ports listen, so
scripts and tests can start it on port 0 and learn the chosen ports.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web
from kate.collector.app import GRPC_KEY, create_app
from kate.collector.config import Config
from kate.collector.listen import bind_http

logger = logging.getLogger(__name__)


async def serve(config: Config) -> None:
    """Raises PortUnavailable (an OSError) before the DuckDB file is touched when a port is taken."""
    stop = _stop_on_signals()
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
        print(f"kate ready http={http_host}:{http_port} grpc={grpc.host}:{grpc.port} db={config.storage.path}",
              flush=True)
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

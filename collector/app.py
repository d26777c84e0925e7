"""create_app(config): wiring only. Lifecycle order: open db → writer → gRPC; torn down in reverse."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from kate.collector.api.access import AUTHENTICATOR_KEY, access_middleware
from kate.collector.api.context import STATE_KEY, AppState
from kate.collector.api.ratelimit import RateLimiter
from kate.collector.api.routes import add_routes
from kate.collector.auth import Authenticator
from kate.collector.completion import CompletionHub
from kate.collector.config import Config
from kate.collector.ingest.otlp_grpc import GrpcReceiver
from kate.collector.ingest.sink import Sink
from kate.collector.middleware import error_middleware
from kate.collector.store.database import Database

GRPC_KEY = web.AppKey("kate_grpc_receiver", GrpcReceiver)


def create_app(config: Config) -> web.Application:
    # error_middleware is outermost so that access errors (401/403) render like every other error.
    app = web.Application(middlewares=[error_middleware, access_middleware], client_max_size=config.server.max_body_bytes)
    app[AUTHENTICATOR_KEY] = Authenticator(config.auth)
    database = Database(config.storage.path, config.storage)
    completions = CompletionHub()
    sink = Sink(database, completions)
    app[STATE_KEY] = AppState(
        config=config,
        database=database,
        sink=sink,
        completions=completions,
        upload_limiter=RateLimiter(config.api.upload_rate_limit_per_minute),
    )
    app[GRPC_KEY] = GrpcReceiver(config.server, config.ingest, sink, app[AUTHENTICATOR_KEY])
    add_routes(app)
    app.cleanup_ctx.append(_database_lifecycle)
    app.cleanup_ctx.append(_grpc_lifecycle)  # after the store: it serves only while the store is open
    return app


async def _database_lifecycle(app: web.Application) -> AsyncIterator[None]:
    database = app[STATE_KEY].database
    database.open()
    yield
    database.close()  # drains the write queue and commits before the file is closed


async def _grpc_lifecycle(app: web.Application) -> AsyncIterator[None]:
    receiver = app[GRPC_KEY]
    await receiver.start()
    yield
    # Running exports finish (they await their commit) before the store below closes.
    await receiver.stop(grace_s=app[STATE_KEY].config.server.shutdown_timeout_s)

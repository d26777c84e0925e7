"""create_app(config): wiring only. Lifecycle order: open db → writer → decode workers →
evaluation → gRPC → job worker → traffic summary → retention; torn down in reverse."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from kate.collector import metrics
from kate.collector.api.access import AUTHENTICATOR_KEY, access_middleware
from kate.collector.api.context import STATE_KEY, AppState
from kate.collector.api.ratelimit import RateLimiter
from kate.collector.api.request_guard import GUARD_KEY, RequestGuard, add_cors_headers, request_guard_middleware
from kate.collector.api.routes import add_routes
from kate.collector.auth import Authenticator
from kate.collector.completion import CompletionHub
from kate.collector.config import Config
from kate.collector.evaluation.scheduler import EvaluationScheduler, build_evaluators
from kate.collector.ingest.decode_pool import DecodePool
from kate.collector.ingest.receive_grpc import GrpcReceiver
from kate.collector.ingest.sink import Sink
from kate.collector.jobs.hosted import HostedAgents
from kate.collector.jobs.spans import SpanForwarder
from kate.collector.jobs.worker import JobWorker
from kate.collector.middleware import BODY_TIMEOUT_KEY, body_deadline_middleware, error_middleware
from kate.collector.retention.pruner import Pruner
from kate.collector.store.engines import build_store
from kate.collector.store.genai_folding import FoldSettings
from kate.collector.traffic_log import TrafficSummary
from kate.collector.ui.routes import add_ui_routes

GRPC_KEY = web.AppKey("kate_grpc_receiver", GrpcReceiver)
PRUNER_KEY = web.AppKey("kate_retention", Pruner)


def create_app(config: Config) -> web.Application:
    # error_middleware is outermost so that access errors (401/403) render like every other error;
    # the request guard refuses cross-site and rebound requests before access control runs.
    app = web.Application(middlewares=[error_middleware, request_guard_middleware, access_middleware,
                                       body_deadline_middleware],
                          client_max_size=config.server.max_body_bytes)
    app[GUARD_KEY] = RequestGuard.from_config(config.server, keys_required=bool(config.auth.keys))
    app.on_response_prepare.append(add_cors_headers)
    app[BODY_TIMEOUT_KEY] = config.server.body_timeout_s
    app[AUTHENTICATOR_KEY] = Authenticator(config.auth)
    completions = CompletionHub()
    fold = FoldSettings(config.ingest.max_text_bytes, config.ingest.genai_log_pending_hours * 3600)
    store = build_store(config, completions, fold)
    decoder = DecodePool(config.ingest.decode_workers, config.ingest.max_text_bytes, config.queue, config.cost)
    sink = Sink(store.spans, decoder)
    metrics.watch_queues(write_requests=lambda: store.write_queue()[0], write_bytes=lambda: store.write_queue()[1],
                         decode_requests=lambda: decoder.pending)
    evaluations = EvaluationScheduler(store.evaluations, config.evaluation, build_evaluators(config.evaluation))
    completions.subscribe(evaluations)
    hosted = HostedAgents(config.hosted_agents)
    forwarder = SpanForwarder(sink)
    app[STATE_KEY] = AppState(
        config=config,
        store=store,
        sink=sink,
        upload_limiter=RateLimiter(config.api.upload_rate_limit_per_minute, shared=store.rate_limits),
        evaluate_limiter=RateLimiter(config.api.evaluate_rate_limit_per_minute, shared=store.rate_limits),
        evaluations=evaluations,
        hosted=hosted,
        jobs=JobWorker(store.jobs, hosted, config.jobs, spans=forwarder,
                       max_text_bytes=config.ingest.max_text_bytes),
    )
    app[GRPC_KEY] = GrpcReceiver(config.server, sink, app[AUTHENTICATOR_KEY])
    app[PRUNER_KEY] = Pruner(store.retention, config.retention)
    add_routes(app)
    if config.ui.enabled:
        add_ui_routes(app)  # / redirects to /ui/; the UI uses the API above
    app.cleanup_ctx.append(_database_lifecycle)
    app.cleanup_ctx.append(_decoding_lifecycle)  # before the receivers, stopped after they drained
    app.cleanup_ctx.append(_evaluation_lifecycle)  # before gRPC: root spans' completions find it running
    app.cleanup_ctx.append(_grpc_lifecycle)  # after the store: it serves only while the store is open
    app.cleanup_ctx.append(_jobs_lifecycle)  # last: stopped first, while its agents' writes still land
    app.cleanup_ctx.append(_traffic_summary_lifecycle)
    app.cleanup_ctx.append(_retention_lifecycle)  # after the store opened; stopped before it closes
    return app


async def _database_lifecycle(app: web.Application) -> AsyncIterator[None]:
    store = app[STATE_KEY].store
    await store.start()
    yield
    await store.stop()  # drains the write queue and commits before the file is closed


async def _decoding_lifecycle(app: web.Application) -> AsyncIterator[None]:
    decoder = app[STATE_KEY].sink.decoder
    decoder.start()
    yield
    decoder.stop()


async def _grpc_lifecycle(app: web.Application) -> AsyncIterator[None]:
    receiver = app[GRPC_KEY]
    await receiver.start()
    yield
    # Running exports finish (they await their commit) before the store below closes.
    await receiver.stop(grace_s=app[STATE_KEY].config.server.shutdown_timeout_s)


async def _evaluation_lifecycle(app: web.Application) -> AsyncIterator[None]:
    scheduler = app[STATE_KEY].evaluations
    await scheduler.start()  # resumes evaluations a previous stop left pending
    yield
    await scheduler.stop()


async def _jobs_lifecycle(app: web.Application) -> AsyncIterator[None]:
    worker = app[STATE_KEY].jobs
    await worker.start()
    yield
    await worker.stop()  # running agents get jobs.shutdown_grace_s, then their jobs are released


async def _traffic_summary_lifecycle(app: web.Application) -> AsyncIterator[None]:
    summary = TrafficSummary(app[STATE_KEY].config.logging.traffic_summary_s)
    summary.start()  # logging.traffic_summary_s 0: off
    yield
    await summary.stop()


async def _retention_lifecycle(app: web.Application) -> AsyncIterator[None]:
    pruner = app[PRUNER_KEY]
    pruner.start()  # nothing set under retention: off
    yield
    await pruner.stop()

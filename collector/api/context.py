"""What handlers share: the AppState stored on the aiohttp application under STATE_KEY."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from kate.collector.api.ratelimit import RateLimiter
from kate.collector.config import Config
from kate.collector.evaluation.scheduler import EvaluationScheduler
from kate.collector.ingest.sink import Sink
from kate.collector.jobs.hosted import HostedAgents
from kate.collector.jobs.worker import JobWorker
from kate.collector.store.interfaces import Store


@dataclass(frozen=True, slots=True)
class AppState:
    config: Config
    store: Store
    sink: Sink
    upload_limiter: RateLimiter
    evaluate_limiter: RateLimiter
    evaluations: EvaluationScheduler
    hosted: HostedAgents
    jobs: JobWorker


STATE_KEY = web.AppKey("kate_state", AppState)

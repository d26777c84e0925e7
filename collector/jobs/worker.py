"""The job worker: claims due jobs with a lease, runs each attempt in its own process, settles it.

Owns scheduling only: concurrency per agent and in total, lease renewal, retries with backoff,
and a clean stop (running agents get a grace period, then are killed and their jobs given back
unconsumed). The store owns job state (store/duckdb/jobs.py); process.py owns the agent process. A
failure here never reaches the collector: each loop and each job has its own boundary.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import socket
import uuid
from dataclasses import dataclass

from kate.collector.jobs.hosted import HostedAgents
from kate.collector.jobs.process import AttemptOutcome, AttemptSpec, run_attempt
from kate.collector.jobs.settings import JobsConfig
from kate.collector.jobs.spans import SpanForwarder
from kate.collector.store.interfaces import Claim, ClaimRequest, JobStore, utc_now
from kate.schema.text import cap_text

logger = logging.getLogger(__name__)
_MAX_BACKOFF_S = 300.0


@dataclass(slots=True)
class _Running:
    claim: Claim
    task: asyncio.Task[None]


class JobWorker:
    def __init__(self, store: JobStore, agents: HostedAgents, settings: JobsConfig, *,
                 spans: SpanForwarder, max_text_bytes: int) -> None:
        self._store = store
        self._agents = agents
        self._settings = settings
        self._spans = spans
        self._max_text_bytes = max_text_bytes
        self._owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._running: dict[str, _Running] = {}
        self._wake = asyncio.Event()
        self._loops: list[asyncio.Task[None]] = []

    def wake(self) -> None:
        """Look for due jobs now (enqueue calls this)."""
        self._wake.set()

    async def start(self) -> None:
        if not self._settings.worker_enabled or not self._agents:
            logger.info("job worker not started (jobs.worker_enabled false or no hosted_agents): enqueued jobs wait")
            return
        loop = asyncio.get_running_loop()
        self._loops = [loop.create_task(self._claim_loop()), loop.create_task(self._lease_loop())]
        logger.info("job worker %s started for %d hosted agents", self._owner, len(self._agents))

    async def stop(self) -> None:
        """No new claims; running agents get jobs.shutdown_grace_s, then are killed and their
        jobs released (queued again, the attempt not counted). Safe to call twice."""
        loops, self._loops = self._loops, []
        if not loops:
            return
        claim_loop, lease_loop = loops
        claim_loop.cancel()
        await asyncio.gather(claim_loop, return_exceptions=True)
        tasks = [entry.task for entry in self._running.values()]
        if tasks:  # leases are still renewed while they finish
            await asyncio.wait(tasks, timeout=self._settings.shutdown_grace_s)
        interrupted = [entry.claim for entry in self._running.values()]
        for task in (*tasks, lease_loop):
            task.cancel()
        await asyncio.gather(*tasks, lease_loop, return_exceptions=True)
        if interrupted:
            await self._release(interrupted)

    async def _release(self, claims: list[Claim]) -> None:
        try:
            await self._store.release(claims)
        except Exception:  # shutdown boundary: their leases expire instead, and they are claimed again
            logger.exception("could not release %d interrupted jobs", len(claims))
            return
        logger.info("released %d interrupted jobs; they run again at the next start", len(claims))

    async def _claim_loop(self) -> None:
        while True:
            try:
                await self._claim_due()
            except Exception:  # loop boundary: a failed claim is retried at the next tick
                logger.exception("job worker: claiming jobs failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._settings.poll_interval_ms / 1000)
            self._wake.clear()

    async def _claim_due(self) -> None:
        request = self._claim_request()
        if request is None:
            return
        claims = await self._store.claim(request)
        for claim in claims:
            task = asyncio.get_running_loop().create_task(self._execute(claim))
            self._running[claim.job_id] = _Running(claim, task)

    def _claim_request(self) -> ClaimRequest | None:
        total = self._settings.max_concurrency - len(self._running)
        busy: dict[str, int] = {}
        for entry in self._running.values():
            busy[entry.claim.agent_id] = busy.get(entry.claim.agent_id, 0) + 1
        free = {agent.agent_id: agent.max_concurrency - busy.get(agent.agent_id, 0) for agent in self._agents}
        free = {agent_id: slots for agent_id, slots in free.items() if slots > 0}
        if total <= 0 or not free:
            return None
        return ClaimRequest(
            free_by_agent=free,
            max_attempts_by_agent={agent.agent_id: agent.max_attempts for agent in self._agents},
            max_total=total,
            running_here=list(self._running),
            lease_until=utc_now() + dt.timedelta(seconds=self._settings.lease_s),
            owner=self._owner,
        )

    async def _execute(self, claim: Claim) -> None:
        agent = self._agents.get(claim.agent_id)
        spec = AttemptSpec(claim.agent_id, claim.run_id, claim.job_id, claim.attempt, agent.entrypoint,
                           claim.user_input, agent.memory_limit_mb)
        logger.info("job %s: attempt %d of %d of agent %s", claim.job_id, claim.attempt, agent.max_attempts, claim.agent_id)
        try:
            outcome = await run_attempt(spec, self._spans.forward, timeout_s=agent.timeout_s, python=self._settings.python)
            await self._settle(claim, outcome, agent.max_attempts)
        except Exception:  # job boundary: the lease expires and the job is claimed again
            logger.exception("job %s: attempt %d could not be settled", claim.job_id, claim.attempt)
        finally:
            self._running.pop(claim.job_id, None)
            self.wake()

    async def _settle(self, claim: Claim, outcome: AttemptOutcome, max_attempts: int) -> None:
        now = utc_now()
        if outcome.ok:
            output = cap_text(outcome.output, self._max_text_bytes)[0] if outcome.output is not None else None
            await self._store.finish(claim, output)  # the run completes, admitted for evaluation
            logger.info("job %s succeeded on attempt %d", claim.job_id, claim.attempt)
            return
        retry_at = self._retry_at(claim, outcome, max_attempts, now)
        error = cap_text(outcome.error or "the attempt failed", self._max_text_bytes)[0]
        detail = cap_text(outcome.detail, self._max_text_bytes)[0]
        await self._store.fail_attempt(claim, error, detail, retry_at)
        logger.warning("job %s: attempt %d failed (%s); %s", claim.job_id, claim.attempt, error,
                       f"retry at {retry_at:%H:%M:%S}" if retry_at else "no retry left")

    def _retry_at(self, claim: Claim, outcome: AttemptOutcome, max_attempts: int, now: dt.datetime) -> dt.datetime | None:
        if not outcome.retryable or claim.attempt >= max_attempts:
            return None
        delay_s = min(self._settings.retry_backoff_s * 2 ** (claim.attempt - 1), _MAX_BACKOFF_S)
        return now + dt.timedelta(seconds=delay_s)

    async def _lease_loop(self) -> None:
        while True:
            await asyncio.sleep(self._settings.lease_s / 3)
            try:
                await self._renew()
            except Exception:  # loop boundary: the next renewal may succeed before the lease ends
                logger.exception("job worker: renewing leases failed")

    async def _renew(self) -> None:
        claims = [entry.claim for entry in self._running.values()]
        if not claims:
            return
        lease_until = utc_now() + dt.timedelta(seconds=self._settings.lease_s)
        lost = await self._store.renew(claims, lease_until)
        for job_id in lost:  # claimed by another worker after our lease ran out: stop our copy
            entry = self._running.get(job_id)
            if entry is not None:
                logger.warning("job %s: lease lost; killing this worker's attempt", job_id)
                entry.task.cancel()


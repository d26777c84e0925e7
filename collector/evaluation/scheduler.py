"""Evaluation in the background: admission on completion, bounded concurrency, a clean stop.

Subscribed to the CompletionHub: admission is written in the transaction that completes the
run, and evaluating never blocks whoever completed it; no evaluator's failure or hang escapes
its own result. Owns the asyncio tasks only: the state (pending, cooldown clock, scores) lives
in the store, so evaluations admitted before a stop or crash are resumed: at start, and then
every evaluation.resume_interval_s, which takes over those of another collector that died.
An evaluation runs only under the store's claim on it, so it runs once however many
collectors find it pending (EvaluationStore.claim).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, TypeVar

from kate.collector.background import BackgroundTask
from kate.collector.completion import AfterCommit, CompletedRun
from kate.collector.errors import KateError, NotFound, Overloaded
from kate.collector.evaluation.checks import builtin_evaluators
from kate.collector.evaluation.evaluator import (
    EvaluationFailed,
    EvaluationSubject,
    EvaluatorResult,
    WeightedEvaluator,
    checked_score,
    load_evaluator,
    overall_score,
)
from kate.collector.evaluation.judge import LlmJudge
from kate.collector.evaluation.policy import CooldownPolicy
from kate.collector.evaluation.settings import EvaluationConfig
from kate.collector.store.interfaces import EvaluationStatus, EvaluationStore, Outcome, Ticket, WriteScope, utc_now

logger = logging.getLogger(__name__)
T = TypeVar("T")
_MAX_REASON_CHARS = 500
_WRITE_RETRIES_S = (0.2, 1.0, 3.0)  # a full write queue is retried; then the run stays pending


def build_evaluators(settings: EvaluationConfig) -> list[WeightedEvaluator]:
    """The enabled evaluators: built-ins, the LLM judge, then custom ones (imported now, so a
    broken import path stops the start-up with EvaluatorNotLoadable)."""
    evaluators = builtin_evaluators(settings.builtin)
    if settings.llm_judge.enabled:
        evaluators.append(WeightedEvaluator("llm_judge", LlmJudge(settings.llm_judge), settings.llm_judge.weight))
    for custom in settings.custom:
        evaluator = load_evaluator(custom.name, custom.factory, custom.options)
        evaluators.append(WeightedEvaluator(custom.name, evaluator, custom.weight))
    return evaluators


class EvaluationScheduler:
    def __init__(self, store: EvaluationStore, settings: EvaluationConfig, evaluators: Sequence[WeightedEvaluator]) -> None:
        self._store = store
        self._settings = settings
        self._evaluators = tuple(evaluators)
        self._policy = CooldownPolicy(settings.cooldown_s, dict(settings.cooldown_s_by_agent))
        self._slots = asyncio.Semaphore(settings.max_concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._in_flight: set[str] = set()  # evaluation ids this process is evaluating or about to
        self._resume = BackgroundTask(self._resume_pending)
        self._running = False

    async def start(self) -> None:
        """Accept work, and resume evaluations admitted before the last stop."""
        self._running = True
        if not self._evaluators:
            logger.warning("evaluation: no evaluator is enabled; every evaluation will fail")
        self._resume.start()

    async def stop(self) -> None:
        """Cancel running evaluations (they stay pending and resume at the next start); close
        evaluators' clients. Safe to call twice."""
        self._running = False
        await self._resume.stop()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for weighted in self._evaluators:
            close = getattr(weighted.evaluator, "aclose", None)
            if close is not None:
                await close()

    def in_transaction(self, scope: WriteScope, runs: Sequence[CompletedRun]) -> AfterCommit | None:
        """CompletionListener: admit the runs in the transaction that completes them (each says
        pending or skipped_cooldown when the completion is answered); once committed, evaluate
        the admitted ones in the background. Runs in the writer thread."""
        if not (self._running and self._settings.enabled):
            return None
        tickets = self._store.admit(scope, runs, self._policy)
        if not tickets:
            return None
        return lambda: self._begin_all(tickets)

    def _begin_all(self, tickets: Sequence[Ticket]) -> None:
        if not self._running:  # stopping: they stay pending in the store, resumed at the next start
            return
        for ticket in tickets:  # admitted on completion: after evaluation.delay_s
            self._spawn(self._evaluate(ticket, delay_s=self._settings.delay_s))

    async def force(self, agent_id: str, run_id: str) -> Ticket:
        """Admit an evaluation regardless of cooldown (NotFound, RunNotFinished); begin() starts it."""
        if not self._running:
            raise Overloaded("evaluation is not running (starting up or shutting down)")
        return await self._store.force(agent_id, run_id)

    def begin(self, ticket: Ticket) -> None:
        """Start an admitted evaluation in the background."""
        self._spawn(self._evaluate(ticket))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(_guarded(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _resume_pending(self) -> None:
        """Evaluate the pending evaluations nobody holds, now and every resume_interval_s; those
        admitted less than evaluation.delay_s ago are still waiting out the delay, wherever."""
        while True:
            try:
                admitted_before = utc_now() - dt.timedelta(seconds=self._settings.delay_s)
                for ticket in await self._store.pending(admitted_before):
                    if ticket.evaluation_id not in self._in_flight:
                        self._spawn(self._evaluate(ticket))
            except Exception as exc:  # loop boundary: the next look tries again
                logger.warning("evaluation: could not look for pending evaluations: %s", exc,
                               exc_info=not isinstance(exc, KateError))  # a store away, or a bug
            await asyncio.sleep(self._settings.resume_interval_s)

    async def _evaluate(self, ticket: Ticket, *, delay_s: float = 0.0) -> None:
        """Wait out the delay, then claim the ticket once a slot is free: a collector holds no
        more claims than it runs evaluations, so collectors share a backlog of pending ones."""
        if ticket.evaluation_id in self._in_flight:
            return
        self._in_flight.add(ticket.evaluation_id)
        try:
            if delay_s > 0:  # pending meanwhile; a stop cancels the wait and the next start resumes it
                await asyncio.sleep(delay_s)
            async with self._slots:
                if not await self._store.claim(ticket):  # recorded meanwhile, or another collector has it
                    return
                try:
                    await self._evaluate_claimed(ticket)
                finally:
                    await self._release(ticket)
        finally:
            self._in_flight.discard(ticket.evaluation_id)

    async def _release(self, ticket: Ticket) -> None:
        try:
            await self._store.release(ticket)
        except Exception as exc:  # the claim goes with the store's session anyway
            logger.warning("evaluation: could not release run %s: %s", ticket.run_id, exc)

    async def _evaluate_claimed(self, ticket: Ticket) -> None:
        try:
            subject = await self._store.subject(ticket.run_id, self._settings.max_spans)
        except NotFound:
            logger.warning("evaluation: run %s disappeared before it was evaluated", ticket.run_id)
            return
        results = await asyncio.gather(*(self._run_one(weighted, subject) for weighted in self._evaluators))
        outcome = _outcome(ticket, results)
        await _retrying(lambda: self._store.record(outcome))
        logger.info("run %s of agent %s evaluated: %s, overall %s", ticket.run_id, ticket.agent_id,
                    outcome.status.value, outcome.overall_score)

    async def _run_one(self, weighted: WeightedEvaluator, subject: EvaluationSubject) -> EvaluatorResult:
        timeout_s = self._settings.evaluator_timeout_s
        try:
            score = await asyncio.wait_for(weighted.evaluator.evaluate(subject), timeout_s)
            value = checked_score(score.score)
            return EvaluatorResult(weighted.name, weighted.weight, value, _clip(score.reason), dict(score.details))
        except EvaluationFailed as exc:
            reason = str(exc) or "the evaluator failed without a reason"
        except TimeoutError:
            reason = f"did not finish within {timeout_s:g} s"
        except Exception as exc:  # evaluator boundary: a bug in one evaluator fails only its own score
            logger.exception("evaluator %s failed on run %s", weighted.name, subject.run.run_id)
            reason = f"{type(exc).__name__}: {exc}"
        return EvaluatorResult(weighted.name, weighted.weight, None, _clip(reason))


def _outcome(ticket: Ticket, results: Sequence[EvaluatorResult]) -> Outcome:
    """done when at least one evaluator scored (overall over those that did), else failed."""
    scored = any(result.score is not None for result in results)
    status = EvaluationStatus.DONE if scored else EvaluationStatus.FAILED
    return Outcome(ticket, tuple(results), overall_score(results), status)


async def _guarded(work: Coroutine[Any, Any, None]) -> None:
    try:
        await work
    except Exception:  # task boundary: the run stays pending and is resumed at the next start
        logger.exception("evaluation task failed")


async def _retrying(write: Callable[[], Awaitable[T]]) -> T:
    for delay_s in _WRITE_RETRIES_S:
        try:
            return await write()
        except Overloaded:
            await asyncio.sleep(delay_s)
    return await write()


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_REASON_CHARS else text[: _MAX_REASON_CHARS - 1] + "…"

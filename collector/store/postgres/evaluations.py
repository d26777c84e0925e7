"""Evaluations on PostgreSQL: admission under each agent's cooldown, decided once across collectors.

The transaction that completes runs locks their agents' clock rows (evaluation_clock, FOR
UPDATE) before it reads them, so two collectors completing runs of one agent admit them one
after the other and never both within a cooldown. The rules are the DuckDB engine's
(store/duckdb/evaluations.py); only the locking differs.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence

from kate.collector.completion import CompletedRun
from kate.collector.errors import NotFound, RunNotFinished
from kate.collector.evaluation.evaluator import RunFacts
from kate.collector.evaluation.policy import CooldownPolicy
from kate.collector.store.ids import uuid7
from kate.collector.store.postgres.database import ControlTxn
from kate.collector.store.postgres.runs import run_status
from kate.collector.store.values import EvaluationStatus, Outcome, RunStatus, Ticket


def _lock_clocks(txn: ControlTxn, agent_ids: Sequence[str]) -> dict[str, dt.datetime | None]:
    txn.execute("INSERT INTO evaluation_clock (agent_id) SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING",
                [list(agent_ids)])
    rows = txn.execute("SELECT agent_id, last_requested_at FROM evaluation_clock WHERE agent_id = ANY(%s)"
                       " ORDER BY agent_id FOR UPDATE", [list(agent_ids)])
    return {agent_id: last for agent_id, last in rows}


def admit_evaluations(txn: ControlTxn, runs: Sequence[CompletedRun], policy: CooldownPolicy,
                      now: dt.datetime) -> list[Ticket]:
    """Just-completed runs, in the transaction that completed them: pending when the agent's
    cooldown allows (the first of an agent's runs completed together), else skipped_cooldown."""
    last = _lock_clocks(txn, sorted({run.agent_id for run in runs}))
    admitted, skipped = policy.admit(runs, last, now)
    if skipped:
        txn.execute("UPDATE runs SET evaluation_status = %s WHERE run_id = ANY(%s)",
                    [EvaluationStatus.SKIPPED_COOLDOWN.value, [run.run_id for run in skipped]])
    return _open_evaluations(txn, admitted, now)


def force_evaluation(txn: ControlTxn, agent_id: str, run_id: str, now: dt.datetime) -> Ticket:
    """POST .../evaluate: pending regardless of cooldown; NotFound, or RunNotFinished (409)."""
    status = run_status(txn, agent_id, run_id)
    if status not in (RunStatus.COMPLETED.value, RunStatus.FAILED.value):
        raise RunNotFinished(f"run {run_id} is {status}; only a completed or failed run can be evaluated")
    _lock_clocks(txn, [agent_id])
    (ticket,) = _open_evaluations(txn, [CompletedRun(agent_id, run_id)], now)
    return ticket


def _open_evaluations(txn: ControlTxn, runs: Sequence[CompletedRun], now: dt.datetime) -> list[Ticket]:
    if not runs:
        return []
    tickets = [Ticket(run.agent_id, run.run_id, uuid7()) for run in runs]
    txn.execute(
        "UPDATE runs SET evaluation_status = %s, evaluation_id = t.evaluation_id, evaluation_requested_at = %s,"
        " overall_score = NULL FROM unnest(%s::text[], %s::text[], %s::text[]) AS t (run_id, agent_id, evaluation_id)"
        " WHERE runs.run_id = t.run_id AND runs.agent_id = t.agent_id",
        [EvaluationStatus.PENDING.value, now, [t.run_id for t in tickets], [t.agent_id for t in tickets],
         [t.evaluation_id for t in tickets]],
    )
    txn.execute("UPDATE evaluation_clock SET last_requested_at = %s WHERE agent_id = ANY(%s)",
                [now, sorted({t.agent_id for t in tickets})])
    return tickets


def record_evaluation(txn: ControlTxn, outcome: Outcome, now: dt.datetime) -> bool:
    """Store every evaluator's row and the run's overall score, unless a newer evaluation of the
    run superseded this one, or another collector recorded it first (a pending evaluation is
    resumed by every collector that starts): then nothing, False. The run's row is locked."""
    ticket = outcome.ticket
    rows = txn.execute("SELECT evaluation_id, evaluation_status FROM runs WHERE run_id = %s FOR UPDATE", [ticket.run_id])
    if not rows or rows[0] != (ticket.evaluation_id, EvaluationStatus.PENDING.value):
        return False
    for result in outcome.results:
        txn.execute(
            "INSERT INTO evaluations (run_id, evaluator, score, details, created_at, evaluation_id, agent_id, weight,"
            " reason) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [ticket.run_id, result.evaluator, result.score, json.dumps(dict(result.details), default=str), now,
             ticket.evaluation_id, ticket.agent_id, result.weight, result.reason],
        )
    txn.execute("UPDATE runs SET overall_score = %s, evaluation_status = %s WHERE run_id = %s",
                [outcome.overall_score, outcome.status.value, ticket.run_id])
    return True


def is_pending(txn: ControlTxn, ticket: Ticket) -> bool:
    """Whether the ticket is still its run's evaluation, and not recorded yet."""
    rows = txn.execute("SELECT evaluation_id, evaluation_status FROM runs WHERE run_id = %s", [ticket.run_id])
    return bool(rows) and rows[0] == (ticket.evaluation_id, EvaluationStatus.PENDING.value)


def list_pending(txn: ControlTxn, admitted_before: dt.datetime) -> list[Ticket]:
    """Evaluations admitted before that time and not recorded yet, oldest first."""
    rows = txn.execute(
        "SELECT agent_id, run_id, evaluation_id FROM runs WHERE evaluation_status = %s AND evaluation_id IS NOT NULL"
        " AND evaluation_requested_at <= %s ORDER BY evaluation_requested_at",
        [EvaluationStatus.PENDING.value, admitted_before])
    return [Ticket(*row) for row in rows]


def run_facts(txn: ControlTxn, run_id: str) -> RunFacts:
    rows = txn.execute(
        "SELECT run_id, agent_id, status, source, trigger, user_input, output, error, created_at, started_at,"
        " completed_at FROM runs WHERE run_id = %s", [run_id])
    if not rows:
        raise NotFound(f"run {run_id} not found")
    return RunFacts(*rows[0])

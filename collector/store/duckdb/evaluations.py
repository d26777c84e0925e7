"""Evaluations in DuckDB: admission (cooldown → pending or skipped), results, and their reads.

Write ops run in the single writer, so checking an agent's cooldown clock and claiming it are
one atomic step. A run points at its latest evaluation (runs.evaluation_id); results of an
evaluation that a newer one superseded are dropped, never mixed. No HTTP, no evaluator code.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence

import duckdb
from kate.collector.completion import CompletedRun
from kate.collector.errors import NotFound, RunNotFinished
from kate.collector.evaluation.evaluator import EvaluationSubject, RunFacts, SpanFacts
from kate.collector.evaluation.policy import CooldownPolicy
from kate.collector.store.duckdb.runs import find_run_status
from kate.collector.store.duckdb.writer import WriteTxn
from kate.collector.store.ids import uuid7
from kate.collector.store.values import EvaluationStatus, Outcome, RunStatus, Ticket


class CooldownClocks:
    """The agents' cooldown clocks (evaluation_clock) as committed, cached for the writer thread:
    admission reads an agent's clock from the store once per process, not once per request.
    Used only by write ops (one thread); changes reach the cache only when their transaction
    commits."""

    def __init__(self) -> None:
        self._last: dict[str, dt.datetime | None] = {}  # None: the agent was never evaluated

    def read(self, txn: WriteTxn, agent_ids: Sequence[str]) -> dict[str, dt.datetime | None]:
        missing = [agent_id for agent_id in agent_ids if agent_id not in self._last]
        loaded: dict[str, dt.datetime | None] = dict.fromkeys(missing)
        if missing:
            rows = txn.execute(
                "SELECT agent_id, last_requested_at FROM evaluation_clock"
                " WHERE agent_id IN (SELECT unnest(?::VARCHAR[]))",
                [missing],
            )
            loaded.update(rows)
            txn.on_commit(lambda: self._remember(loaded, overwrite=False))
        return {agent_id: self._last[agent_id] if agent_id in self._last else loaded[agent_id] for agent_id in agent_ids}

    def moved(self, txn: WriteTxn, agent_ids: Sequence[str], when: dt.datetime) -> None:
        txn.on_commit(lambda: self._remember(dict.fromkeys(agent_ids, when), overwrite=True))

    def _remember(self, clocks: dict[str, dt.datetime | None], *, overwrite: bool) -> None:
        for agent_id, last in clocks.items():
            if overwrite or agent_id not in self._last:
                self._last[agent_id] = last


def admit_evaluations(txn: WriteTxn, runs: Sequence[CompletedRun], policy: CooldownPolicy,
                      now: dt.datetime, clocks: CooldownClocks) -> list[Ticket]:
    """Just-completed runs, in the transaction that completed them: each is pending (a Ticket)
    when its agent's cooldown allows, else it says skipped_cooldown. Runs of one agent completed
    together share its clock: with a cooldown, the first is admitted and the others are skipped.
    Skips do not move the clock. At most three statements per call, however many runs."""
    last = clocks.read(txn, sorted({run.agent_id for run in runs}))
    admitted, skipped = policy.admit(runs, last, now)
    if skipped:  # run ids are unique across agents, and these come from the completing transaction
        txn.execute(
            "UPDATE runs SET evaluation_status = ? WHERE run_id IN (SELECT unnest(?::VARCHAR[]))",
            [EvaluationStatus.SKIPPED_COOLDOWN.value, [run.run_id for run in skipped]],
        )
    return _open_evaluations(txn, admitted, now, clocks)


def force_evaluation(txn: WriteTxn, agent_id: str, run_id: str, now: dt.datetime, clocks: CooldownClocks) -> Ticket:
    """POST .../evaluate: pending regardless of cooldown; NotFound, or RunNotFinished (409)
    unless the run is completed or failed. It counts as the agent's latest evaluation."""
    status = find_run_status(txn, agent_id, run_id)
    if status is None:
        raise NotFound(f"run {run_id} of agent {agent_id} not found")
    if status not in (RunStatus.COMPLETED.value, RunStatus.FAILED.value):
        raise RunNotFinished(f"run {run_id} is {status}; only a completed or failed run can be evaluated")
    (ticket,) = _open_evaluations(txn, [CompletedRun(agent_id, run_id)], now, clocks)
    return ticket


def _open_evaluations(txn: WriteTxn, runs: Sequence[CompletedRun], now: dt.datetime,
                      clocks: CooldownClocks) -> list[Ticket]:
    """Mark runs pending under new evaluation ids, and move their agents' clocks to now."""
    if not runs:
        return []
    tickets = [Ticket(run.agent_id, run.run_id, uuid7()) for run in runs]
    txn.execute(
        "UPDATE runs SET evaluation_status = ?, evaluation_id = s.evaluation_id, evaluation_requested_at = ?,"
        " overall_score = NULL"
        " FROM (SELECT unnest(?::VARCHAR[]) AS run_id, unnest(?::VARCHAR[]) AS agent_id,"
        " unnest(?::VARCHAR[]) AS evaluation_id) AS s"
        " WHERE runs.run_id = s.run_id AND runs.agent_id = s.agent_id",
        [EvaluationStatus.PENDING.value, now, [t.run_id for t in tickets], [t.agent_id for t in tickets],
         [t.evaluation_id for t in tickets]],
    )
    agent_ids = sorted({t.agent_id for t in tickets})
    txn.execute(
        "INSERT INTO evaluation_clock SELECT unnest(?::VARCHAR[]), ?"
        " ON CONFLICT (agent_id) DO UPDATE SET last_requested_at = excluded.last_requested_at",
        [agent_ids, now],
    )
    clocks.moved(txn, agent_ids, now)
    return tickets


def record_evaluation(txn: WriteTxn, outcome: Outcome, now: dt.datetime) -> bool:
    """Store every evaluator's row and the run's overall score and status. False, writing
    nothing, when a newer evaluation of the run superseded this one."""
    ticket = outcome.ticket
    rows = txn.execute("SELECT evaluation_id FROM runs WHERE run_id = ?", [ticket.run_id])
    if not rows or rows[0][0] != ticket.evaluation_id:
        return False
    for result in outcome.results:
        txn.execute(
            "INSERT INTO evaluations (run_id, evaluator, score, details, created_at, evaluation_id, agent_id, weight, reason)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [ticket.run_id, result.evaluator, result.score, json.dumps(dict(result.details), default=str), now,
             ticket.evaluation_id, ticket.agent_id, result.weight, result.reason],
        )
    txn.execute(
        "UPDATE runs SET overall_score = ?, evaluation_status = ? WHERE run_id = ?",
        [outcome.overall_score, outcome.status.value, ticket.run_id],
    )
    return True


def is_pending(cursor: duckdb.DuckDBPyConnection, ticket: Ticket) -> bool:
    """Whether the ticket is still its run's evaluation, and not recorded yet."""
    rows = cursor.execute("SELECT evaluation_id, evaluation_status FROM runs WHERE run_id = ?", [ticket.run_id]).fetchall()
    return bool(rows) and rows[0] == (ticket.evaluation_id, EvaluationStatus.PENDING.value)


def list_pending(cursor: duckdb.DuckDBPyConnection, admitted_before: dt.datetime) -> list[Ticket]:
    """Evaluations admitted before that time and not recorded yet, oldest first."""
    rows = cursor.execute(
        "SELECT agent_id, run_id, evaluation_id FROM runs WHERE evaluation_status = ? AND evaluation_id IS NOT NULL"
        " AND evaluation_requested_at <= ? ORDER BY evaluation_requested_at",
        [EvaluationStatus.PENDING.value, admitted_before],
    ).fetchall()
    return [Ticket(*row) for row in rows]


_RUN_FACTS = (
    "SELECT run_id, agent_id, status, source, trigger, user_input, output, error, created_at, started_at,"
    " completed_at FROM runs WHERE run_id = ?"
)
_SPAN_FACTS = (
    "SELECT node_name, span_kind, status_code, status_message, parent_span_id, input_text, output_text, model,"
    " latency_ms, token_count, input_tokens, output_tokens, start_time_unix_nano, end_time_unix_nano"
    " FROM spans WHERE run_id = ? ORDER BY coalesce(start_time_unix_nano, 0), span_id LIMIT ?"
)


def load_subject(cursor: duckdb.DuckDBPyConnection, run_id: str, max_spans: int) -> EvaluationSubject:
    """The run and its first max_spans spans in start order; NotFound when the run is gone."""
    rows = cursor.execute(_RUN_FACTS, [run_id]).fetchall()
    if not rows:
        raise NotFound(f"run {run_id} not found")
    spans = cursor.execute(_SPAN_FACTS, [run_id, max_spans + 1]).fetchall()
    return EvaluationSubject(
        run=RunFacts(*rows[0]),
        spans=tuple(SpanFacts(*row) for row in spans[:max_spans]),
        spans_truncated=len(spans) > max_spans,
    )

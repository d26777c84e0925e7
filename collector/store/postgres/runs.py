"""Runs on PostgreSQL: the transitions of the scale-out engine, decided once across collectors.

Every transition is one guarded statement (`UPDATE ... WHERE status = 'running' RETURNING`), so
whichever collector receives a call, a run completes once. New OTLP runs are claimed under a
transaction-scoped advisory lock per run id, so two collectors given spans of one new run
agree on its owner. No HTTP here: errors are KateErrors.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from kate.collector.completion import CompletedRun
from kate.collector.errors import DuplicateRun, NotFound, RunNotRunning
from kate.collector.store.duckdb.pages import decode_cursor, encode_cursor
from kate.collector.store.duckdb.run_texts import RunTexts
from kate.collector.store.postgres.database import ControlTxn
from kate.collector.store.run_filters import run_filter_conditions
from kate.collector.store.run_ownership import Settled, settle_ownership
from kate.collector.store.span_batch import SpanBatch
from kate.collector.store.values import NewRun, Page, RunFilter, RunSource, RunStatus, RunTrigger, StoredRun, utc_now


def find_runs(txn: ControlTxn, run_ids: Sequence[str]) -> dict[str, StoredRun]:
    """The stored runs among run_ids, whichever agent they belong to (run ids are global)."""
    if not run_ids:
        return {}
    rows = txn.execute("SELECT run_id, agent_id, status, source FROM runs WHERE run_id = ANY(%s)", [list(run_ids)])
    return {row[0]: StoredRun(row[1], row[2], row[3]) for row in rows}


def _lock_runs(txn: ControlTxn, run_ids: Sequence[str]) -> None:
    """Serialise claims of these run ids across collectors until this transaction ends (sorted: no
    lock-order deadlock between two batches naming the same runs)."""
    if run_ids:
        txn.execute("SELECT pg_advisory_xact_lock(hashtextextended(id, 0)) FROM unnest(%s::text[]) AS id ORDER BY id",
                    [sorted(set(run_ids))])


def _find_locked(txn: ControlTxn, run_ids: Sequence[str]) -> dict[str, StoredRun]:
    _lock_runs(txn, run_ids)
    return find_runs(txn, run_ids)


def claim_otlp_runs(txn: ControlTxn, batch: SpanBatch) -> Settled:
    """Settle which spans may go to which run (run_ownership.py) and create the runs nobody
    stored yet (otlp, automatic, running), before any span is stored."""
    settled = settle_ownership(lambda run_ids: _find_locked(txn, run_ids), batch,
                               _find_locked(txn, batch.run_ids))
    agents = settled.batch.agent_by_run
    created = [run_id for run_id in settled.batch.run_ids if run_id not in settled.stored]
    if created:
        now = utc_now()
        txn.execute(
            "INSERT INTO runs (run_id, agent_id, status, trigger, source, created_at, started_at)"
            " SELECT run_id, agent_id, 'running', %s, %s, %s, %s"
            " FROM unnest(%s::text[], %s::text[]) AS t (run_id, agent_id) ON CONFLICT (run_id) DO NOTHING",
            [RunTrigger.AUTOMATIC.value, RunSource.OTLP.value, now, now, created, [agents[r] for r in created]],
        )
    return settled


def finish_otlp_runs(txn: ControlTxn, texts: Mapping[str, RunTexts], run_ids: Sequence[str]) -> list[CompletedRun]:
    """Complete the running otlp runs among run_ids (their first root span is stored), with their
    texts; the runs this call completed (none that another call completed first)."""
    if not run_ids:
        return []
    chosen = [texts.get(run_id, RunTexts(None, None)) for run_id in run_ids]
    rows = txn.execute(
        "UPDATE runs SET status = 'completed', completed_at = %s, user_input = t.user_input, output = t.output"
        " FROM unnest(%s::text[], %s::text[], %s::text[]) AS t (run_id, user_input, output)"
        " WHERE runs.run_id = t.run_id AND runs.status = 'running' AND runs.source = 'otlp'"
        " RETURNING runs.agent_id, runs.run_id",
        [utc_now(), list(run_ids), [item.user_input for item in chosen], [item.output for item in chosen]],
    )
    return sorted((CompletedRun(agent_id, run_id) for agent_id, run_id in rows), key=lambda run: run.run_id)


def update_texts(txn: ControlTxn, texts: Mapping[str, RunTexts]) -> None:
    """Set otlp runs' user_input and output (recomputed from all their stored roots)."""
    if texts:
        txn.execute(
            "UPDATE runs SET user_input = t.user_input, output = t.output"
            " FROM unnest(%s::text[], %s::text[], %s::text[]) AS t (run_id, user_input, output)"
            " WHERE runs.run_id = t.run_id AND runs.source = 'otlp'",
            [list(texts), [item.user_input for item in texts.values()], [item.output for item in texts.values()]],
        )


def adopt_session_ids(txn: ControlTxn, batch: SpanBatch) -> None:
    """A run without a session or user id takes the first of its spans' (as on DuckDB)."""
    stats = {run_id: item for run_id, item in batch.stats_by_run.items() if item.session_id or item.user_id}
    if stats:
        txn.execute(
            "UPDATE runs SET session_id = coalesce(runs.session_id, t.session_id), user_id = coalesce(runs.user_id, t.user_id)"
            " FROM unnest(%s::text[], %s::text[], %s::text[]) AS t (run_id, session_id, user_id)"
            " WHERE runs.run_id = t.run_id AND (runs.session_id IS NULL OR runs.user_id IS NULL)",
            [list(stats), [item.session_id for item in stats.values()], [item.user_id for item in stats.values()]],
        )


def insert_run(txn: ControlTxn, run: NewRun) -> None:
    """Create a run; DuplicateRun when the id exists (for any agent: run ids are global)."""
    now = utc_now()
    started_at = now if run.status is RunStatus.RUNNING else None
    rows = txn.execute(
        "INSERT INTO runs (run_id, agent_id, status, trigger, source, created_at, started_at, user_input, session_id,"
        " user_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (run_id) DO NOTHING RETURNING run_id",
        [run.run_id, run.agent_id, run.status.value, run.trigger.value, run.source.value, now, started_at,
         run.user_input, run.session_id, run.user_id],
    )
    if not rows:
        raise DuplicateRun(f"run {run.run_id} already exists")


def complete_run(txn: ControlTxn, agent_id: str, run_id: str) -> None:
    """running → completed; NotFound or RunNotRunning otherwise (decided by one guarded UPDATE)."""
    rows = txn.execute(
        "UPDATE runs SET status = 'completed', completed_at = %s WHERE run_id = %s AND agent_id = %s"
        " AND status = 'running' RETURNING run_id", [utc_now(), run_id, agent_id])
    if not rows:
        _explain(txn, agent_id, run_id, "running", "complete it")


def fail_run(txn: ControlTxn, agent_id: str, run_id: str, error: str | None) -> None:
    """queued or running → failed with the error text; NotFound or RunNotRunning otherwise."""
    rows = txn.execute(
        "UPDATE runs SET status = 'failed', completed_at = %s, error = %s WHERE run_id = %s AND agent_id = %s"
        " AND status IN ('queued', 'running') RETURNING run_id", [utc_now(), error, run_id, agent_id])
    if not rows:
        _explain(txn, agent_id, run_id, "queued or running", "fail it")


def check_running(txn: ControlTxn, agent_id: str, run_id: str) -> None:
    """NotFound unless this agent has the run, RunNotRunning unless it is running (before an upload)."""
    status = run_status(txn, agent_id, run_id)
    if status != RunStatus.RUNNING.value:
        raise RunNotRunning(f"run {run_id} is {status}, not running; cannot upload spans to it")


def _explain(txn: ControlTxn, agent_id: str, run_id: str, expected: str, doing: str) -> None:
    """Why a guarded transition changed nothing: NotFound, or the status it found."""
    raise RunNotRunning(f"run {run_id} is {run_status(txn, agent_id, run_id)}, not {expected}; cannot {doing}")


def run_status(txn: ControlTxn, agent_id: str, run_id: str) -> str:
    """The run's status; NotFound unless this agent has the run."""
    rows = txn.execute("SELECT status FROM runs WHERE run_id = %s AND agent_id = %s", [run_id, agent_id])
    if not rows:
        raise NotFound(f"run {run_id} of agent {agent_id} not found")
    return str(rows[0][0])


# ----- reads in the API's shape (span counters are added from ClickHouse by the store)

def api_runs(txn: ControlTxn, ids: Sequence[str]) -> list[dict[str, Any]]:
    """api_runs rows of these ids in their order, each with its latest evaluation's scores."""
    if not ids:
        return []
    by_id = {row["id"]: row for row in txn.dict_rows("SELECT * FROM api_runs WHERE id = ANY(%s)", [list(ids)])}
    scores = dict(txn.execute(_SCORES, [list(ids)]))
    rows = [by_id[run_id] for run_id in ids if run_id in by_id]
    for row in rows:
        row["scores"] = scores.get(row["id"], [])
    return rows


def run_keys(txn: ControlTxn, agent_id: str, filters: RunFilter, limit: int,
             after: str | None) -> tuple[list[str], str | None]:
    """A page of the agent's run ids, newest first, and the next cursor (as the DuckDB engine's)."""
    conditions, values = run_filter_conditions(filters, "%s")
    where, params = ["agent_id = %s", *conditions], [agent_id, *values]
    if after is not None:
        created_us, last_id = decode_cursor(after, (int, str))
        where.append(f"({_EPOCH_US} < %s OR ({_EPOCH_US} = %s AND run_id < %s))")
        params += [created_us, created_us, last_id]
    keys = txn.execute(f"SELECT run_id, {_EPOCH_US} FROM runs WHERE {' AND '.join(where)}"
                       " ORDER BY created_at DESC, run_id DESC LIMIT %s", [*params, limit + 1])
    next_cursor = encode_cursor((int(keys[limit - 1][1]), keys[limit - 1][0])) if len(keys) > limit else None
    return [run_id for run_id, _ in keys[:limit]], next_cursor


_EPOCH_US = "(extract(epoch FROM created_at) * 1000000)::bigint"




_SCORES = """
SELECT e.run_id,
       json_agg(json_build_object('evaluator', e.evaluator, 'score', e.score, 'weight', e.weight, 'reason', e.reason)
                ORDER BY e.evaluator)
FROM evaluations e JOIN runs r ON r.run_id = e.run_id AND e.evaluation_id = r.evaluation_id
WHERE e.run_id = ANY(%s)
GROUP BY e.run_id
"""


_AGENTS = """
WITH counted AS (
    SELECT agent_id, count(*) AS run_count,
           max(greatest(created_at, coalesce(started_at, created_at), coalesce(completed_at, created_at))) AS last_at
    FROM runs {scope} GROUP BY agent_id
), hosted AS (SELECT unnest(%s::text[]) AS agent_id)
SELECT coalesce(c.agent_id, h.agent_id) AS agent_id,
       coalesce(c.run_count, 0) AS run_count,
       api_time(c.last_at) AS last_activity_at,
       h.agent_id IS NOT NULL AS hosted
FROM counted c FULL OUTER JOIN hosted h ON c.agent_id = h.agent_id
WHERE coalesce(c.agent_id, h.agent_id) > %s
ORDER BY 1 LIMIT %s
"""


def list_agents(txn: ControlTxn, *, hosted: Collection[str], allowed: Collection[str] | None, limit: int,
                after: str | None) -> Page:
    """Agents in agent_id order (as store/duckdb/agents.py): with runs, or hosted."""
    scope, params = "", []
    if allowed is not None:
        scope = "WHERE agent_id = ANY(%s)"
        params.append(sorted(allowed))
        hosted = [agent for agent in hosted if agent in allowed]
    last_id = decode_cursor(after, (str,))[0] if after is not None else ""
    rows = txn.dict_rows(_AGENTS.format(scope=scope), [*params, sorted(hosted), last_id, limit + 1])
    for row in rows:
        row["run_count"] = int(row["run_count"])
    next_cursor = encode_cursor((rows[limit - 1]["agent_id"],)) if len(rows) > limit else None
    return Page(items=rows[:limit], next_cursor=next_cursor)


def session_page(txn: ControlTxn, agent_id: str, limit: int,
                 after: str | None) -> tuple[list[dict[str, Any]], dict[str, list[str]], str | None]:
    """A page of the agent's sessions by last activity, newest first (as store/duckdb/sessions.py),
    each session's run ids (for the span counters), and the next cursor."""
    where, params = ["agent_id = %s"], [agent_id]
    if after is not None:
        last_us, last_id = decode_cursor(after, (int, str))
        where.append("(last_time_us < %s OR (last_time_us = %s AND session_id < %s))")
        params += [last_us, last_us, last_id]
    rows = txn.dict_rows(
        f"SELECT * FROM session_runs_summary WHERE {' AND '.join(where)} ORDER BY last_time_us DESC, session_id DESC LIMIT %s",
        [*params, limit + 1])
    next_cursor = encode_cursor((rows[limit - 1]["last_time_us"], rows[limit - 1]["session_id"])) if len(rows) > limit else None
    rows = rows[:limit]
    run_ids: dict[str, list[str]] = {row["session_id"]: [] for row in rows}
    if rows:
        for session_id, run_id in txn.execute("SELECT session_id, run_id FROM runs WHERE agent_id = %s"
                                              " AND session_id = ANY(%s)", [agent_id, list(run_ids)]):
            run_ids[session_id].append(run_id)
    return rows, run_ids, next_cursor


def session_run_keys(txn: ControlTxn, agent_id: str, session_id: str, limit: int,
                     after: str | None) -> tuple[list[str], str | None]:
    """A page of the session's run ids, oldest first (by created_at, then id)."""
    where, params = ["agent_id = %s", "session_id = %s"], [agent_id, session_id]
    if after is not None:
        created_us, last_id = decode_cursor(after, (int, str))
        where.append(f"({_EPOCH_US} > %s OR ({_EPOCH_US} = %s AND run_id > %s))")
        params += [created_us, created_us, last_id]
    keys = txn.execute(f"SELECT run_id, {_EPOCH_US} FROM runs WHERE {' AND '.join(where)}"
                       " ORDER BY created_at, run_id LIMIT %s", [*params, limit + 1])
    next_cursor = encode_cursor((int(keys[limit - 1][1]), keys[limit - 1][0])) if len(keys) > limit else None
    return [run_id for run_id, _ in keys[:limit]], next_cursor

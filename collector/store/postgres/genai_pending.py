"""Spans that GenAI log records wait for, on PostgreSQL (the clickhouse engine's
genai_log_pending; clickhouse/genai_logs.py says when each function runs and why that order
lets no record be missed by two collectors at once)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kate.collector.store.genai_folding import SpanKey, Window, key_columns
from kate.collector.store.postgres.database import ControlTxn
from kate.collector.store.span_batch import SpanBatch


def wait_for_spans(txn: ControlTxn, times: Mapping[SpanKey, Window], max_age_s: float) -> None:
    """Mark these spans as awaited by records (widening a mark's time range), and let marks older
    than max_age_s go: their span never came."""
    keys = list(times)
    txn.execute(
        "INSERT INTO genai_log_pending (trace_id, span_id, agent_id, first_time, last_time, received_at)"
        " SELECT trace_id, span_id, agent_id, first_time, last_time, now()"
        " FROM unnest(%s::text[], %s::text[], %s::text[], %s::bigint[], %s::bigint[])"
        " AS t (trace_id, span_id, agent_id, first_time, last_time)"
        " ON CONFLICT (trace_id, span_id, agent_id) DO UPDATE SET"
        " first_time = least(genai_log_pending.first_time, excluded.first_time),"
        " last_time = greatest(genai_log_pending.last_time, excluded.last_time)",
        [*key_columns(keys), [times[key][0] for key in keys], [times[key][1] for key in keys]])
    txn.execute("DELETE FROM genai_log_pending WHERE received_at < now() - make_interval(secs => %s)", [max_age_s])


def awaited_among(txn: ControlTxn, batch: SpanBatch) -> dict[SpanKey, Window]:
    """The batch's spans that records wait for. Most collectors never receive a GenAI record:
    then the table is empty, and one cheap EXISTS answers without sending the batch's keys."""
    if not batch.count or not txn.execute("SELECT EXISTS (SELECT 1 FROM genai_log_pending)")[0][0]:
        return {}
    table = batch.table().select(["trace_id", "span_id", "agent_id"])
    rows = txn.execute(
        "SELECT p.trace_id, p.span_id, p.agent_id, p.first_time, p.last_time FROM genai_log_pending p"
        " JOIN unnest(%s::text[], %s::text[], %s::text[]) AS t (trace_id, span_id, agent_id)"
        " USING (trace_id, span_id, agent_id)",
        [column.to_pylist() for column in table.columns])
    return {SpanKey(*row[:3]): (row[3], row[4]) for row in rows}


def stop_waiting(txn: ControlTxn, keys: Sequence[SpanKey]) -> None:
    """These spans are stored and their records folded in."""
    if keys:
        txn.execute(
            "DELETE FROM genai_log_pending WHERE (trace_id, span_id, agent_id) IN"
            " (SELECT * FROM unnest(%s::text[], %s::text[], %s::text[]))", key_columns(keys))


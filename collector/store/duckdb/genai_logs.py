"""GenAI log records in DuckDB, and their content folded into the spans they name
(docs/mapping.md#genai-content-in-log-records).

A record and its span may arrive in either order, in different requests or transports: the
records are stored as they come, and a span's input_text/output_text are (re)rendered from all
of its records whenever either side arrives, so the result does not depend on the order. A
span's own text wins: log content fills only the texts the span did not carry. Both sides run
once the group's spans are inserted (WriteTxn.after_spans_inserted), in the same transaction
as the write that brought them: the answer still comes after commit.

DuckDB scans a whole table for a (trace_id, span_id) look-up (span_reads.py), so look-ups are
bounded by time, which zone maps turn into a scan of the few row groups of that hour: a
record's time lies within [span start - FOLD_EARLY_NS, span start + FOLD_LATE_NS].
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from kate.collector import metrics
from kate.collector.ingest.decode_logs import GenAiLogRecord
from kate.collector.store.duckdb.run_texts import RootChange, RootSpan, apply_root_changes
from kate.collector.store.duckdb.writer import WriteTxn
from kate.collector.store.genai_folding import (
    FOLD_EARLY_NS,
    FOLD_LATE_NS,
    FoldSettings,
    SpanKey,
    is_own_text,
    key_columns,
    record_times,
    stored_event,
)
from kate.collector.store.span_batch import SpanBatch
from kate.collector.store.values import StoredLogs
from kate.schema.mapping import EventContent, map_event_content
from kate.schema.record import SpanEvent

_COLUMNS = ", ".join(GenAiLogRecord._fields)
_INSERT = (
    f"INSERT OR IGNORE INTO genai_log_records ({_COLUMNS}, received_at) SELECT {_COLUMNS}, ?::TIMESTAMP FROM"
    " (SELECT unnest(?::VARCHAR[]) AS record_key, unnest(?::VARCHAR[]) AS trace_id, unnest(?::VARCHAR[]) AS span_id,"
    " unnest(?::VARCHAR[]) AS agent_id, unnest(?::VARCHAR[]) AS event_name, unnest(?::BIGINT[]) AS time_unix_nano,"
    " unnest(?::INTEGER[]) AS request_index, unnest(?::VARCHAR[]) AS severity_text, unnest(?::JSON[]) AS body,"
    " unnest(?::JSON[]) AS attributes, unnest(?::JSON[]) AS resource, unnest(?::VARCHAR[]) AS scope_name)"
)
_KEYS = ("(SELECT unnest(?::VARCHAR[]) AS trace_id, unnest(?::VARCHAR[]) AS span_id,"
         " unnest(?::VARCHAR[]) AS agent_id) AS k")


class LogFolding:
    """Whether span writes must look for records that wait for their span. Touched only in
    the writer thread (write ops and their commit steps). Unknown, so True, until a span write
    has looked: most collectors never receive a GenAI record, and then never look again."""

    def __init__(self, settings: FoldSettings) -> None:
        self.settings = settings
        self.maybe_pending = True

    def mark(self, pending: bool) -> None:
        self.maybe_pending = pending


def store_log_records(txn: WriteTxn, records: Sequence[GenAiLogRecord], folding: LogFolding,
                      received_at: dt.datetime) -> StoredLogs:
    """Store the records; once the group's spans are in, fold them into the spans already
    stored and leave the others pending."""
    if not records:
        return StoredLogs(0)
    columns = list(zip(*records, strict=True))
    stored = _count(txn, _INSERT, [received_at, *(list(column) for column in columns)])  # OR IGNORE: new ones
    txn.after_spans_inserted(lambda: _fold_from_records(txn, records, folding, received_at))
    return StoredLogs(stored)


def fold_into_new_spans(txn: WriteTxn, batch: SpanBatch, folding: LogFolding) -> None:
    """For a span write: once its spans are in, fold the records that waited for them."""
    if folding.maybe_pending and batch.count:
        txn.after_spans_inserted(lambda: _fold_pending(txn, batch, folding))


def _fold_from_records(txn: WriteTxn, records: Sequence[GenAiLogRecord], folding: LogFolding,
                       received_at: dt.datetime) -> None:
    times = record_times(records)
    keys = list(times)
    lowest = min(first for first, _ in times.values())
    highest = max(last for _, last in times.values())
    spans = _stored_spans(txn, keys, lowest - FOLD_LATE_NS, highest + FOLD_EARLY_NS)
    _refold(txn, spans, folding.settings.max_text_bytes, new_records={r.record_key for r in records})
    waiting = [key for key in keys if key not in spans]
    if waiting:
        txn.execute(
            "INSERT INTO genai_log_pending SELECT trace_id, span_id, agent_id, first_time, last_time, ?::TIMESTAMP FROM"
            " (SELECT unnest(?::VARCHAR[]) AS trace_id, unnest(?::VARCHAR[]) AS span_id, unnest(?::VARCHAR[]) AS agent_id,"
            " unnest(?::BIGINT[]) AS first_time, unnest(?::BIGINT[]) AS last_time)"
            " ON CONFLICT DO UPDATE SET first_time = least(genai_log_pending.first_time, excluded.first_time),"
            " last_time = greatest(genai_log_pending.last_time, excluded.last_time)",
            [received_at, *key_columns(waiting),
             [times[k][0] for k in waiting], [times[k][1] for k in waiting]],
        )
        txn.on_commit(lambda: folding.mark(True))
    cutoff = received_at - dt.timedelta(seconds=folding.settings.pending_max_age_s)
    txn.execute("DELETE FROM genai_log_pending WHERE received_at < ?", [cutoff])


def _fold_pending(txn: WriteTxn, batch: SpanBatch, folding: LogFolding) -> None:
    table = batch.table().select(["trace_id", "span_id", "agent_id"])
    rows = txn.execute(
        f"SELECT p.trace_id, p.span_id, p.agent_id, p.first_time, p.last_time FROM genai_log_pending p JOIN {_KEYS}"
        " USING (trace_id, span_id, agent_id)",
        [column.to_pylist() for column in table.columns],
    )
    if rows:
        keys = [SpanKey(*row[:3]) for row in rows]
        spans = _stored_spans(txn, keys, min(row[3] for row in rows) - FOLD_LATE_NS,
                              max(row[4] for row in rows) + FOLD_EARLY_NS)
        _refold(txn, spans, folding.settings.max_text_bytes, new_records=None)
        found = list(spans)
        txn.execute(f"DELETE FROM genai_log_pending WHERE (trace_id, span_id, agent_id) IN (SELECT * FROM {_KEYS})",
                    key_columns(found))
    if not _count(txn, "SELECT count(*) FROM genai_log_pending"):
        txn.on_commit(lambda: folding.mark(False))


class _StoredSpan(NamedTuple):
    rowid: int
    run_id: str
    is_root: bool
    input_text: str | None
    output_text: str | None
    truncated: bool
    start_time_unix_nano: int
    end_time_unix_nano: int | None


def _stored_spans(txn: WriteTxn, keys: Sequence[SpanKey], start_from: int, start_to: int) -> dict[SpanKey, _StoredSpan]:
    """The stored spans of these keys that started within [start_from, start_to]."""
    rows = txn.execute(
        "SELECT s.trace_id, s.span_id, s.agent_id, s.rowid, s.run_id, s.parent_span_id IS NULL, s.input_text,"
        f" s.output_text, s.truncated, s.start_time_unix_nano, s.end_time_unix_nano FROM spans s JOIN {_KEYS}"
        " USING (trace_id, span_id, agent_id) WHERE s.start_time_unix_nano BETWEEN ? AND ?",
        [*key_columns(keys), start_from, start_to],
    )
    return {SpanKey(*row[:3]): _StoredSpan(*row[3:]) for row in rows}


def _refold(txn: WriteTxn, spans: dict[SpanKey, _StoredSpan], max_text_bytes: int,
            new_records: set[str] | None) -> None:
    """Render each span's texts from all its records. new_records: the keys of the records
    this write added (their content is new, the rest was folded before); None when the spans
    are new (nothing was folded into them yet)."""
    if not spans:
        return
    keys = list(spans)
    starts = [span.start_time_unix_nano for span in spans.values()]
    rows = txn.execute(
        "SELECT r.trace_id, r.span_id, r.agent_id, r.record_key, r.event_name, r.time_unix_nano, r.attributes, r.body"
        f" FROM genai_log_records r JOIN {_KEYS} USING (trace_id, span_id, agent_id)"
        " WHERE r.time_unix_nano BETWEEN ? AND ? ORDER BY r.time_unix_nano, r.received_at, r.request_index",
        [*key_columns(keys),
         min(starts) - FOLD_EARLY_NS, max(starts) + FOLD_LATE_NS],
    )
    events: dict[SpanKey, list[tuple[str, SpanEvent]]] = {}
    for trace_id, span_id, agent_id, record_key, name, time_unix_nano, attributes, body in rows:
        event = stored_event(name, time_unix_nano, attributes, body)
        events.setdefault(SpanKey(trace_id, span_id, agent_id), []).append((record_key, event))
    folded = {key: update for key, span in spans.items()
              if (update := _folded(span, events.get(key, []), max_text_bytes, new_records)) is not None}
    if not folded:
        return
    rowids, inputs, outputs, truncated = (list(column) for column in zip(*folded.values(), strict=True))
    txn.execute(
        "UPDATE spans SET input_text = t.input_text, output_text = t.output_text, truncated = t.truncated"
        " FROM (SELECT unnest(?::BIGINT[]) AS rid, unnest(?::VARCHAR[]) AS input_text,"
        " unnest(?::VARCHAR[]) AS output_text, unnest(?::BOOLEAN[]) AS truncated) AS t WHERE spans.rowid = t.rid",
        [rowids, inputs, outputs, truncated],
    )
    metrics.GENAI_LOG_FOLDS.inc(len(folded))
    # A root span's texts are its run's user_input and output.
    apply_root_changes(txn, [RootChange(_root(key, spans[key]), update[1], update[2])
                             for key, update in folded.items() if spans[key].is_root])


def _root(key: SpanKey, span: _StoredSpan) -> RootSpan:
    return RootSpan(span.run_id, key.trace_id, key.span_id, span.input_text, span.output_text,
                    span.start_time_unix_nano, span.end_time_unix_nano)


def _folded(span: _StoredSpan, events: Sequence[tuple[str, SpanEvent]], max_text_bytes: int,
            new_records: set[str] | None) -> tuple[int, str | None, str | None, bool] | None:
    """The span's (rowid, input_text, output_text, truncated) with its records folded in, or
    None when nothing changes. A text the span carried itself is kept: it is one that differs
    from what the earlier records rendered."""
    if not events:
        return None
    content = map_event_content([event for _, event in events], max_text_bytes=max_text_bytes)
    earlier = EventContent(None, None, False) if new_records is None else map_event_content(
        [event for key, event in events if key not in new_records], max_text_bytes=max_text_bytes)
    input_text = span.input_text if _own(span.input_text, earlier.input_text) else content.input_text
    output_text = span.output_text if _own(span.output_text, earlier.output_text) else content.output_text
    if (input_text, output_text) == (span.input_text, span.output_text):
        return None
    return span.rowid, input_text, output_text, span.truncated or content.truncated


def _own(text: str | None, folded_before: str | None) -> bool:
    return is_own_text(text) and text != folded_before


def _count(txn: WriteTxn, sql: str, params: Sequence[object] | None = None) -> int:
    return int(txn.execute(sql, params)[0][0])


def delete_records_of_spans(txn: WriteTxn, span_filter: str, params: Iterable[object]) -> int:
    """Delete the records of the spans that `SELECT trace_id, span_id FROM spans WHERE
    {span_filter}` returns (retention, before it deletes those spans)."""
    rows = txn.execute(
        "DELETE FROM genai_log_records WHERE (trace_id, span_id) IN"
        f" (SELECT trace_id, span_id FROM spans WHERE {span_filter})", list(params))
    return int(rows[0][0]) if rows else 0
